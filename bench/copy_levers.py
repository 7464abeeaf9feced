"""What a COPY of events costs PostgreSQL under each write-side lever, against the plain COPY.

Usage: .venv/bin/python bench/copy_levers.py [--lines 1000000] [--rounds 2]

Generates a log (ingest.generate), parses it once outside every timing, then in an embedded
PostgreSQL times one COPY of all its events per variant and round, rounds interleaved so
that the neighbours' load falls on every variant alike:

  plain      COPY event (…) FROM STDIN, text, pgserver's default settings (the baseline:
             what ingest/sink.py does today)
  binary     the same rows as COPY … (FORMAT BINARY) (ip as ipaddress objects, converted
             outside the timing)
  partition  text COPY straight into the month's partition, no tuple routing
  tuned      text COPY after a restart with shared_buffers=512MB, max_wal_size=8GB,
             checkpoint_timeout=30min, wal_buffers=64MB (put back to the defaults afterwards)
  no_fpw     tuned and full_page_writes=off (not a production setting: it measures what
             full-page images cost)

For each: wall seconds, PostgreSQL CPU µs a row (postmaster and backends, /proc), the
client's CPU µs a row, WAL bytes a row, and the ratio of PostgreSQL CPU to the plain
COPY's in the same round. The last line is `name=value` pairs: median PostgreSQL µs a row
per variant and its ratio to plain.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

import psycopg  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from bench.common import say  # noqa: E402
from bench.ingest import add_source, migrate, parse_file, scratch_database, server_cpu  # noqa: E402
from ingest.generate import write_log  # noqa: E402
from ingest.partitions import ensure_partitions, month_start, partition_name  # noqa: E402
from ingest.sink import EVENT_COLUMNS  # noqa: E402
from mailtrail.database import sqlalchemy_url  # noqa: E402
from mailtrail.env import env_zone  # noqa: E402

TUNED = {
    "shared_buffers": "512MB",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "30min",
    "wal_buffers": "64MB",
}
VARIANTS = {  # name: (server settings, COPY target, binary)
    "plain": ({}, "event", False),
    "binary": ({}, "event", True),
    "partition": ({}, "partition", False),
    "tuned": (TUNED, "event", False),
    "no_fpw": ({**TUNED, "full_page_writes": "off"}, "event", False),
}


def restart(url: str, pgdata: Path, settings: dict[str, str]) -> None:
    """Put exactly `settings` into postgresql.auto.conf and restart the embedded server."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER SYSTEM RESET ALL")
        for name, value in settings.items():
            conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
    import pgserver._commands as commands

    # as root, pgserver runs the server as its own user; pg_ctl must be that user too.
    # Output to files, not pipes: pg_ctl's server inherits them and a pipe never closes.
    user = "pgserver" if os.geteuid() == 0 else None
    subprocess.run(
        [str(commands.POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(pgdata), "-w", "-m", "fast", "restart"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, user=user,
    )  # fmt: skip


def copy_once(url: str, rows: list[tuple], target: str, binary: bool, types: list[str]) -> float:
    columns = ", ".join(EVENT_COLUMNS)
    with psycopg.connect(url) as conn:
        started = time.perf_counter()
        with (
            conn.cursor() as cur,
            cur.copy(
                f"COPY {target} ({columns}) FROM STDIN" + (" (FORMAT BINARY)" if binary else "")
            ) as copy,
        ):
            if binary:
                copy.set_types(types)
            write_row = copy.write_row
            for row in rows:
                write_row(row)
        conn.commit()
        return time.perf_counter() - started


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000, help="log lines (default: 1,000,000)")
    ap.add_argument("--rounds", type=int, default=2, help="COPYs per variant (default: 2)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    with scratch_database("", "copy") as (work, url, pgdata):
        return bench(args, url, work, pgdata)


def bench(args: argparse.Namespace, url: str, work: Path, pgdata: Path) -> int:
    migrate(url)
    tz = env_zone("MAILTRAIL_TZ")
    now = datetime.now(tz)
    log = work / "mail.log"
    say(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    write_log(log, args.lines, 1, 5000, args.seed, now, tz=tz)
    engine = sa.create_engine(sqlalchemy_url(url), poolclass=sa.pool.NullPool)
    source_id = add_source(engine, log)
    engine.dispose()
    rows, _ = parse_file(log, tz, now, source_id)
    months = {month_start(row[0]) for row in rows}
    with psycopg.connect(url) as conn:
        with sa.create_engine(sqlalchemy_url(url), poolclass=sa.pool.NullPool).begin() as sconn:
            ensure_partitions(sconn, months)
        types = [
            t
            for (t,) in conn.execute(
                "SELECT format_type(a.atttypid, a.atttypmod) FROM unnest(%s::text[]) WITH ORDINALITY "
                "AS u(name, n) JOIN pg_attribute a ON a.attrelid = 'event'::regclass "
                "AND a.attname = u.name ORDER BY u.n",
                (list(EVENT_COLUMNS),),
            )
        ]
    # the partition variant needs one month; a log ending just after midnight on the 1st has two
    by_month = max(months, key=lambda m: sum(1 for row in rows if month_start(row[0]) == m))
    month_rows = [row for row in rows if month_start(row[0]) == by_month]
    binary_rows = [row[:5] + (ipaddress.ip_address(row[5]) if row[5] else None,) + row[6:] for row in rows]
    say(f"{len(rows):,} events parsed ({len(month_rows):,} in {partition_name(by_month)})")

    results: dict[str, list[tuple[float, float]]] = {name: [] for name in VARIANTS}  # (pg µs, ratio)
    settings_now: dict[str, str] | None = None
    for round_ in range(args.rounds):
        plain_us = None
        for name, (settings, target, binary) in VARIANTS.items():
            if settings != settings_now:
                restart(url, pgdata, settings)
                settings_now = settings
            data = month_rows if target == "partition" else binary_rows if binary else rows
            table = partition_name(by_month) if target == "partition" else "event"
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("TRUNCATE event")
                conn.execute("CHECKPOINT")
                wal0 = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
            server0, client0 = server_cpu(pgdata), time.process_time()
            took = copy_once(url, data, table, binary, types)
            server1, client1 = server_cpu(pgdata), time.process_time()
            with psycopg.connect(url, autocommit=True) as conn:
                wal = conn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)", (wal0,)).fetchone()[0]
            pg_us = (server1 - server0) / len(data) * 1e6
            plain_us = pg_us if name == "plain" else plain_us
            ratio = pg_us / plain_us
            results[name].append((pg_us, ratio))
            say(
                f"round {round_ + 1} {name:9}: {len(data):,} rows in {took:.2f}s; PostgreSQL "
                f"{pg_us:.2f} µs a row ({ratio:.2f} × plain), client "
                f"{(client1 - client0) / len(data) * 1e6:.2f} µs a row, WAL {float(wal) / len(data):.0f} "
                f"B a row; load {os.getloadavg()[0]:.2f}"
            )
    restart(url, pgdata, {})
    say(f"load average after: {os.getloadavg()[0]:.2f}")
    pairs = [f"events={len(rows)}"]
    for name, got in results.items():
        pairs.append(f"{name}_pg_us={statistics.median(us for us, _ in got):.2f}")
        pairs.append(f"{name}_ratio={statistics.median(r for _, r in got):.2f}")
    say(" ".join(pairs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
