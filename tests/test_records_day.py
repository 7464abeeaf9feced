"""The day view: rows, types, legend, dates, freshness and form errors."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from tests.test_records_support import (  # noqa: F401
    ALICE,
    alice_day,
    at,
    insert_event,
    insert_source,
    records_partitions,
    records_setup,
    today,
    yesterday,
)
from webui.accounts import IMAP_BACKEND

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(client):
    user = get_user_model().objects.create_user(ALICE)
    client.force_login(user, backend=IMAP_BACKEND)
    return client


def test_it_shows_todays_records_in_time_order_and_numbered(alice):
    ids = alice_day(today())
    response = alice.get(reverse("records:day"))
    assert response.status_code == 200
    rows = response.context["rows"]
    assert [r.event.id for r in rows] == list(ids.values())
    assert [r.number for r in rows] == list(range(1, len(ids) + 1))
    assert [r.type.key for r in rows] == [
        "pop3-login", "pop3-message-delete", "pop3-logout", "auth-fail",
        "imap-login", "imap-message-delete", "imap-mailbox-delete", "imap-logout",
    ]  # fmt: skip
    body = response.content.decode()
    assert ALICE in body
    assert "&lt;pop3-taken@example.org&gt;" in body
    assert "Old stuff" in body


def test_it_shows_the_pop3_logout_counters_in_megabytes(alice):
    alice_day(today())
    response = alice.get(reverse("records:day"), HTTP_ACCEPT_LANGUAGE="en")
    logout = next(r for r in response.context["rows"] if r.type.key == "pop3-logout")
    assert dict((str(k), v) for k, v in logout.details) == {
        "deleted": "1",
        "messages before": "12",
        "MB before deletion": "5.00",
        "reason": "signed out",  # Dovecot's "Logged out", said for an owner
    }


def test_it_says_dovecots_reasons_in_the_owners_language_and_marks_unknown_ones(alice):
    insert_event(at(today(), "08:00:00"), "imap", "logout", ip="192.0.2.1", reason="Logged out")
    insert_event(
        at(today(), "08:01:00"), "imap", "auth_fail", ip="192.0.2.1", reason="passwd-file: Password mismatch"
    )
    insert_event(at(today(), "08:02:00"), "imap", "logout", ip="192.0.2.1", reason="Kicked by <b>admin</b>")
    response = alice.get(reverse("records:day"), HTTP_ACCEPT_LANGUAGE="zh-hant")
    details = [dict((str(k), str(v)) for k, v in r.details) for r in response.context["rows"]]
    assert details[0] == {"原因": "已登出"}
    assert details[1] == {"原因": "密碼錯誤"}
    assert details[2] == {"原因（郵件伺服器的原文）": "Kicked by <b>admin</b>"}
    assert "Kicked by &lt;b&gt;admin&lt;/b&gt;" in response.content.decode()


def test_it_shows_another_day_chosen_with_the_date_picker(alice):
    alice_day(yesterday())
    insert_event(at(today(), "07:00:00"), "imap", "login", ip="192.0.2.1")
    response = alice.get(reverse("records:day"), {"date": yesterday().isoformat()})
    assert len(response.context["rows"]) == 8
    assert response.context["next"] is not None
    assert response.context["period"].first == yesterday()


def test_it_counts_a_day_as_midnight_to_midnight_in_the_site_zone(alice):
    day = yesterday()
    inside = insert_event(at(day, "00:00:00"), "imap", "login")
    insert_event(at(day, "00:00:00") - timedelta(microseconds=1), "imap", "login")
    insert_event(at(day + timedelta(days=1), "00:00:00"), "imap", "login")
    response = alice.get(reverse("records:day"), {"date": day.isoformat()})
    assert [r.event.id for r in response.context["rows"]] == [inside]


def test_it_hides_the_types_named_in_the_hide_parameter(alice):
    alice_day(today())
    response = alice.get(reverse("records:day"), {"hide": ["pop3-login", "auth-fail"]})
    keys = {r.type.key for r in response.context["rows"]}
    assert "pop3-login" not in keys and "auth-fail" not in keys
    assert "imap-login" in keys
    legend = {e["type"].key: e for e in response.context["legend"]}
    assert legend["pop3-login"]["hidden"] is True
    assert "hide=pop3-login" not in legend["pop3-login"]["url"]  # its link shows it again
    assert "hide=pop3-login" in legend["imap-login"]["url"]


def test_it_shows_a_range_of_days_with_dates(alice):
    alice_day(today() - timedelta(days=3))
    alice_day(today())
    response = alice.get(
        reverse("records:day"),
        {"date": (today() - timedelta(days=3)).isoformat(), "end": today().isoformat()},
    )
    assert len(response.context["rows"]) == 16
    assert response.context["show_date"] is True


def test_it_says_plainly_that_there_are_no_records_and_how_fresh_the_data_is(alice):
    insert_source(at(today(), "14:02:31"))
    response = alice.get(reverse("records:day"), HTTP_ACCEPT_LANGUAGE="en")
    body = response.content.decode()
    assert response.status_code == 200
    assert f"No records on {today():%Y-%m-%d}." in body
    assert f"complete up to {today():%Y-%m-%d} 14:02:31" in body


def test_it_says_when_no_log_has_been_read_at_all(alice):
    response = alice.get(reverse("records:day"), HTTP_ACCEPT_LANGUAGE="en")
    assert "No mail log has been read yet." in response.content.decode()


@pytest.mark.parametrize(
    "params",
    [
        {"date": "2026-02-30"},
        {"date": "yesterday"},
        {"date": "99999-01-01"},
        {"date": (today() + timedelta(days=1)).isoformat()},
        {"date": (today() - timedelta(days=31)).isoformat(), "end": today().isoformat()},
        {"date": today().isoformat(), "end": (today() - timedelta(days=2)).isoformat()},
        {"date": "1000-01-01"},
        {"after": "not-a-cursor"},
        {"after": "1e300_1_1"},
        {"hide": "no-such-type"},
    ],
)
def test_it_answers_a_bad_period_with_a_form_error_not_a_server_error(alice, params):
    response = alice.get(reverse("records:day"), params)
    assert response.status_code == 400
    assert response.context["form"].errors
    assert 'role="alert"' in response.content.decode()


def test_it_accepts_a_range_of_exactly_31_days(alice):
    first = today() - timedelta(days=30)
    response = alice.get(reverse("records:day"), {"date": first.isoformat(), "end": today().isoformat()})
    assert response.status_code == 200


def test_it_pages_with_a_keyset_cursor_and_keeps_numbering(alice):
    from webui.records import queries

    day = yesterday()
    ids = [insert_event(at(day, "12:00:00"), "imap", "login", ip="192.0.2.9") for _ in range(7)]
    old = queries.PAGE_LIMIT
    queries.PAGE_LIMIT = 3
    try:
        from webui.records import views

        start, end = queries.period_bounds(day, day)
        page1 = queries.day_rows(ALICE, start, end, limit=3)
        page2 = queries.day_rows(ALICE, start, end, after=page1.next_cursor, limit=3)
        page3 = queries.day_rows(ALICE, start, end, after=page2.next_cursor, limit=3)
        assert views  # the view uses the same function; see the next-page link test below
    finally:
        queries.PAGE_LIMIT = old
    seen = [r.event.id for r in page1.rows + page2.rows + page3.rows]
    assert seen == ids
    assert [r.number for r in page3.rows] == [7]
    assert page3.next_cursor is None


def test_it_links_to_the_next_page_when_a_day_has_more_rows_than_a_page(alice, monkeypatch):
    from webui.records import queries

    monkeypatch.setattr(queries.day_rows, "__defaults__", (frozenset(), None, 2))
    day = yesterday()
    ids = [insert_event(at(day, f"12:00:0{n}"), "pop3", "login") for n in range(5)]
    first = alice.get(reverse("records:day"), {"date": day.isoformat()})
    assert [r.event.id for r in first.context["rows"]] == ids[:2]
    second = alice.get(reverse("records:day") + first.context["next_page"])
    assert [r.event.id for r in second.context["rows"]] == ids[2:4]
    assert [r.number for r in second.context["rows"]] == [3, 4]


def test_it_fills_the_date_picker_with_the_day_shown(alice):
    body = alice.get(reverse("records:day")).content.decode()
    assert f'name="date" value="{today().isoformat()}"' in body
    first = today() - timedelta(days=2)
    body = alice.get(
        reverse("records:day"), {"date": first.isoformat(), "end": today().isoformat()}
    ).content.decode()
    assert f'name="date" value="{first.isoformat()}"' in body
    assert f'name="end" value="{today().isoformat()}"' in body


def test_it_cuts_days_at_midnight_in_the_configured_zone_not_in_utc(alice, settings):
    from datetime import UTC, datetime

    settings.TIME_ZONE = "Asia/Taipei"  # UTC+8: the Taipei day 2026-11-20 starts at 11-19 16:00 UTC
    first = insert_event(datetime(2026, 11, 19, 16, 0, tzinfo=UTC), "imap", "login")
    last = insert_event(datetime(2026, 11, 20, 15, 59, 59, tzinfo=UTC), "imap", "logout")
    insert_event(datetime(2026, 11, 19, 15, 59, 59, tzinfo=UTC), "imap", "login")
    insert_event(datetime(2026, 11, 20, 16, 0, tzinfo=UTC), "imap", "login")
    response = alice.get(reverse("records:day"), {"date": "2026-11-20"})
    assert [r.event.id for r in response.context["rows"]] == [first, last]
    body = response.content.decode()
    assert "Asia/Taipei" in body
    assert ">00:00:00</time>" in body and ">23:59:59</time>" in body


def test_it_pages_exactly_across_rows_a_microsecond_apart(alice):
    from webui.records.queries import Cursor, day_rows, period_bounds

    base = at(yesterday(), "12:00:00.999998")
    ids = [insert_event(base + timedelta(microseconds=n), "imap", "login") for n in range(3)]
    start, end = period_bounds(yesterday(), yesterday())
    seen, after = [], None
    while True:
        page = day_rows(ALICE, start, end, after=after, limit=1)
        seen += [r.event.id for r in page.rows]
        if page.next_cursor is None:
            break
        after = Cursor.decode(page.next_cursor.encode())
        assert after == page.next_cursor
    assert seen == ids
