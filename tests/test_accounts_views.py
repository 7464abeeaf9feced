"""The sign-in page against a real Dovecot: success, wrong password, server down, lock-out, CSRF, sign-out."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from axes.models import AccessAttempt
from captcha.conf import settings as captcha_settings
from captcha.models import CaptchaStore
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from tests.dovecot_server import ALICE, BOB, DovecotServer, free_port, running_dovecot
from tests.test_accounts_backend import TEST_SERVER, USERS, server_at
from webui.accounts.config import MailDomain

pytestmark = [pytest.mark.django_db, pytest.mark.dovecot]

WRONG = "The account or password is not correct."
WRONG_ZH = "帳號或密碼不正確。"
UNAVAILABLE_ZH = "郵件伺服器目前無法檢查密碼，請稍後再試。"
LOCKED_ZH = "登入失敗次數過多，請稍候再試。"


@pytest.fixture(scope="module")
def mail() -> Iterator[DovecotServer]:
    with running_dovecot(USERS, TEST_SERVER) as server:
        yield server


@pytest.fixture(autouse=True)
def site(settings, mail: DovecotServer, monkeypatch) -> None:
    settings.SECURE_SSL_REDIRECT = False  # the test client speaks plain HTTP
    settings.MAILTRAIL_MAIL_DOMAINS = {
        "example.edu": MailDomain("example.edu", server_at(mail.host, mail.imap_port), "full"),
    }
    # django-simple-captcha reads its own settings module: "passed" answers every challenge
    monkeypatch.setattr(captcha_settings, "CAPTCHA_TEST_MODE", True)


def form(account: str = "alice", password: str | None = None, **extra: str) -> dict[str, str]:
    data = {
        "account": account,
        "domain": "example.edu",
        "password": USERS.get(f"{account}@example.edu", "x") if password is None else password,
        "captcha_0": "any",
        "captcha_1": "PASSED",
    }
    return data | extra


def admin_form(username: str, password: str, **extra: str) -> dict[str, str]:
    """The admin's sign-in form, its captcha answered as the test mode accepts."""
    data = {
        "username": username,
        "password": password,
        "next": "/admin/",
        "captcha_0": "any",
        "captcha_1": "PASSED",
    }
    return data | extra


def errors(response) -> str:
    """The words of the page's error box."""
    match = re.search(r'class="form-errors"[^>]*>(.*?)</(?:div|p)>', response.content.decode(), re.S)
    return re.sub(r"<[^>]+>", "", match.group(1)).strip() if match else ""


def signed_in_as(client: Client) -> str | None:
    session = client.session
    if "_auth_user_id" not in session:
        return None
    return User.objects.get(pk=session["_auth_user_id"]).username


def test_it_shows_the_sign_in_page_in_traditional_chinese_by_default(client: Client) -> None:
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    page = response.content.decode()
    assert '<html lang="zh-hant">' in page
    assert "登入" in page
    assert 'name="captcha_1"' in page
    assert "@example.edu" in page


def test_it_offers_a_select_list_when_there_are_several_domains(client: Client, settings, mail) -> None:
    server = server_at(mail.host, mail.imap_port)
    settings.MAILTRAIL_MAIL_DOMAINS = {
        d: MailDomain(d, server, "full")
        for d in ("students.example.edu", "staff.example.edu", "alumni.example.edu")
    }
    page = client.get("/accounts/login/").content.decode()
    assert '<select name="domain"' in page
    assert (
        page.index("students.example.edu")
        < page.index("staff.example.edu")
        < page.index("alumni.example.edu")
    )


def test_it_signs_alice_in_and_sends_her_to_the_day_view(client: Client) -> None:
    response = client.post("/accounts/login/", form("alice"))
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert signed_in_as(client) == ALICE


def test_it_takes_the_whole_address_typed_into_the_account_box(client: Client, settings, mail) -> None:
    server = server_at(mail.host, mail.imap_port)
    settings.MAILTRAIL_MAIL_DOMAINS = {
        d: MailDomain(d, server, "full") for d in ("staff.example.edu", "example.edu")
    }
    # the select still says staff.example.edu: the typed address wins
    response = client.post(
        "/accounts/login/", form("Alice@Example.edu", USERS[ALICE], domain="staff.example.edu")
    )
    assert response.status_code == 302
    assert signed_in_as(client) == ALICE


def test_it_refuses_an_address_of_a_domain_it_does_not_serve(client: Client, mail) -> None:
    mark = mail.mark()
    response = client.post("/accounts/login/", form("alice@elsewhere.org", USERS[ALICE]))
    assert response.status_code == 200
    assert "請輸入帳號名稱" in response.content.decode()
    assert signed_in_as(client) is None
    assert b"elsewhere" not in mail.read_log(mark)


def test_it_says_the_same_for_a_wrong_password_and_an_unknown_account(client: Client) -> None:
    wrong = client.post("/accounts/login/", form("alice", "not-her-password"))
    unknown = client.post("/accounts/login/", form("nobody", "not-her-password"))
    assert wrong.status_code == unknown.status_code == 200
    assert errors(wrong) == errors(unknown) == WRONG_ZH
    assert signed_in_as(client) is None


def test_it_tells_the_owner_when_the_mail_server_is_down(client: Client, settings, caplog) -> None:
    down = server_at("127.0.0.1", free_port())
    settings.MAILTRAIL_MAIL_DOMAINS = {"example.edu": MailDomain("example.edu", down, "full")}
    response = client.post("/accounts/login/", form("alice"))
    assert response.status_code == 503
    assert errors(response) == UNAVAILABLE_ZH
    assert WRONG_ZH not in response.content.decode()
    assert "mail server of example.edu cannot check passwords" in caplog.text  # for the operator


def test_it_never_asks_the_mail_server_when_the_captcha_is_wrong(client: Client, mail, monkeypatch) -> None:
    monkeypatch.setattr(captcha_settings, "CAPTCHA_TEST_MODE", False)
    mark = mail.mark()
    response = client.post("/accounts/login/", form("alice", captcha_1="WRONG"))
    assert response.status_code == 200
    assert signed_in_as(client) is None
    assert f"user=<{ALICE}>".encode() not in mail.read_log(mark)


def test_it_signs_in_with_the_real_captcha_answer(client: Client, monkeypatch) -> None:
    monkeypatch.setattr(captcha_settings, "CAPTCHA_TEST_MODE", False)
    page = client.get("/accounts/login/").content.decode()
    key = re.search(r'name="captcha_0" value="([0-9a-f]+)"', page).group(1)
    answer = CaptchaStore.objects.get(hashkey=key).response
    response = client.post("/accounts/login/", form("alice", captcha_0=key, captcha_1=answer))
    assert response.status_code == 302
    assert signed_in_as(client) == ALICE


def test_it_refreshes_the_captcha_from_its_script_without_reloading(client: Client) -> None:
    response = client.get("/captcha/refresh/", headers={"X-Requested-With": "XMLHttpRequest"})
    data = response.json()
    assert CaptchaStore.objects.filter(hashkey=data["key"]).exists()
    image = client.get(data["image_url"])
    assert image.status_code == 200 and image["Content-Type"] == "image/png"


def test_it_locks_out_after_repeated_failures_with_a_generic_message(client: Client, settings, mail) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(2):
        assert errors(client.post("/accounts/login/", form("bob", "guess"))) == WRONG_ZH
    third = client.post("/accounts/login/", form("bob", "guess"))
    assert third.status_code == 429
    assert errors(third) == LOCKED_ZH
    # now even the right password is refused, and the mail server is not even asked
    mark = mail.mark()
    right = client.post("/accounts/login/", form("bob"))
    assert right.status_code == 429
    assert errors(right) == LOCKED_ZH
    assert signed_in_as(client) is None
    assert f"user=<{BOB}>".encode() not in mail.read_log(mark)


def test_it_locks_out_an_unknown_account_exactly_like_a_real_one(client: Client, settings) -> None:
    settings.AXES_FAILURE_LIMIT = 2
    real = [client.post("/accounts/login/", form("bob", "guess")) for _ in range(3)]
    unknown = [client.post("/accounts/login/", form("nobody", "guess")) for _ in range(3)]
    assert [r.status_code for r in real] == [r.status_code for r in unknown] == [200, 429, 429]
    assert [errors(r) for r in real] == [errors(r) for r in unknown]


def test_it_locks_out_an_account_only_from_the_guessing_address(settings) -> None:
    settings.AXES_FAILURE_LIMIT = 2
    guesser = Client(REMOTE_ADDR="198.51.100.66")
    for _ in range(2):
        guesser.post("/accounts/login/", form("alice", "guess"))
    assert guesser.post("/accounts/login/", form("alice")).status_code == 429
    alice = Client(REMOTE_ADDR="192.0.2.10")
    assert alice.post("/accounts/login/", form("alice")).status_code == 302
    assert guesser.post("/accounts/login/", form("bob")).status_code == 302


def test_it_refuses_a_sign_in_without_a_csrf_token() -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", form("alice"))
    assert response.status_code == 403
    assert signed_in_as(client) is None


def test_it_signs_in_with_the_csrf_token_of_the_page() -> None:
    client = Client(enforce_csrf_checks=True)
    page = client.get("/accounts/login/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    response = client.post("/accounts/login/", form("alice", csrfmiddlewaretoken=token))
    assert response.status_code == 302
    assert signed_in_as(client) == ALICE


def test_it_signs_out_only_by_post(client: Client) -> None:
    client.post("/accounts/login/", form("alice"))
    assert client.get("/accounts/logout/").status_code == 405
    assert signed_in_as(client) == ALICE
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    assert signed_in_as(client) is None


def test_it_ends_a_session_after_the_configured_idle_time(client: Client, settings) -> None:
    assert settings.SESSION_SAVE_EVERY_REQUEST is True
    client.post("/accounts/login/", form("alice"))
    session = client.session
    assert session.get_expiry_age() == settings.SESSION_COOKIE_AGE
    # idle past the limit: the stored session has expired and the page sees a stranger
    Session.objects.filter(session_key=session.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    assert 'name="password"' in page.content.decode()


def test_it_moves_the_idle_deadline_on_with_every_request(client: Client) -> None:
    client.post("/accounts/login/", form("alice"))
    key = client.session.session_key
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() + timedelta(seconds=30))
    client.get("/accounts/login/?next=/")
    assert Session.objects.get(session_key=key).expire_date > timezone.now() + timedelta(minutes=5)


def test_it_switches_to_english_from_the_form(client: Client) -> None:
    response = client.post("/accounts/login/", form("alice", "wrong", language="en"))
    assert errors(response) == WRONG
    assert '<html lang="en">' in response.content.decode()
    assert response.cookies["django_language"].value == "en"
    # and the choice sticks
    assert '<html lang="en">' in client.get("/accounts/login/").content.decode()


def test_it_switches_language_from_the_script_link(client: Client) -> None:
    response = client.get("/accounts/login/?language=en")
    assert '<html lang="en">' in response.content.decode()
    assert response.cookies["django_language"].value == "en"
    assert "Sign in" in response.content.decode()


def test_it_ignores_an_unknown_language(client: Client) -> None:
    response = client.get("/accounts/login/?language=xx")
    assert '<html lang="zh-hant">' in response.content.decode()
    assert "django_language" not in response.cookies


def test_it_never_redirects_to_another_site(client: Client) -> None:
    response = client.post("/accounts/login/", form("alice", next="https://evil.example/"))
    assert response["Location"] == "/"
    client.post("/accounts/logout/")
    response = client.post("/accounts/login/", form("alice", next="/search/?q=1"))
    assert response["Location"] == "/search/?q=1"


class _Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inline: list[str] = []
        self.sources: list[str] = []
        self.style_attributes = 0
        self.handlers: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        self.style_attributes += "style" in names
        self.handlers += [n for n in names if n.startswith("on")]
        if tag == "script":
            self._in_script = "src" not in names
            if "src" in names:
                self.sources.append(names["src"] or "")

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False


def test_it_serves_the_page_with_a_csp_and_no_inline_script(client: Client) -> None:
    response = client.get("/accounts/login/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    parser = _Scripts()
    parser.feed(response.content.decode())
    assert parser.inline == [] and parser.handlers == [] and parser.style_attributes == 0
    assert parser.sources == ["/static/accounts/signin.js"]


def test_it_never_caches_the_sign_in_page(client: Client) -> None:
    assert "no-store" in client.get("/accounts/login/")["Cache-Control"]


def test_it_never_logs_or_keeps_the_password_on_its_way_through(client: Client, caplog) -> None:
    caplog.set_level("DEBUG")
    client.post("/accounts/login/", form("alice", "wrong-but-secret-Zq8"))
    # django-axes keeps the POST data of a failed attempt: the password is masked there
    (attempt,) = AccessAttempt.objects.all()
    assert attempt.username == "alice@example.edu"
    assert "wrong-but-secret-Zq8" not in attempt.post_data + attempt.get_data
    client.post("/accounts/login/", form("alice"))
    assert caplog.records
    assert "wrong-but-secret-Zq8" not in caplog.text
    assert USERS[ALICE] not in caplog.text


def test_staff_sign_in_at_the_admin_with_a_local_password_never_asked_of_the_mail_server(
    client: Client, mail: DovecotServer
) -> None:
    User.objects.create_user("carol", password="carol-staff-password", is_staff=True, is_superuser=True)
    mark = mail.mark()
    wrong = client.post("/admin/login/", admin_form("carol", "guess"))
    assert wrong.status_code == 200 and signed_in_as(client) is None
    right = client.post("/admin/login/", admin_form("carol", "carol-staff-password"))
    assert right.status_code == 302 and signed_in_as(client) == "carol"
    assert b"carol" not in mail.read_log(mark)


def test_a_lock_out_ends_after_the_cool_off(client: Client, settings) -> None:
    settings.AXES_FAILURE_LIMIT = 1
    settings.AXES_COOLOFF_TIME = timedelta(seconds=1)
    assert client.post("/accounts/login/", form("alice", "guess")).status_code == 429
    assert client.post("/accounts/login/", form("alice")).status_code == 429
    time.sleep(1.2)
    assert client.post("/accounts/login/", form("alice")).status_code == 302


def test_behind_a_proxy_it_counts_the_address_the_proxy_saw(settings) -> None:
    settings.AXES_FAILURE_LIMIT = 2
    settings.MAILTRAIL_PROXY_COUNT = 1
    proxy = "10.0.0.2"
    # the guesser forges a left-hand entry; the proxy appends the address it really saw
    guesser = Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="192.0.2.10, 198.51.100.66")
    for _ in range(2):
        guesser.post("/accounts/login/", form("alice", "guess"))
    assert guesser.post("/accounts/login/", form("alice")).status_code == 429
    (attempt,) = AccessAttempt.objects.all()
    assert attempt.ip_address == "198.51.100.66"
    alice = Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="192.0.2.10")
    assert alice.post("/accounts/login/", form("alice")).status_code == 302


def test_failed_sign_ins_lock_the_account_while_the_mail_server_is_unreachable(
    client: Client, settings, mail
) -> None:
    settings.AXES_FAILURE_LIMIT = 5
    down = server_at("127.0.0.1", free_port())
    settings.MAILTRAIL_MAIL_DOMAINS = {"example.edu": MailDomain("example.edu", down, "full")}
    statuses = [client.post("/accounts/login/", form("bob", "guess")).status_code for _ in range(8)]
    assert statuses == [503] * 4 + [429] * 4
    assert AccessAttempt.objects.get().failures_since_start == 8  # every try counted
    # the mail server is back: the right password is refused, and the server not even asked
    settings.MAILTRAIL_MAIL_DOMAINS = {
        "example.edu": MailDomain("example.edu", server_at(mail.host, mail.imap_port), "full"),
    }
    mark = mail.mark()
    right = client.post("/accounts/login/", form("bob"))
    assert right.status_code == 429 and errors(right) == LOCKED_ZH
    assert signed_in_as(client) is None
    assert f"user=<{BOB}>".encode() not in mail.read_log(mark)


def test_the_admin_sign_in_and_the_owners_form_share_one_lock_out(client: Client, settings, mail) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(2):
        assert client.post("/admin/login/", admin_form("Bob@Example.edu", "guess")).status_code == 200
    assert client.post("/accounts/login/", form("bob", "guess")).status_code == 429
    assert client.post("/accounts/login/", form("bob")).status_code == 429
    User.objects.create_user("carol", password="carol-staff-password", is_staff=True)
    for _ in range(3):
        client.post("/accounts/login/", form("carol", "guess"))
    # carol@example.edu is locked, not carol: the admin knows her by her own name
    assert client.post("/admin/login/", admin_form("carol", "carol-staff-password")).status_code == 302


def test_the_admin_sign_in_asks_for_the_captcha_before_any_password(client: Client, monkeypatch) -> None:
    monkeypatch.setattr(captcha_settings, "CAPTCHA_TEST_MODE", False)
    User.objects.create_user("carol", password="carol-staff-password", is_staff=True)
    page = client.get("/admin/login/").content.decode()
    key = re.search(r'name="captcha_0" value="([0-9a-f]+)"', page).group(1)
    assert 'src="/captcha/image/' in page
    wrong = client.post(
        "/admin/login/", admin_form("carol", "carol-staff-password", captcha_0=key, captcha_1="WRONG")
    )
    assert wrong.status_code == 200 and signed_in_as(client) is None
    assert not AccessAttempt.objects.exists()  # a wrong captcha never reaches the password check
    page = client.get("/admin/login/").content.decode()
    key = re.search(r'name="captcha_0" value="([0-9a-f]+)"', page).group(1)
    answer = CaptchaStore.objects.get(hashkey=key).response
    right = client.post(
        "/admin/login/", admin_form("carol", "carol-staff-password", captcha_0=key, captcha_1=answer)
    )
    assert right.status_code == 302 and signed_in_as(client) == "carol"
