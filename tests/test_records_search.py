"""The Message-ID search: "where did this message go?" over the account's whole retention."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from tests.test_records_support import (  # noqa: F401
    ALICE,
    BOB,
    at,
    insert_event,
    records_partitions,
    records_setup,
    sign_in,
    today,
)
from webui.records.queries import message_id_forms, search_message_id

pytestmark = pytest.mark.django_db

LONG = "<CAHx=+7Vq8aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789abcdefghijklmnop.qrstuvwxyz.0123456789@mail.gmail.com>"


def _found(pasted: str, account: str = ALICE) -> list[str]:
    return [r.event.message_id for r in search_message_id(account, pasted)]


@pytest.mark.parametrize(
    "pasted",
    ["<short@example.org>", "short@example.org", "  <short@example.org> ", "Message-ID: <short@example.org>"],
)
def test_it_finds_a_message_id_however_it_was_pasted(pasted):
    insert_event(at(today(), "09:00:00"), "imap", "message_delete", message_id="<short@example.org>")
    assert _found(pasted) == ["<short@example.org>"]


def test_it_finds_a_message_id_that_dovecot_cut_at_80_characters():
    assert len(LONG) > 80
    insert_event(at(today(), "09:00:00"), "imap", "message_delete", message_id=LONG[:80] + "...")
    insert_event(at(today(), "09:01:00"), "imap", "flag_delete", message_id=LONG[:77] + "...")
    assert _found(LONG) == [LONG[:77] + "...", LONG[:80] + "..."]
    assert _found(LONG[1:-1]) == [LONG[:77] + "...", LONG[:80] + "..."]


def test_it_does_not_match_a_different_message_sharing_a_shorter_prefix():
    insert_event(at(today(), "09:00:00"), "imap", "message_delete", message_id=LONG[:80] + "...")
    other = LONG[:60] + "different-tail@example.org>"
    assert _found(other) == []
    assert _found("...") == []
    assert _found("<>") == []


def test_it_searches_back_over_earlier_months_newest_first():
    old = insert_event(
        at(today() - timedelta(days=70), "09:00:00"), "pop3", "message_delete", message_id="<m@x>"
    )
    new = insert_event(
        at(today(), "09:00:00"), "imap", "copy", message_id="<m@x>", mailbox="INBOX", mailbox_to="Trash"
    )
    assert [r.event.id for r in search_message_id(ALICE, "<m@x>")] == [new, old]


def test_it_finds_only_the_accounts_own_messages():
    insert_event(at(today(), "09:00:00"), "imap", "message_delete", account=BOB, message_id="<m@x>")
    assert _found("<m@x>") == []
    assert _found("<m@x>", BOB) == ["<m@x>"]


def test_it_strips_brackets_and_the_header_name():
    assert message_id_forms("Message-ID: <a@b>") == ("<a@b>", "a@b")
    assert message_id_forms("a@b") == ("<a@b>", "a@b")


def test_it_shows_the_hits_with_date_type_and_folder(client):
    insert_event(
        at(today(), "09:00:00"),
        "imap",
        "copy",
        message_id="<m@x>",
        mailbox="INBOX",
        mailbox_to="Trash",
        ip="192.0.2.8",
    )
    sign_in(client, ALICE)
    response = client.get(reverse("records:search"), {"q": "<m@x>"}, HTTP_ACCEPT_LANGUAGE="en")
    body = response.content.decode()
    assert response.status_code == 200
    assert f"{today():%Y-%m-%d} 09:00:00" in body
    assert "Copied or moved" in body and "Trash" in body and "192.0.2.8" in body


def test_it_says_plainly_when_nothing_matches(client):
    sign_in(client, ALICE)
    response = client.get(reverse("records:search"), {"q": "<nothing@x>"}, HTTP_ACCEPT_LANGUAGE="en")
    assert "No record mentions this Message-ID." in response.content.decode()


def test_it_rejects_an_overlong_query_with_a_form_error(client):
    sign_in(client, ALICE)
    response = client.get(reverse("records:search"), {"q": "x" * 2000})
    assert response.status_code == 400
    assert response.context["search_form"].errors


def test_the_cut_short_read_is_served_by_its_partial_index_not_by_the_accounts_rows():
    # A mailbox with a month of ordinary deletions and one cut-short Message-ID: the plan must
    # read the partial index, not walk all of the account's rows by the primary key.
    from django.db import connection

    from webui.records.queries import cut_short_matches

    logged = LONG[:77] + "..."
    insert_event(at(today(), "09:00:00"), "imap", "message_delete", message_id=logged)
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO event (ts, host, protocol, kind, account, message_id, source_id, line_offset) "
            "SELECT now() - n * interval '1 minute', 'mx1', 'imap', 'message_delete', %s, "
            "'<' || n || '@example.org>', 1, n FROM generate_series(1, 5000) AS n",
            [ALICE],
        )
        cur.execute("ANALYZE event")
        cur.execute("SELECT indexname FROM pg_indexes WHERE indexdef LIKE %s", ['%"right"(message_id, 3)%'])
        partial = {name for (name,) in cur.fetchall()}
        full, core = message_id_forms(LONG)
        sql, params = cut_short_matches(ALICE, full, core)[:200].query.sql_with_params()
        cur.execute("EXPLAIN " + sql, params)
        plan = "\n".join(line for (line,) in cur.fetchall())
    assert partial, "migration 0003's index is missing"
    assert any(name in plan for name in partial), plan
    assert _found(LONG) == [logged]
