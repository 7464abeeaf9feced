"""How fast valid lines are stored from a log that is 10 % hostile, against a clean log, in one run.

Usage: .venv/bin/python bench/hostile.py [--valid 300000] [--database-url URL]

Writes two logs with tests/hostile_log.py: the same valid logins, once alone (clean) and once
with hostile lines making up ~10 % of the lines (random bytes, Latin-1 lines, 4,000-character
and NUL user names, impossible years, a clock jump, a 70 KiB line). Backfills each into an
empty database (`python -m ingest backfill`, a child process) and compares valid lines
stored per second of wall time and per CPU-second of the ingest process (the machine is
shared: CPU-seconds are the steadier figure). Goal: hostile >= 70 % of clean. The last line
is machine-readable: `… hostile_vs_clean=…` (by CPU-seconds).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

import sqlalchemy as sa  # noqa: E402

from bench.common import add_database_url, say  # noqa: E402
from bench.ingest import migrate, run_backfill, scratch_database  # noqa: E402
from mailtrail.database import sqlalchemy_url  # noqa: E402
from tests.hostile_log import write_hostile_log  # noqa: E402

GOAL = 0.70


def measure(url: str, log: Path, name: str) -> tuple[float, float, int]:
    """Backfill a log into emptied tables: (seconds, CPU-seconds of the ingest process, events)."""
    engine = sa.create_engine(sqlalchemy_url(url), poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE event, source, bad_line RESTART IDENTITY CASCADE"))
    took, cpu, rss_mb, stderr = run_backfill(url, log)
    with engine.connect() as conn:
        valid = conn.execute(sa.text("SELECT count(*) FROM event WHERE session LIKE 'V%'")).scalar_one()
        bad = conn.execute(sa.text("SELECT count(*) FROM bad_line")).scalar_one()
    engine.dispose()
    for line in stderr.strip().splitlines():
        say(f"    {line}")
    say(
        f"{name}: {valid:,} valid events, {bad:,} bad lines in {took:.2f}s ({valid / took:,.0f}/s), "
        f"{cpu:.2f} CPU-s ({valid / cpu:,.0f} per CPU-s), peak RSS {rss_mb:.0f} MB"
    )
    return took, cpu, valid


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--valid", type=int, default=300_000, help="valid login lines (default: 300,000)")
    add_database_url(ap)
    args = ap.parse_args()
    with scratch_database(args.database_url, "hostile") as (work, url, _):
        migrate(url)
        say(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
        # ~10 % of lines hostile: a tenth as many Latin-1 lines as valid ones (half of
        # them failed logins, stored repaired), and random bytes for as many lines again
        n = args.valid // 18
        started = time.perf_counter()
        clean = write_hostile_log(work / "clean.log", valid=args.valid, random_bytes=0, latin1=0, odd=False)
        hostile = write_hostile_log(work / "hostile.log", valid=args.valid, latin1=n, random_bytes=n * 256)
        share = len(hostile.hostile) / hostile.lines
        say(
            f"generate: clean {clean.lines:,} lines, hostile {hostile.lines:,} lines ({share:.1%} hostile, "
            f"{hostile.size / 1e6:.0f} MB) in {time.perf_counter() - started:.1f}s"
        )
        clean_s, clean_cpu, clean_n = measure(url, clean.path, "clean")
        hostile_s, hostile_cpu, hostile_n = measure(url, hostile.path, "hostile")
        if clean_n != args.valid or hostile_n != args.valid:
            say(
                f"WARNING: valid events stored: clean {clean_n:,}, hostile {hostile_n:,}, expected {args.valid:,}"
            )
        by_cpu = clean_cpu / hostile_cpu
        by_wall = clean_s / hostile_s
        say(f"goal: hostile >= {GOAL:.0%} of clean (by CPU-seconds): {'met' if by_cpu >= GOAL else 'MISSED'}")
        say(
            f"valid={args.valid} hostile_share={share:.3f} clean_per_s={clean_n / clean_s:.0f} "
            f"hostile_per_s={hostile_n / hostile_s:.0f} hostile_vs_clean_wall={by_wall:.2f} "
            f"hostile_vs_clean={by_cpu:.2f}"
        )
        return 0


if __name__ == "__main__":
    sys.exit(main())
