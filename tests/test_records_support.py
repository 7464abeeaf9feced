"""Helpers shared by the records tests: personas and events written straight into the event table."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.db import connection

ALICE = "alice@example.edu"
BOB = "bob@example.edu"
PASSWORD = "correct horse battery staple"

_COLUMNS = (
    "ts host protocol kind account ip session pid deleted messages size deleted_bytes expunged trashed "
    "bytes_in bytes_out mailbox mailbox_to message_id uid attempts reason client_name client_version client_os "
    "client_vendor source_id line_offset"
).split()


def zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def at(day: date, clock: str) -> datetime:
    """An aware time on `day` in the site's zone, e.g. at(today, "09:15:02")."""
    return datetime.combine(day, time.fromisoformat(clock), tzinfo=zone())


def today() -> date:
    return datetime.now(zone()).date()


def yesterday() -> date:
    return today() - timedelta(days=1)


def insert_event(ts: datetime, protocol: str, kind: str, account: str = ALICE, **values: object) -> int:
    """Write one event row as the ingester would (raw SQL: Django never writes this table)."""
    row = {"ts": ts, "host": "mx1", "protocol": protocol, "kind": kind, "account": account}
    row.update({"source_id": 1, "line_offset": 0})
    unknown = set(values) - set(_COLUMNS)
    assert not unknown, f"no such event columns: {unknown}"
    row.update(values)
    names = [c for c in _COLUMNS if c in row]
    sql = f"INSERT INTO event ({', '.join(names)}) VALUES ({', '.join(['%s'] * len(names))}) RETURNING id"  # noqa: S608
    with connection.cursor() as cur:
        cur.execute(sql, [row[c] for c in names])
        return cur.fetchone()[0]


def insert_source(last_event_ts: datetime | None) -> None:
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO source (fingerprint, path, host, last_event_ts) VALUES (%s, %s, %s, %s)",
            [f"fp-{last_event_ts}", "/var/log/dovecot.log", "mx1", last_event_ts],
        )


def alice_day(day: date) -> dict[str, int]:
    """Alice's morning on `day`: one of each seed type, from two IPs; returns their ids by name."""
    ids = {}
    ids["pop3_login"] = insert_event(
        at(day, "08:00:00"), "pop3", "login", ip="140.112.8.9", session=f"pop3-{day}"
    )
    ids["pop3_delete"] = insert_event(
        at(day, "08:00:05"), "pop3", "message_delete", ip="140.112.8.9", session=f"pop3-{day}",
        mailbox="INBOX", message_id="<pop3-taken@example.org>", size=2048,
    )  # fmt: skip
    ids["pop3_logout"] = insert_event(
        at(day, "08:00:09"), "pop3", "logout", ip="140.112.8.9", session=f"pop3-{day}",
        deleted=1, messages=12, size=5 * 1_048_576, reason="Logged out",
    )  # fmt: skip
    ids["auth_fail"] = insert_event(
        at(day, "09:30:00"), "imap", "auth_fail", ip="203.0.113.7", attempts=3, reason="auth failed"
    )
    ids["imap_login"] = insert_event(
        at(day, "10:00:00"), "imap", "login", ip="203.0.113.7", session=f"imap-{day}"
    )
    ids["imap_delete"] = insert_event(
        at(day, "10:01:00"), "imap", "message_delete", ip="203.0.113.7", session=f"imap-{day}",
        mailbox="Archive", message_id="<imap-gone@example.org>",
    )  # fmt: skip
    ids["mailbox_delete"] = insert_event(
        at(day, "10:02:00"),
        "imap",
        "mailbox_delete",
        ip="203.0.113.7",
        session=f"imap-{day}",
        mailbox="Old stuff",
    )
    ids["imap_logout"] = insert_event(
        at(day, "10:05:00"), "imap", "logout", ip="203.0.113.7", session=f"imap-{day}", expunged=1, trashed=0
    )
    return ids


def ensure_test_partitions(engine) -> None:
    """Monthly partitions for every date the records tests use (today back to 100 days ago)."""
    from ingest.partitions import ensure_partitions, month_start

    first = datetime.now(zone()) - timedelta(days=100)
    months = {month_start(first + timedelta(days=n)) for n in range(0, 132, 10)}
    with engine.begin() as conn:
        ensure_partitions(conn, months)


def sign_in(client, username: str):
    """`client`, signed in as the owner of the mailbox `username` (as the IMAP backend signs one in)."""
    from django.contrib.auth import get_user_model

    from webui.accounts import IMAP_BACKEND

    user, _ = get_user_model().objects.get_or_create(username=username)
    client.force_login(user, backend=IMAP_BACKEND)
    return client


# Fixtures: a records test module imports both names (marked noqa F401), and its tests then run
# with partitions for their dates and with a test client that may speak plain HTTP.
@pytest.fixture(scope="session")
def records_partitions(engine) -> None:
    ensure_test_partitions(engine)


@pytest.fixture(autouse=True)
def records_setup(records_partitions, settings) -> None:
    settings.SECURE_SSL_REDIRECT = False  # the test client speaks plain HTTP
