"""The owner's day view in real Chromium at a phone's, a tablet's and a desktop's width, in
zh-Hant and English: nothing wider than the screen, the first record on the first screen, no
CJK word split in a type's name or a column's, hostile log values shown as text."""

from __future__ import annotations

import pytest

from tests.browser_support import _plain_http_live_server, chromium_page  # noqa: F401
from tests.test_browser import XSS_BOX, XSS_MSGID, _sign_in, site  # noqa: F401
from tests.test_records_support import at, insert_event, today

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# (width, height) of an iPhone 14, an iPad mini, a laptop
SCREENS = ((390, 844), (768, 1024), (1280, 800))
LONG_MSGID = "<" + "x" * 70 + "@an-unbroken-host-name.example.org>"  # no place to break a line
LONG_IP = "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"


@pytest.fixture
def long_values(site) -> None:  # noqa: F811 - the fixture imported above, by name
    """test_browser's alice (two days of every seed type, hostile values) and longer values."""
    insert_event(
        at(today(), "11:00:30"), "imap", "flag_delete", ip=LONG_IP, session="long",
        mailbox="收件匣.2024", message_id=LONG_MSGID, size=123456,
    )  # fmt: skip


# every type name and column header: how many lines it takes, and its word-break
_LABELS_JS = """() => Array.from(document.querySelectorAll('#records .type-label, #records th, #legend .type-label'))
  .filter(e => e.getClientRects().length)
  .map(e => {
    const style = getComputedStyle(e);
    const line = parseFloat(style.lineHeight) || parseFloat(style.fontSize) * 1.45;
    const range = document.createRange();
    range.selectNodeContents(e);
    const tops = new Set(Array.from(range.getClientRects()).filter(r => r.width > 0).map(r => Math.round(r.top)));
    return {text: e.textContent.trim(), lines: tops.size, wordBreak: style.wordBreak, tall: e.getBoundingClientRect().height > line * 1.6};
  })"""


@pytest.mark.parametrize("language", ["zh-hant", "en"])
def test_the_day_view_fits_a_phone_a_tablet_and_a_desktop(long_values, live_server, language, tmp_path):
    with chromium_page() as page:
        _sign_in(page, live_server.url)
        for width, height in SCREENS:
            page.set_viewport_size({"width": width, "height": height})
            page.goto(f"{live_server.url}/accounts/login/?language={language}")  # sets the language cookie
            page.goto(live_server.url + "/")
            page.wait_for_selector("#records")
            assert page.evaluate("document.documentElement.lang") == language
            page.screenshot(path=str(tmp_path / f"day-{language}-{width}.png"), full_page=False)
            page.screenshot(path=str(tmp_path / f"day-{language}-{width}-whole.png"), full_page=True)

            # no horizontal scrolling, whatever the values
            assert page.evaluate("document.documentElement.scrollWidth") <= page.evaluate(
                "window.innerWidth"
            ), (
                width,
                language,
            )
            # the first record is on the first screen, whole
            first = page.locator("#records tbody tr").first
            box = first.bounding_box()
            assert box is not None and box["y"] + box["height"] <= height, (width, language, box)

            # a type's name or a header is one unbroken line, and keeps CJK words whole
            for label in page.evaluate(_LABELS_JS):
                assert label["wordBreak"] == "keep-all", label
                assert label["lines"] == 1 and not label["tall"], (width, label)

            # hostile values are on the page as text, and nothing of them ran
            text = page.inner_text("#records")
            for value in (XSS_MSGID, LONG_MSGID, XSS_BOX, LONG_IP, "收件匣.2024"):
                assert value in text, (width, value)
            assert page.locator("#records script, #records img, #records svg").count() == 0
            # the timeline keeps a readable size (scrolling in its own box on a narrow screen)
            page.wait_for_function("document.querySelector('img.timeline').complete")
            assert page.evaluate(
                "document.querySelector('img.timeline').getBoundingClientRect().width"
            ) >= min(760, width - 60)
        assert page.dialogs == []


def test_on_a_phone_the_legend_is_folded_and_lists_the_days_types_first(long_values, live_server):
    with chromium_page(viewport={"width": 390, "height": 844}) as page:
        _sign_in(page, live_server.url)
        assert page.evaluate("document.getElementById('legend-fold').open") is False
        page.click("#legend-fold summary")
        keys = page.eval_on_selector_all("#legend .legend-item", "items => items.map(i => i.dataset.type)")
        present = {
            "pop3-login", "pop3-message-delete", "pop3-logout", "auth-fail", "imap-login",
            "imap-message-delete", "imap-mailbox-delete", "imap-logout", "flag-delete",
        }  # fmt: skip
        assert set(keys[: len(present)]) == present
        assert page.locator("#legend .legend-item.is-absent").count() == len(keys) - len(present)
        # a folded legend still switches types
        page.click("#legend .legend-item.type-auth-fail")
        assert page.locator("#records tbody tr.type-auth-fail:visible").count() == 0


def test_on_a_desktop_the_legend_is_open_and_rows_are_a_table(long_values, live_server):
    with chromium_page(viewport={"width": 1280, "height": 800}) as page:
        _sign_in(page, live_server.url)
        assert page.evaluate("document.getElementById('legend-fold').open") is True
        assert (
            page.evaluate("getComputedStyle(document.querySelector('#records tbody tr')).display")
            == "table-row"
        )


@pytest.mark.parametrize("language", ["zh-hant", "en"])
def test_the_staff_search_fits_a_phone_too(long_values, live_server, language, tmp_path):
    from django.conf import settings
    from django.test import Client

    from tests.test_staff_support import staff_user

    client = Client()
    client.force_login(staff_user("carol", may_look=True))
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    with chromium_page(viewport={"width": 390, "height": 844}) as page:
        page.context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
        )
        page.goto(f"{live_server.url}/accounts/login/?language={language}")  # sets the language cookie
        page.goto(f"{live_server.url}/staff/?account=alice%40example.edu")
        page.wait_for_selector("#records")
        page.screenshot(path=str(tmp_path / f"staff-{language}-390.png"))
        assert page.evaluate("document.documentElement.scrollWidth") <= page.evaluate("window.innerWidth")
        box = page.locator("#records tbody tr").first.bounding_box()
        assert box is not None and box["y"] + box["height"] <= 844
        assert LONG_MSGID in page.inner_text("#records")
