"""Retention: create the coming months' event partitions and drop those wholly past the policy.

The policy is MAILTRAIL_RETENTION_DAYS (default 180; the reasoning is in docs/operations.md:
IP addresses are personal data, kept only as long as owners and the help desk need them).
Data goes a whole monthly partition at a time, and only when ALL of the partition is older
than the cutoff: an event is never dropped before its time, and is kept at most one month
longer than the policy says. Dropping a partition is instant and leaves no dead rows behind,
unlike DELETE.
"""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from mailtrail.env import env_int

from ingest.partitions import (
    drop_partitions_before,
    ensure_partitions,
    existing_months,
    expired_months,
    months_around,
    partition_name,
)

DEFAULT_DAYS = 180
MONTHS_AHEAD = 2  # partitions exist this many months ahead, so ingest never waits on DDL


def retention_days() -> int:
    return env_int("MAILTRAIL_RETENTION_DAYS", DEFAULT_DAYS, minimum=1)


def cutoff_of(today: date, days: int) -> date:
    """Events before this UTC midnight are past the policy."""
    return today - timedelta(days=days)


# An event time the source cannot plausibly have written (a reset clock's 1970, a forged
# 9999, year 1) is a bad line, never an event: it would create a partition of its own (722
# for one 1970 line next to today's) or one the retention policy drops at once.
FUTURE_SLACK = timedelta(days=1)


def plausible_window(
    days: int, newest: datetime | None, now: datetime | None = None
) -> tuple[datetime, datetime]:
    """(oldest, latest) event time to store for a source: from the retention cutoff to a day
    after the newest time the source has shown, or after now if that is later."""
    now = now or datetime.now(UTC)
    cutoff = cutoff_of(now.date(), days)
    oldest = datetime(cutoff.year, cutoff.month, cutoff.day, tzinfo=UTC)
    latest = max(now, newest) if newest is not None else now
    return oldest, latest + FUTURE_SLACK


def apply_retention(
    engine_or_conn: sa.Engine | sa.Connection,
    days: int,
    today: date | None = None,
    dry_run: bool = False,
) -> tuple[list[str], list[str]]:
    """Create this month's and the next MONTHS_AHEAD partitions; drop the expired ones.

    Returns (created, dropped) partition names; with dry_run, what would be, changing nothing.
    Given an Engine, it runs in a transaction of its own; given a Connection, in the caller's.
    """
    if days < 1:
        raise ValueError(f"retention must be at least one day, got {days}")
    today = today or datetime.now(UTC).date()
    wanted = months_around(today, behind=0, ahead=MONTHS_AHEAD)
    cutoff = cutoff_of(today, days)
    if isinstance(engine_or_conn, sa.Engine):
        with engine_or_conn.begin() as conn:
            return _apply(conn, wanted, cutoff, dry_run)
    return _apply(engine_or_conn, wanted, cutoff, dry_run)


def _apply(
    conn: sa.Connection, wanted: list[date], cutoff: date, dry_run: bool
) -> tuple[list[str], list[str]]:
    if dry_run:
        have = existing_months(conn)
        created = [partition_name(m) for m in wanted if m not in have]
        return created, [partition_name(m) for m in expired_months(have, cutoff)]
    created = ensure_partitions(conn, wanted)
    return created, drop_partitions_before(conn, cutoff)


def retention_command(args: argparse.Namespace) -> int:
    from ingest.commands import make_engine

    days = retention_days()
    engine = make_engine()
    try:
        created, dropped = apply_retention(engine, days, dry_run=args.dry_run)
    finally:
        engine.dispose()
    cutoff = cutoff_of(datetime.now(UTC).date(), days)
    verb = "would " if args.dry_run else ""
    print(f"retention: {days} days, events before {cutoff.isoformat()} 00:00 UTC are past it")
    for name in created:
        print(f"{verb}create {name}")
    for name in dropped:
        print(f"{verb}drop {name}")
    if not created and not dropped:
        print("nothing to do")
    return 0
