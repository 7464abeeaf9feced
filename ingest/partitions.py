"""Monthly partitions of the event table: created ahead of need, dropped by retention."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime

import sqlalchemy as sa

# Partition bounds are UTC month starts; an event belongs to the month of its UTC time.
# Creation takes a transaction-level advisory lock so two ingesters never race on DDL.
_LOCK_KEY = 0x6D61696C  # "mail"


def month_start(ts: datetime) -> date:
    utc = ts.astimezone(UTC)
    return date(utc.year, utc.month, 1)


def next_month(month: date) -> date:
    return date(month.year + (month.month == 12), month.month % 12 + 1, 1)


def partition_name(month: date) -> str:
    return f"event_y{month.year:04d}m{month.month:02d}"


def existing_months(conn: sa.Connection) -> set[date]:
    rows = conn.execute(
        sa.text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'event'::regclass"
        )
    )
    months = set()
    for (name,) in rows:
        if name.startswith("event_y") and len(name) == len("event_y0000m00"):
            months.add(date(int(name[7:11]), int(name[12:14]), 1))
    return months


def ensure_partitions(conn: sa.Connection, months: Iterable[date]) -> list[str]:
    """Create the monthly partitions that are missing; returns the names created."""
    wanted = sorted(set(months))
    if not wanted:
        return []
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    have = existing_months(conn)
    created = []
    for month in wanted:
        if month in have:
            continue
        name = partition_name(month)
        conn.execute(
            sa.text(
                f"CREATE TABLE {name} PARTITION OF event FOR VALUES "
                f"FROM ('{month.isoformat()} 00:00+00') TO ('{next_month(month).isoformat()} 00:00+00')"
            )
        )
        created.append(name)
    return created


def expired_months(months: Iterable[date], cutoff: date) -> list[date]:
    """The months whose partition ends (its exclusive UTC bound) at or before `cutoff`."""
    return sorted(m for m in months if next_month(m) <= cutoff)


def drop_partitions_before(conn: sa.Connection, cutoff: date) -> list[str]:
    """Drop every monthly partition lying wholly before `cutoff` (UTC midnight); returns the names.

    DROP takes a brief exclusive lock on the parent table: with a lock timeout it gives up
    (and the transaction fails) rather than stall the web site's readers behind it.
    """
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    conn.execute(sa.text("SET LOCAL lock_timeout = '5s'"))
    dropped = []
    for month in expired_months(existing_months(conn), cutoff):
        name = partition_name(month)
        conn.execute(sa.text(f"DROP TABLE {name}"))
        dropped.append(name)
    return dropped


def months_around(today: date, behind: int = 1, ahead: int = 2) -> list[date]:
    """The current month, `behind` months before it and `ahead` after it."""
    month = date(today.year, today.month, 1)
    for _ in range(behind):
        month = date(month.year - (month.month == 1), (month.month - 2) % 12 + 1, 1)
    out = []
    for _ in range(behind + 1 + ahead):
        out.append(month)
        month = next_month(month)
    return out
