"""The demo's local users (webui/accounts/demo.py): a wrong password is wrong, not an outage,
and the help-desk user it prints may use the staff search."""

from __future__ import annotations

import pytest
from captcha.conf import settings as captcha_settings
from django.contrib.auth import get_user_model
from django.urls import reverse

from tests.dovecot_server import free_port
from webui.accounts.config import MailDomain, MailServer
from webui.accounts.demo import DEMO_PASSWORDS, DEMO_STAFF, create_demo_users

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(settings, monkeypatch) -> None:
    """A demo site whose mail server is nowhere (a closed port), as `make run` has it."""
    settings.SECURE_SSL_REDIRECT = False
    settings.MAILTRAIL_DEMO = True
    nowhere = MailServer(
        host="127.0.0.1", port=free_port(), security="none", timeout=1, verify=True, ca_file=None
    )
    settings.MAILTRAIL_MAIL_DOMAINS = {"example.edu": MailDomain("example.edu", nowhere, "full")}
    monkeypatch.setattr(captcha_settings, "CAPTCHA_TEST_MODE", True)
    create_demo_users()


def sign_in(client, password: str):
    data = {
        "account": "alice",
        "domain": "example.edu",
        "password": password,
        "captcha_0": "x",
        "captcha_1": "PASSED",
    }
    return client.post(reverse("accounts:login"), data, HTTP_ACCEPT_LANGUAGE="zh-hant")


def test_a_wrong_demo_password_says_wrong_account_or_password(client, demo):
    response = sign_in(client, "not-alices-password")
    assert response.status_code == 200
    assert "帳號或密碼不正確" in response.content.decode()
    assert sign_in(client, DEMO_PASSWORDS["alice"]).status_code == 302


def test_without_demo_mode_the_same_password_asks_the_absent_mail_server(client, demo, settings):
    # what the demo backend's refusal replaces: with demo mode off, the mail server is asked (503)
    settings.MAILTRAIL_DEMO = False
    assert sign_in(client, "not-alices-password").status_code == 503


def test_the_demo_help_desk_user_opens_the_staff_search_and_the_admin_links_it(client, demo):
    name, password = DEMO_STAFF
    user = get_user_model().objects.get(username=name)
    assert user.is_staff and not user.is_superuser and user.check_password(password)
    client.force_login(user)
    assert client.get(reverse("staff:search")).status_code == 200
    admin = client.get(reverse("admin:index"))
    assert admin.status_code == 200
    assert f'href="{reverse("staff:search")}"' in admin.content.decode()


def test_the_admin_index_shows_no_staff_search_link_to_staff_without_the_permission(client, demo):
    client.force_login(
        get_user_model().objects.create_user("carol", password="carol-password-1", is_staff=True)
    )
    assert f'href="{reverse("staff:search")}"' not in client.get(reverse("admin:index")).content.decode()
