"""Who sees a mailbox's records as its owner: a user the mail server vouched for, never a local password.

Both routes of the security pass's finding 1, through the real sign-in forms, the real admin
and a real Dovecot: a user made in the admin with a mailbox's name, and a mailbox owner the
IMAP backend made who is later given a local password.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from captcha.conf import settings as captcha_settings
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from tests.dovecot_server import ALICE, DovecotServer, running_dovecot
from tests.test_accounts_backend import TEST_SERVER, USERS, server_at
from tests.test_accounts_views import admin_form, form, signed_in_as
from tests.test_records_support import at, insert_event, records_partitions, records_setup, today  # noqa: F401
from webui.accounts import DEMO_BACKEND
from webui.accounts.config import MailDomain
from webui.staff.models import StaffLookup

pytestmark = [pytest.mark.django_db, pytest.mark.dovecot]

ALICE_IP = "203.0.113.77"  # only alice's record holds it
OWNER_PAGES = ("records:day", "records:export", "records:timeline", "records:search")


@pytest.fixture(scope="module")
def mail() -> Iterator[DovecotServer]:
    with running_dovecot(USERS, TEST_SERVER) as server:
        yield server


@pytest.fixture(autouse=True)
def site(clean_db, settings, mail: DovecotServer, monkeypatch) -> None:
    settings.MAILTRAIL_MAIL_DOMAINS = {
        "example.edu": MailDomain("example.edu", server_at(mail.host, mail.imap_port), "full"),
    }
    monkeypatch.setattr(captcha_settings, "CAPTCHA_TEST_MODE", True)
    insert_event(at(today(), "00:00:01"), "imap", "login", account=ALICE, ip=ALICE_IP, session="alicesess")


def owner_pages(client: Client) -> dict[str, tuple[int, str]]:
    """Each owner's page as `client` gets it: status and body."""
    answers = {}
    for name in OWNER_PAGES:
        response = client.get(reverse(name), {"q": "<x@example.edu>"} if name == "records:search" else {})
        answers[name] = (response.status_code, response.content.decode("utf-8", "replace"))
    return answers


def assert_no_owners_view(client: Client) -> None:
    for name, (status, body) in owner_pages(client).items():
        assert status == 403, name
        assert ALICE_IP not in body, name


def test_the_mail_servers_word_opens_alices_records_to_her(client: Client) -> None:
    assert client.post("/accounts/login/", form("alice")).status_code == 302
    status, body = owner_pages(client)["records:day"]
    assert status == 200 and ALICE_IP in body
    status, body = owner_pages(client)["records:export"]
    assert status == 200 and ALICE_IP in body


def test_a_user_made_in_the_admin_with_a_mailboxs_name_never_sees_its_records(client: Client) -> None:
    # an account administrator (not a help-desk member: no staff lookup permission)
    User.objects.create_user("root", password="root-admin-password", is_staff=True, is_superuser=True)
    admin = Client()
    assert admin.post("/admin/login/", admin_form("root", "root-admin-password")).status_code == 302
    made = admin.post(
        "/admin/auth/user/add/",
        {
            "username": ALICE,
            "usable_password": "true",
            "password1": "Local-pass-4567",
            "password2": "Local-pass-4567",
        },
    )
    assert made.status_code == 302 and User.objects.get(username=ALICE).has_usable_password()
    # the local password does not sign in on the owner's form …
    refused = client.post("/accounts/login/", form("alice", "Local-pass-4567"))
    assert refused.status_code == 200 and signed_in_as(client) is None
    assert_no_owners_view_or_sign_in(client)
    # … and an administrator signed in at the admin is no owner either, even named as one
    User.objects.filter(username=ALICE).update(is_staff=True, is_superuser=True)
    assert client.post("/admin/login/", admin_form(ALICE, "Local-pass-4567")).status_code == 302
    assert signed_in_as(client) == ALICE
    assert_no_owners_view(client)
    assert not StaffLookup.objects.exists()


def assert_no_owners_view_or_sign_in(client: Client) -> None:
    for name in OWNER_PAGES:
        response = client.get(reverse(name))
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], name


def test_a_superuser_from_createsuperuser_named_like_a_mailbox_is_refused_its_records(client: Client) -> None:
    User.objects.create_superuser(ALICE, password="Super-pass-4567")
    assert client.post("/admin/login/", admin_form(ALICE, "Super-pass-4567")).status_code == 302
    assert_no_owners_view(client)
    page = client.get(reverse("records:day")).content.decode()
    assert "This page is for mailbox owners" in page or "信箱擁有者" in page


def test_an_imap_owner_later_given_a_local_password_gets_nothing_through_it(client: Client, mail) -> None:
    # alice signs in through the mail server: the IMAP backend makes her user
    assert client.post("/accounts/login/", form("alice")).status_code == 302
    assert not User.objects.get(username=ALICE).has_usable_password()
    # an administrator sets a password on her user in the admin
    User.objects.create_user("root", password="root-admin-password", is_staff=True, is_superuser=True)
    admin = Client()
    assert admin.post("/admin/login/", admin_form("root", "root-admin-password")).status_code == 302
    alice_id = User.objects.get(username=ALICE).pk
    changed = admin.post(
        f"/admin/auth/user/{alice_id}/password/",
        {"usable_password": "true", "password1": "Local-pass-4567", "password2": "Local-pass-4567"},
    )
    assert changed.status_code == 302 and User.objects.get(username=ALICE).has_usable_password()
    # whoever knows that password gets no owner's view of alice, on either form
    other = Client()
    refused = other.post("/accounts/login/", form("alice", "Local-pass-4567"))
    assert refused.status_code == 200 and signed_in_as(other) is None
    assert other.post("/admin/login/", admin_form(ALICE, "Local-pass-4567")).status_code == 200
    assert signed_in_as(other) is None
    assert_no_owners_view_or_sign_in(other)
    # made staff as well, the admin's sign-in works, and still shows no records of alice
    User.objects.filter(username=ALICE).update(is_staff=True)
    assert other.post("/admin/login/", admin_form(ALICE, "Local-pass-4567")).status_code == 302
    assert_no_owners_view(other)


def test_a_demo_user_is_an_owner_only_while_demo_mode_is_on(client: Client, settings) -> None:
    settings.MAILTRAIL_DEMO = True
    User.objects.create_user(ALICE, password="alice-demo-password")
    assert client.post("/accounts/login/", form("alice", "alice-demo-password")).status_code == 302
    assert client.session["_auth_user_backend"] == DEMO_BACKEND
    status, body = owner_pages(client)["records:day"]
    assert status == 200 and ALICE_IP in body
    settings.MAILTRAIL_DEMO = False
    assert_no_owners_view(client)
