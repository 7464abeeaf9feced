"""In real Chromium: a spoofed file name shows its marker, a 60 kB Message-ID keeps its row small, nothing runs."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from django.conf import settings
from django.db import connection
from django.test import Client

from tests.browser_support import _plain_http_live_server, chromium_page  # noqa: F401
from tests.test_records_display import SPOOF, XSS, insert_hostile_day
from tests.test_records_support import ALICE, ensure_test_partitions, sign_in
from tests.test_staff_support import staff_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIEWPORT = {"width": 1280, "height": 800}


@pytest.fixture
def hostile(engine, clean_db) -> Iterator[None]:
    ensure_test_partitions(engine)
    insert_hostile_day()
    yield
    with engine.begin() as conn:  # live-server tests commit: leave the tables as found
        conn.execute(sa.text("TRUNCATE event, source, bad_line RESTART IDENTITY CASCADE"))


@pytest.fixture
def page(live_server) -> Iterator:
    with chromium_page(viewport=VIEWPORT) as page:
        yield page


def carry_session(page, client: Client, live_server) -> None:
    """Give `page` the session of `client`, signed in by the test (sign-in has its own tests)."""
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])


def check_the_table(page) -> None:
    rows = page.locator("#records tbody tr")
    assert rows.count() == 3
    text = rows.nth(0).inner_text()
    assert "invoice⟨U+202E⟩gpj.exe-A" in text and "\u202e" not in text
    viewport_width = page.evaluate("document.documentElement.clientWidth")
    for i in range(rows.count()):
        box = rows.nth(i).bounding_box()
        assert box["width"] <= viewport_width, (i, box)
        assert box["height"] < 300, (i, box)  # the 60 kB Message-ID was a 25,000 px row
    long_value = page.locator("#records details.long-value")
    assert long_value.count() == 1
    long_value.locator("summary").click()  # one click shows the whole value
    assert "x" * 60_000 in long_value.inner_text().replace("\n", "")
    assert rows.nth(1).bounding_box()["width"] <= viewport_width  # wrapped, not widened
    assert page.dialogs == []  # no alert() ran
    assert page.evaluate("document.querySelectorAll('#records img, #records script').length") == 0


# Signed in before the page opens: Playwright's sync API runs an event loop in this thread,
# and Django refuses database calls made while it runs.
@pytest.fixture
def alice(hostile) -> Client:
    return sign_in(Client(), ALICE)


@pytest.fixture
def carol(hostile) -> Client:
    client = Client()
    client.force_login(staff_user("carol", may_look=True, admin_events=True))
    return client


def test_alices_day_view_shows_the_marker_and_a_short_row_and_runs_nothing(alice, page, live_server):
    carry_session(page, alice, live_server)
    page.goto(live_server.url + "/")
    check_the_table(page)
    assert page.console_errors == []


def test_the_staff_search_shows_the_marker_and_a_short_row_and_runs_nothing(carol, page, live_server):
    carry_session(page, carol, live_server)
    page.goto(live_server.url + "/staff/?" + urlencode({"account": ALICE}))
    check_the_table(page)
    assert page.console_errors == []


@pytest.fixture
def bad_line(hostile) -> None:
    with connection.cursor() as cur:
        cur.execute("INSERT INTO source (fingerprint, path) VALUES ('fp', '/var/log/mail.log') RETURNING id")
        cur.execute(
            "INSERT INTO bad_line (source_id, line_offset, raw, reason) VALUES (%s, 1, %s, 'odd')",
            [cur.fetchone()[0], (SPOOF + XSS + "y" * 60_000).encode()],
        )


def test_the_event_and_bad_lines_admin_show_the_marker_and_short_rows_and_run_nothing(
    bad_line, carol, page, live_server
):
    carry_session(page, carol, live_server)
    width = VIEWPORT["width"]
    for path, rows_wanted in (
        ("/admin/records/event/?" + urlencode({"q": ALICE}), 3),
        ("/admin/records/badline/", 1),
    ):
        page.goto(live_server.url + path)
        rows = page.locator("#result_list tbody tr")
        assert rows.count() == rows_wanted, path
        assert "invoice⟨U+202E⟩gpj.exe-A" in page.locator("#result_list").inner_text(), path
        # the admin's result table scrolls inside its own box, many columns wide: the page
        # itself must not scroll sideways, and no cell may be wider than the screen
        assert page.evaluate("document.documentElement.scrollWidth") <= width, path
        widest = page.evaluate(
            "Math.max(...[...document.querySelectorAll('#result_list td')].map(c => c.offsetWidth))"
        )
        assert widest <= width, (path, widest)
        for i in range(rows.count()):
            assert rows.nth(i).bounding_box()["height"] < 300, (path, i)
    assert page.dialogs == []
