"""The sign-in page in real Chromium: captcha refresh and language switch under the CSP, IMAP sign-in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from captcha.models import CaptchaStore

from tests.browser_support import _plain_http_live_server, chromium_page  # noqa: F401
from tests.dovecot_server import ALICE, DovecotServer, running_dovecot
from tests.test_accounts_backend import TEST_SERVER, USERS, server_at
from webui.accounts.config import MailDomain

pytestmark = [pytest.mark.browser, pytest.mark.dovecot, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def mail() -> Iterator[DovecotServer]:
    with running_dovecot(USERS, TEST_SERVER) as server:
        yield server


@pytest.fixture
def page(live_server, settings, mail: DovecotServer, monkeypatch) -> Iterator:
    # the tests read captcha answers from the database while Playwright's event loop runs in
    # this thread; Django refuses that unless told the ORM call is not from async code
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    settings.MAILTRAIL_MAIL_DOMAINS = {
        "example.edu": MailDomain("example.edu", server_at(mail.host, mail.imap_port), "full"),
        "staff.example.edu": MailDomain("staff.example.edu", server_at(mail.host, mail.imap_port), "local"),
    }
    with chromium_page() as tab:
        yield tab


def _csp_violations(page) -> list[str]:
    return [e for e in page.console_errors if "Content Security Policy" in e]


def test_it_refreshes_the_captcha_in_place_and_signs_alice_in_over_imap(page, live_server) -> None:
    from playwright.sync_api import expect

    page.goto(live_server.url + "/accounts/login/")
    old_key = page.input_value("input[name=captcha_0]")
    old_src = page.get_attribute("img.captcha", "src")
    page.fill("input[name=account]", "alice")
    page.click("a.captcha-refresh")
    # (no wait_for_function: Playwright evaluates its string, which this page's CSP forbids)
    expect(page.locator("input[name=captcha_0]")).not_to_have_value(old_key)
    new_key = page.input_value("input[name=captcha_0]")
    assert page.get_attribute("img.captcha", "src") != old_src
    assert page.input_value("input[name=account]") == "alice"  # no reload: what was typed stays
    # the new image loaded (naturalWidth > 0) and its answer is the new key's
    expect(page.locator("img.captcha")).to_have_attribute("src", f"/captcha/image/{new_key}/")
    image = page.locator("img.captcha")
    for _ in range(50):  # the new picture arrives a moment after its address
        if image.evaluate("img => img.complete && img.naturalWidth > 0"):
            break
        page.wait_for_timeout(100)
    assert image.evaluate("img => img.naturalWidth > 0")
    page.select_option("select[name=domain]", "example.edu")
    page.fill("input[name=password]", USERS[ALICE])
    page.fill("input[name=captcha_1]", CaptchaStore.objects.get(hashkey=new_key).response)
    page.click("button.signin-submit")
    page.wait_for_url(live_server.url + "/")
    assert ALICE in page.text_content(".site-account")
    assert _csp_violations(page) == []


def test_it_switches_the_sign_in_page_to_english_from_the_select_keeping_what_was_typed(
    page, live_server
) -> None:
    from playwright.sync_api import expect

    page.goto(live_server.url + "/accounts/login/")
    assert page.text_content("button.signin-submit").strip() == "登入"
    page.fill("input[name=account]", "alice")
    page.select_option("select[name=domain]", "example.edu")
    page.fill("input[name=password]", USERS[ALICE])
    key = page.input_value("input[name=captcha_0]")
    page.fill("input[name=captcha_1]", CaptchaStore.objects.get(hashkey=key).response)
    page.select_option("select.signin-language", "en")
    expect(page.locator("button.signin-submit")).to_have_text("Sign in")
    assert page.get_attribute("html", "lang") == "en"
    assert page.input_value("input[name=account]") == "alice"
    assert page.input_value("input[name=password]") == USERS[ALICE]
    assert page.input_value("input[name=captcha_0]") == key
    page.click("button.signin-submit")  # what was typed still signs her in
    page.wait_for_url(live_server.url + "/")
    assert page.get_attribute("html", "lang") == "en"
    page.goto(live_server.url + "/accounts/login/")  # the cookie keeps it
    assert page.get_attribute("html", "lang") == "en"
    assert _csp_violations(page) == []


def test_it_tells_a_wrong_password_without_losing_the_account(page, live_server) -> None:
    page.goto(live_server.url + "/accounts/login/")
    page.fill("input[name=account]", "alice")
    page.fill("input[name=password]", "not-her-password")
    key = page.input_value("input[name=captcha_0]")
    page.fill("input[name=captcha_1]", CaptchaStore.objects.get(hashkey=key).response)
    page.click("button.signin-submit")
    page.wait_for_selector("#signin-errors")
    assert page.text_content("#signin-errors").strip() == "帳號或密碼不正確。"
    assert page.input_value("input[name=account]") == "alice"
    assert page.input_value("input[name=password]") == ""  # never sent back to the browser
