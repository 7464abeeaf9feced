"""Retention on real partitions: coming months created, a month dropped only when wholly expired."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date

import pytest
import sqlalchemy as sa

from ingest.partitions import ensure_partitions, existing_months
from ingest.retention import apply_retention
from tests.conftest import PROJECT_DIR

# Far in the past, so that no other test's partition (around today) is ever past the cutoff.
TODAY = date(2015, 6, 15)
MONTHS = [date(2015, m, 1) for m in range(1, 7)]


@pytest.fixture
def old_months(engine):
    with engine.begin() as conn:
        ensure_partitions(conn, MONTHS)
        conn.execute(sa.text("DELETE FROM event WHERE account = 'retention-test'"))
    yield engine
    with engine.begin() as conn:
        for month in existing_months(conn):
            if month.year == 2015:
                conn.execute(sa.text(f"DROP TABLE event_y2015m{month.month:02d}"))


def insert(engine, ts: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO event (ts, protocol, kind, account, ip, source_id, line_offset) "
                "VALUES (:ts, 'imap', 'login', 'retention-test', '192.0.2.9', 0, 0)"
            ),
            {"ts": ts},
        )


def stamps(engine) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD') FROM event WHERE account = 'retention-test' ORDER BY ts"
            )
        )
        return [r[0] for r in rows]


def of_2015(names: list[str]) -> list[str]:
    """Only this test's partitions: other tests leave older ones (2011) that retention also drops."""
    return [n for n in names if n.startswith("event_y2015")]


def months_2015(engine) -> list[int]:
    with engine.connect() as conn:
        return sorted(m.month for m in existing_months(conn) if m.year == 2015)


def test_it_drops_a_month_only_when_all_of_it_is_past_the_cutoff(old_months):
    insert(old_months, "2015-02-28 23:59:59+00")
    insert(old_months, "2015-03-01 00:00:00+00")  # before the cutoff (03-17), but its month is not
    created, dropped = apply_retention(old_months, days=90, today=TODAY)  # cutoff 2015-03-17
    assert of_2015(dropped) == ["event_y2015m01", "event_y2015m02"]
    assert created == ["event_y2015m07", "event_y2015m08"]
    assert months_2015(old_months) == [3, 4, 5, 6, 7, 8]
    assert stamps(old_months) == ["2015-03-01"]


def test_a_month_ending_exactly_at_the_cutoff_is_dropped(old_months):
    _created, dropped = apply_retention(old_months, days=(TODAY - date(2015, 4, 1)).days, today=TODAY)
    assert of_2015(dropped) == ["event_y2015m01", "event_y2015m02", "event_y2015m03"]


def test_a_dry_run_says_what_it_would_do_and_changes_nothing(old_months):
    insert(old_months, "2015-01-10 12:00+00")
    created, dropped = apply_retention(old_months, days=90, today=TODAY, dry_run=True)
    assert created == ["event_y2015m07", "event_y2015m08"]
    assert of_2015(dropped) == ["event_y2015m01", "event_y2015m02"]
    assert months_2015(old_months) == [1, 2, 3, 4, 5, 6]
    assert stamps(old_months) == ["2015-01-10"]


def test_it_runs_inside_the_callers_transaction(old_months):
    with old_months.connect() as conn:
        with conn.begin() as tx:
            _created, dropped = apply_retention(conn, days=90, today=TODAY)
            tx.rollback()
    assert dropped and months_2015(old_months) == [1, 2, 3, 4, 5, 6]


def test_it_refuses_a_policy_of_no_days(old_months):
    with pytest.raises(ValueError, match="at least one day"):
        apply_retention(old_months, days=0, today=TODAY)


def run_command(days: str):
    env = {**os.environ, "MAILTRAIL_RETENTION_DAYS": days}
    return subprocess.run(
        [sys.executable, "-m", "ingest", "retention", "--dry-run"],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_command_reads_the_policy_from_the_environment(database_url):
    done = run_command("400")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("retention: 400 days, events before ")


def test_the_command_names_a_malformed_policy_variable(database_url):
    done = run_command("half a year")
    assert done.returncode == 2
    assert "MAILTRAIL_RETENTION_DAYS" in done.stderr
