"""The alerts as mail: through a real SMTP server on loopback, in the owner's language, hostile-safe."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from tests.alerts_support import (
    ALICE,
    HOME_CLIENT,
    SITE_URL,
    STRANGER_IP,
    decide_all,
    history,
    insert_event,
    opt_in,
)
from webui.alerts import sender
from webui.alerts.models import Alert, Subscription

pytestmark = pytest.mark.usefixtures("alerts_db")


def alert_alice(**client) -> None:
    history()
    insert_event(timezone.now(), "imap", "login", ip=STRANGER_IP, session="s1", **client)
    assert decide_all() == 1


def test_alice_receives_one_plain_text_alert_that_says_what_when_where_and_links_her_day(smtp_settings):
    inbox = smtp_settings
    opt_in()
    alert_alice(**HOME_CLIENT)
    assert sender.send_pending() == 1
    (mail,) = inbox.messages
    assert mail["To"] == ALICE
    assert mail["Subject"] == "mailtrail: a sign-in to your mailbox from a new device or network"
    assert mail.get_content_type() == "text/plain"
    text = mail.get_content()
    assert "not seen in the last 90 days" in text
    assert f"From IP: {STRANGER_IP}" in text and "Client: Thunderbird 115.3 · Windows" in text
    day = timezone.localdate().isoformat()
    assert f"{SITE_URL}/?date={day}" in text
    assert "password now" in text and "login" not in text.lower().replace("sign in there", "")
    alert = Alert.objects.get()
    assert (alert.state, mail["Message-ID"]) == ("sent", alert.message_id)
    assert sender.send_pending() == 0 and len(inbox.messages) == 1  # sent once


def test_the_alert_carries_rfc_8058_one_click_unsubscribe_that_works_without_a_cookie(smtp_settings):
    inbox = smtp_settings
    opt_in()
    alert_alice()
    sender.send_pending()
    (mail,) = inbox.messages
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = mail["List-Unsubscribe"].strip().strip("<>")
    assert url.startswith(SITE_URL + "/alerts/unsubscribe/") and url in mail.get_content()
    path = url.removeprefix(SITE_URL)
    browser = Client(enforce_csrf_checks=True)
    assert b"Stop alerts" in browser.get(path).content  # GET only asks
    assert Subscription.objects.get().active
    assert browser.post(path, {"List-Unsubscribe": "One-Click"}).status_code == 200
    assert not Subscription.objects.get().active
    assert browser.get(path[:-3] + "xx/").status_code == 404  # a forged token


def test_an_owner_who_opted_in_in_chinese_gets_the_alert_in_chinese(smtp_settings):
    inbox = smtp_settings
    opt_in(language="zh-hant")
    alert_alice()
    sender.send_pending()
    (mail,) = inbox.messages
    assert "登入" in mail["Subject"]
    assert "90 天" in mail.get_content()


def test_hostile_client_names_stay_in_the_body_spelled_out_and_never_reach_a_header(smtp_settings):
    inbox = smtp_settings
    opt_in()
    hostile = {
        "client_name": "Evil\r\nBcc: victim@example.org\r\n\r\n<script>x</script>",
        "client_os": "\u202eswodniW" + "A" * 500,
    }
    alert_alice(**hostile)
    sender.send_pending()
    (mail,) = inbox.messages
    assert mail["Bcc"] is None and "victim" not in str(mail["To"]) + str(mail["Subject"])
    text = mail.get_content()
    assert "Evil\\x0d\\x0aBcc: victim@example.org" in text and "\\u202e" in text
    assert "\r\nBcc" not in text and "\u202e" not in text
    client_line = next(line for line in text.splitlines() if line.startswith("Client: "))
    assert len(client_line) < 140  # bounded
    assert mail.get_content_type() == "text/plain"  # no HTML for a <script> to run in


def test_an_alert_for_an_owner_who_unsubscribed_before_it_went_out_is_not_sent(smtp_settings):
    inbox = smtp_settings
    opt_in()
    alert_alice()
    Subscription.objects.update(active=False)
    assert sender.send_pending() == 0
    assert inbox.messages == [] and Alert.objects.get().state == "suppressed"


def test_an_smtp_server_that_is_down_leaves_the_alert_pending_for_the_next_pass(settings, smtp_server):
    from tests.dovecot_server import free_port

    inbox, port = smtp_server
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 5
    opt_in()
    alert_alice()
    with pytest.raises(OSError):
        sender.send_pending()
    assert Alert.objects.get().state == "pending"
    settings.EMAIL_PORT = port
    assert sender.send_pending() == 1 and len(inbox.messages) == 1
