"""Bob never sees alice's records, whatever he asks for; log values render as text everywhere."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse

from tests.test_records_support import (  # noqa: F401
    ALICE,
    BOB,
    alice_day,
    at,
    insert_event,
    records_partitions,
    records_setup,
    sign_in,
    today,
)

pytestmark = pytest.mark.django_db

# Strings only alice's records contain.
ALICE_MARKS = ("140.112.8.9", "203.0.113.7", "pop3-taken", "imap-gone", "Old stuff", ALICE)
XSS = "<script>alert(1)</script>"
IMG = '<img src=x onerror="alert(2)">'


@pytest.fixture
def bob(client):
    alice_day(today())
    insert_event(at(today(), "11:00:00"), "imap", "login", account=BOB, ip="198.51.100.4", session="bobsess")
    return sign_in(client, BOB)


def _assert_nothing_of_alice(response) -> None:
    body = response.content.decode("utf-8", "replace")
    # bob's own words come back in form values (the search box, the language form's next=)
    body = re.sub(r'value="[^"]*"', "", body)
    for mark in ALICE_MARKS:
        assert mark not in body, f"bob's response shows {mark!r}"


def test_it_redirects_anonymous_visitors_to_the_sign_in_page(client):
    for name in ("records:day", "records:export", "records:timeline", "records:search"):
        response = client.get(reverse(name), {"account": ALICE})
        assert response.status_code == 302, name
        assert response["Location"].startswith(reverse(django_settings.LOGIN_URL)), name


def test_it_runs_the_pages_queries_under_a_statement_timeout(bob):
    from django.db import connection

    bob.get(reverse("records:day"))
    with connection.cursor() as cur:
        cur.execute("SHOW statement_timeout")
        assert cur.fetchone()[0] not in ("0", "")


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"account": ALICE},
        {"user": ALICE},
        {"username": ALICE},
        {"account": ALICE, "hide": "imap-login"},
        {"mailbox": ALICE, "q": "<imap-gone@example.org>"},
    ],
)
@pytest.mark.parametrize("name", ["records:day", "records:export", "records:timeline"])
def test_it_never_shows_bob_alices_records_whatever_the_parameters(bob, name, params):
    response = bob.get(reverse(name), params)
    assert response.status_code == 200
    _assert_nothing_of_alice(response)


def test_it_shows_bob_his_own_records(bob):
    response = bob.get(reverse("records:day"))
    assert [r.event.account for r in response.context["rows"]] == [BOB]
    assert "198.51.100.4" in response.content.decode()


@pytest.mark.parametrize(
    "path",
    [
        "/alice@example.edu/",
        "/?account=alice@example.edu",
        "/%2e%2e/alice@example.edu",
        "//alice@example.edu",
        "/export.csv/alice@example.edu",
        "/timeline.svg?account=alice%40example.edu",
        "/search/?q=%3Cimap-gone%40example.org%3E&account=alice%40example.edu",
        "/search/?q=imap-gone@example.org",
        "/search/?q=%3Cpop3-taken%40example.org%3E",
    ],
)
def test_it_ignores_path_tricks_that_name_alice(bob, path):
    response = bob.get(path)
    assert response.status_code in (200, 404)
    _assert_nothing_of_alice(response)


def test_it_gives_bob_nothing_with_a_cursor_taken_from_alices_pages(client):
    from webui.records.queries import day_rows, period_bounds

    ids = alice_day(today())
    start, end = period_bounds(today(), today())
    cursor = day_rows(ALICE, start, end, limit=1).next_cursor
    assert cursor is not None and cursor.id == ids["pop3_login"]
    sign_in(client, BOB)
    response = client.get(reverse("records:day"), {"after": cursor.encode()})
    assert response.status_code == 200
    assert response.context["rows"] == []
    _assert_nothing_of_alice(response)


def test_it_shows_alice_her_own_message_in_the_search(client):
    alice_day(today())
    sign_in(client, ALICE)
    response = client.get(reverse("records:search"), {"q": "<imap-gone@example.org>"})
    assert [r.event.message_id for r in response.context["rows"]] == ["<imap-gone@example.org>"]


def _hostile_day(account: str) -> None:
    insert_event(
        at(today(), "09:00:00"), "imap", "message_delete", account=account, ip="192.0.2.66",
        session="x<y>z", mailbox=IMG, message_id=XSS,
    )  # fmt: skip
    insert_event(at(today(), "09:01:00"), "imap", "auth_fail", account=account, ip="192.0.2.66", reason=XSS)
    insert_event(
        at(today(), "09:02:00"), "imap", "message_delete", account=account, ip="192.0.2.66",
        mailbox="=HYPERLINK(\"http://evil.example/\",\"x\")", message_id="@SUM(1+1)*cmd|' /C calc'!A0",
    )  # fmt: skip


@pytest.mark.parametrize("account", [ALICE, f"{XSS}@example.edu", f"{IMG}@example.edu"])
def test_it_renders_hostile_log_values_as_text_in_the_day_view(client, account):
    _hostile_day(account)
    sign_in(client, account)
    body = client.get(reverse("records:day")).content.decode()
    assert "<script>alert(1)" not in body
    assert "<img src=x" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in body


@pytest.mark.parametrize("account", [ALICE, f"{XSS}@example.edu"])
def test_it_renders_hostile_values_as_text_in_the_timeline_svg(client, account):
    _hostile_day(account)
    sign_in(client, account)
    response = client.get(reverse("records:timeline"))
    body = response.content.decode()
    assert response["Content-Type"].startswith("image/svg+xml")
    assert "<script" not in body
    assert "192.0.2.66" in body
    if account != ALICE:
        assert "&lt;script&gt;alert(1)&lt;/script&gt;@example.edu" in body


def test_it_renders_hostile_values_as_text_in_the_search(client):
    _hostile_day(ALICE)
    sign_in(client, ALICE)
    body = client.get(reverse("records:search"), {"q": XSS}).content.decode()
    assert "<script>alert(1)" not in body
    assert body.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 2  # the form's value and the row


def test_it_keeps_hostile_values_from_becoming_spreadsheet_formulas(client):
    _hostile_day(ALICE)
    sign_in(client, ALICE)
    response = client.get(reverse("records:export"))
    cells = [c for row in csv.reader(io.StringIO(response.content.decode("utf-8-sig"))) for c in row]
    assert XSS in cells  # text stays text in a CSV: it is never interpreted there
    assert '\'=HYPERLINK("http://evil.example/","x")' in cells
    assert "'@SUM(1+1)*cmd|' /C calc'!A0" in cells
    assert not any(c.startswith(("=", "+", "@")) for c in cells)
    assert not any(c.startswith("-") and not c.lstrip("-").isdigit() for c in cells)


def test_it_serves_the_svg_so_that_a_browser_would_run_nothing_in_it(client):
    _hostile_day(ALICE)
    sign_in(client, ALICE)
    response = client.get(reverse("records:timeline"))
    assert response["Content-Security-Policy"] == "default-src 'none'"


def test_it_refuses_post_to_the_pages(bob):
    for name in ("records:day", "records:export", "records:timeline", "records:search"):
        assert bob.post(reverse(name), {"account": ALICE}).status_code in (403, 405)


def test_it_keeps_separate_clients_separate(bob):
    other = sign_in(Client(), ALICE)
    assert len(other.get(reverse("records:day")).context["rows"]) == 8
    assert len(bob.get(reverse("records:day")).context["rows"]) == 1
