"""The owner's pages in real Chromium: sign in through the form, legend, dates, language, CSV, XSS."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from captcha.conf import settings as captcha_settings
from django.contrib.auth import get_user_model

from tests.browser_support import _plain_http_live_server, chromium_page  # noqa: F401
from tests.test_records_support import (
    ALICE,
    PASSWORD,
    alice_day,
    at,
    ensure_test_partitions,
    insert_event,
    today,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

XSS_MSGID = "<script>alert(1)</script>"
XSS_BOX = "<img src=x onerror=alert(2)>"
XSS_REASON = '"><svg onload=alert(3)>'


@pytest.fixture
def site(settings, monkeypatch, engine, clean_db) -> Iterator[None]:
    """Alice (a demo user with a known password) and her records; the captcha accepts PASSED."""
    from webui.accounts.config import MailDomain, MailServer

    # In demo mode the demo backend accepts alice's local password before the IMAP backend is
    # asked, so the mail server named here is never contacted.
    server = MailServer(host="127.0.0.1", port=9, security="none", timeout=1, verify=True, ca_file=None)
    settings.MAILTRAIL_MAIL_DOMAINS = {"example.edu": MailDomain("example.edu", server, "full")}
    settings.MAILTRAIL_DEMO = True
    monkeypatch.setattr(captcha_settings, "CAPTCHA_TEST_MODE", True)
    ensure_test_partitions(engine)
    get_user_model().objects.create_user(ALICE, password=PASSWORD)
    alice_day(today())
    alice_day(today() - timedelta(days=1))
    insert_event(
        at(today(), "11:00:00"), "imap", "message_delete", ip="192.0.2.66", session="xss",
        mailbox=XSS_BOX, message_id=XSS_MSGID,
    )  # fmt: skip
    insert_event(at(today(), "11:01:00"), "imap", "auth_fail", ip="192.0.2.66", reason=XSS_REASON)
    yield
    with engine.begin() as conn:  # live-server tests commit: leave the tables as found
        conn.execute(sa.text("TRUNCATE event, source, bad_line RESTART IDENTITY CASCADE"))


@pytest.fixture
def browser_page(live_server) -> Iterator:
    with chromium_page(accept_downloads=True) as page:
        yield page


def _sign_in(page, base: str) -> None:
    page.goto(base + "/")
    assert "/accounts/login/" in page.url  # the day view sends strangers to the sign-in page
    page.fill("input[name=account]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=captcha_1]", "PASSED")
    page.click("button.signin-submit")
    page.wait_for_selector("#records")


def _visible_rows(page, key: str) -> int:
    return page.locator(f"#records tbody tr.type-{key}:visible").count()


def test_it_lets_alice_read_switch_types_change_dates_languages_and_export(site, browser_page, live_server):
    page = browser_page
    _sign_in(page, live_server.url)
    assert page.locator("#records tbody tr").count() == 10
    assert "POP3 登出" in page.inner_text("#records")

    # the legend switches a type off and on again, without a page load
    assert _visible_rows(page, "auth-fail") == 2
    page.click("#legend .legend-item.type-auth-fail")
    assert _visible_rows(page, "auth-fail") == 0
    assert _visible_rows(page, "imap-login") == 1
    assert "hide=auth-fail" in page.url
    assert "hide=auth-fail" in page.get_attribute("a.export-link", "href")
    page.click("#legend .legend-item.type-auth-fail")
    assert _visible_rows(page, "auth-fail") == 2
    page.click("#legend .legend-item.type-auth-fail")  # off again, for the export below

    # another date, through the date picker and the form
    yesterday = today() - timedelta(days=1)
    page.fill("#id_date", yesterday.isoformat())
    page.click("#period-form button[type=submit]")
    page.wait_for_url(f"**date={yesterday.isoformat()}**")
    assert page.locator("#records tbody tr").count() == 7  # 8 less the hidden failure
    assert "hide=auth-fail" in page.url  # the hidden type stays hidden
    page.click("a.nav-next")
    page.wait_for_url(f"**date={today().isoformat()}**")

    # English
    page.select_option("#language-select", "en")
    page.click("button.language-submit")
    page.wait_for_selector("text=POP3 logout")
    assert "POP3 登出" not in page.inner_text("#records")

    # CSV download of what is shown
    with page.expect_download() as info:
        page.click("a.export-link")
    download = info.value
    assert download.suggested_filename == f"mailtrail-{today():%Y%m%d}.csv"
    rows = list(csv.reader(io.StringIO(open(download.path(), encoding="utf-8-sig").read())))
    assert rows[0][:3] == ["No.", "Time", "Type"]
    assert len(rows) == 1 + 8  # both failed sign-ins stay hidden in the export
    assert XSS_MSGID in [c for r in rows for c in r]

    assert page.dialogs == []
    assert not [e for e in page.console_errors if "Content Security Policy" in e], page.console_errors


def test_it_shows_hostile_log_values_as_text_and_runs_none_of_them(site, browser_page, live_server):
    page = browser_page
    _sign_in(page, live_server.url)
    assert page.locator("td.col-msgid", has_text=XSS_MSGID).count() == 1
    assert page.locator("td.col-folder", has_text=XSS_BOX).count() == 1
    assert page.locator("td.col-details", has_text=XSS_REASON).count() == 1
    assert page.locator("#records script, #records img, #records svg").count() == 0
    # the timeline picture loads (an image: nothing in it could run anyway)
    page.wait_for_function("document.querySelector('img.timeline').complete")  # it may come after the rows
    assert page.evaluate("document.querySelector('img.timeline').naturalWidth") > 0
    page.goto(live_server.url + "/search/?q=" + "%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    assert page.locator("td.col-msgid", has_text=XSS_MSGID).count() == 1
    assert page.input_value("#id_q") == XSS_MSGID
    assert page.dialogs == []
    assert not [e for e in page.console_errors if "Content Security Policy" in e], page.console_errors


def test_it_switches_types_with_plain_links_when_javascript_is_off(site, live_server):
    with chromium_page(java_script_enabled=False) as page:
        _sign_in(page, live_server.url)
        assert _visible_rows(page, "imap-login") == 1
        page.click("#legend .legend-item.type-imap-login")
        page.wait_for_url("**hide=imap-login**")
        assert _visible_rows(page, "imap-login") == 0
        assert _visible_rows(page, "pop3-login") == 1
        page.click("#legend .legend-item.type-imap-login")  # and back on
        page.wait_for_url(lambda url: "hide=" not in url)
        assert _visible_rows(page, "imap-login") == 1
