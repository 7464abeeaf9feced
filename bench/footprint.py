"""What one event costs PostgreSQL: bytes on disk (heap, each index) and CPU per row, for docs/scaling.md.

Usage: .venv/bin/python bench/footprint.py [--lines 1000000] [--accounts 5000] [--keep]
                                           [--skip-copy] [--database-url URL]

1. An embedded PostgreSQL in a fresh /tmp directory (or a scratch database on --database-url,
   where server CPU cannot be counted), migrated by alembic.
2. A generated day (ingest.generate, as bench/ingest.py writes it) loaded by the real
   `python -m ingest backfill`; PostgreSQL's CPU seconds meanwhile (postmaster and its
   children, /proc) per stored row.
3. Bytes per event of the event partitions: heap (main fork + TOAST + free space map +
   visibility map) and each index, from pg_relation_size after the backfill's ANALYZE.
4. The staff IP search (`ip = …`, the newest 50) for the busiest IP, through the (ip, ts)
   index and with index scans turned off (a scan of the heap): what the index buys.
5. COPY only: the same rows, parsed once in memory, COPYed into plain copies of the partition
   (autovacuum off, CHECKPOINT before each) with all its indexes, with all but (ip, ts), with
   none, and with each index alone; PostgreSQL CPU seconds per row, and rows per CPU-second.

The last line is machine-readable: `events=… heap_bytes_per_event=… …_bytes_per_event=…
total_bytes_per_event=… backfill_pg_cpu_us_per_row=… ip_search_index_ms=… ip_search_scan_ms=…
scan_mb_per_s=… copy_…_rows_per_cpu_s=… load=…`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

import psycopg  # noqa: E402

from bench.common import say  # noqa: E402
from bench.ingest import migrate, parse_file, run_backfill, scratch_database, server_cpu  # noqa: E402
from ingest.generate import write_log  # noqa: E402
from ingest.sink import EVENT_COLUMNS  # noqa: E402
from mailtrail.env import env_zone  # noqa: E402

# Each index of an event partition by a short name, told apart by its definition.
INDEX_NAMES = (
    ("(account, ts, id)", "pkey"),
    ("(ip, ts)", "ip_ts"),
    ("hash (message_id)", "message_id_hash"),
    ("message_id, 3)", "truncated_message_id"),  # right(message_id, 3) = '...'
    ("(ts)", "ts"),
)


def index_key(definition: str) -> str:
    for needle, key in INDEX_NAMES:
        if needle in definition:
            return key
    return "other"


def partitions(conn: psycopg.Connection) -> list[str]:
    """The event partitions that hold rows, the fullest first (empty ones made ahead are left out)."""
    rows = conn.execute(
        "SELECT tableoid::regclass::text, count(*) FROM event GROUP BY 1 ORDER BY 2 DESC"
    ).fetchall()
    return [name for name, _ in rows]


def sizes(conn: psycopg.Connection, tables: list[str]) -> dict[str, int]:
    """Bytes of the tables' heaps (with TOAST, FSM, VM) and of each index, by index key."""
    out = {"heap": 0}
    for table in tables:
        out["heap"] += conn.execute("SELECT pg_table_size(%s::regclass)", (table,)).fetchone()[0]
        for name, definition in conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", (table,)
        ).fetchall():
            key = index_key(definition)
            out[key] = (
                out.get(key, 0) + conn.execute("SELECT pg_relation_size(%s::regclass)", (name,)).fetchone()[0]
            )
    return out


def ip_search(url: str, runs: int = 5) -> tuple[float, float]:
    """Median ms of the staff IP search (`ip = …`, newest 50) through the (ip, ts) index, and
    with index scans turned off (a scan of the heap): what the index buys, for the busiest IP."""
    query = "SELECT * FROM event WHERE ip = %s ORDER BY ts DESC LIMIT 50"
    with psycopg.connect(url, autocommit=True) as conn:
        ip = conn.execute(
            "SELECT ip FROM event WHERE ip IS NOT NULL GROUP BY ip ORDER BY count(*) DESC, ip LIMIT 1"
        ).fetchone()[0]

        def median_ms() -> float:
            took = []
            for _ in range(runs + 1):  # the first run warms the cache and is dropped
                started = time.perf_counter()
                conn.execute(query, (ip,)).fetchall()
                took.append((time.perf_counter() - started) * 1000)
            return statistics.median(took[1:])

        indexed = median_ms()
        conn.execute("SET enable_indexscan = off")
        conn.execute("SET enable_bitmapscan = off")
        return indexed, median_ms()


def copy_configs(conn: psycopg.Connection, partition: str) -> list[tuple[str, list[str]]]:
    """(name, the partition's index definitions to build) for each COPY-only run."""
    defs = [d for (d,) in conn.execute("SELECT indexdef FROM pg_indexes WHERE tablename = %s", (partition,))]
    by_key = {index_key(d): d for d in defs}
    configs = [("all", defs), ("all_but_ip_ts", [d for k, d in by_key.items() if k != "ip_ts"]), ("heap", [])]
    configs += [(f"only_{key}", [d]) for key, d in by_key.items()]
    return configs


def copy_run(
    url: str, pgdata: Path | None, partition: str, indexes: list[str], rows: list[tuple]
) -> float | None:
    """COPY rows into a fresh plain copy of the partition with these indexes; PostgreSQL CPU s."""
    table = "footprint_copy"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(
            f"CREATE TABLE {table} (LIKE {partition} INCLUDING DEFAULTS INCLUDING CONSTRAINTS) "
            "WITH (autovacuum_enabled = false)"
        )
        for n, definition in enumerate(indexes):
            # the partition's own definition, pointed at the copy: same method, columns, predicate
            head, _, rest = definition.partition(f" ON public.{partition} ")
            unique = "UNIQUE " if head.startswith("CREATE UNIQUE") else ""
            conn.execute(f"CREATE {unique}INDEX footprint_idx_{n} ON {table} {rest}")
        conn.execute("CHECKPOINT")
        before = server_cpu(pgdata)
        with conn.transaction(), conn.cursor() as cur:
            with cur.copy(f"COPY {table} ({', '.join(EVENT_COLUMNS)}) FROM STDIN") as copy:
                write_row = copy.write_row
                for row in rows:
                    write_row(row)
        after = server_cpu(pgdata)
        conn.execute(f"DROP TABLE {table}")
    return None if before is None or after is None else after - before


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000, help="log lines of the day (default: 1,000,000)")
    ap.add_argument("--accounts", type=int, default=5000, help="mailbox accounts (default: 5000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--skip-copy", action="store_true", help="no COPY-only runs")
    ap.add_argument("--keep", action="store_true", help="keep the log and the database")
    ap.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", ""),
        help="a server to create a scratch database on (default: $DATABASE_URL, else an embedded "
        "PostgreSQL in a temporary directory; CPU is only counted for the embedded one)",
    )
    args = ap.parse_args()

    with scratch_database(args.database_url, "footprint", keep=args.keep) as (work, url, pgdata):
        return measure(args, url, work, pgdata)


def measure(args: argparse.Namespace, url: str, work: Path, pgdata: Path | None) -> int:
    migrate(url)
    tz = env_zone("MAILTRAIL_TZ")
    now = datetime.now(tz)
    log = work / "mail.log"
    load0 = os.getloadavg()[0]
    say(f"load average before: {load0:.2f} on {os.cpu_count()} CPUs")
    write_log(log, args.lines, 1, args.accounts, args.seed, now, tz=tz)
    say(
        f"generate: {args.lines:,} lines over one day, {args.accounts:,} accounts, {log.stat().st_size / 1e6:,.0f} MB"
    )

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")
    before = server_cpu(pgdata)
    took, ingest_cpu, *_ = run_backfill(url, log)
    after = server_cpu(pgdata)
    with psycopg.connect(url) as conn:
        events = conn.execute("SELECT count(*) FROM event").fetchone()[0]
        tables = partitions(conn)
        size = sizes(conn, tables)
    pg_cpu = None if before is None or after is None else after - before
    backfill_us = pg_cpu / events * 1e6 if pg_cpu is not None else float("nan")
    say(
        f"backfill: {events:,} events in {took:.1f}s; CPU s: ingest {ingest_cpu:.2f}, PostgreSQL "
        f"{'?' if pg_cpu is None else f'{pg_cpu:.2f}'} ({backfill_us:.2f} µs a row)"
    )
    say(f"bytes per event, {events:,} events in {', '.join(tables)}:")
    fields = [f"events={events}"]
    for key in ("heap", *(k for _, k in INDEX_NAMES), "other"):
        if key in size:
            say(f"    {key:22} {size[key] / events:8.1f}   ({size[key] / 1e6:,.1f} MB)")
            fields.append(f"{key}_bytes_per_event={size[key] / events:.1f}")
    total = sum(size.values())
    say(f"    {'total':22} {total / events:8.1f}   ({total / 1e6:,.1f} MB)")
    fields += [f"total_bytes_per_event={total / events:.1f}", f"backfill_pg_cpu_us_per_row={backfill_us:.2f}"]

    indexed_ms, scan_ms = ip_search(url)
    heap_mb = size["heap"] / 1e6
    say(
        f"staff IP search (a page of 50, newest first), median of 5 warm runs: {indexed_ms:.2f} ms "
        f"through (ip, ts), {scan_ms:.1f} ms without it (a scan of {heap_mb:,.0f} MB of heap: "
        f"{heap_mb / scan_ms * 1000:,.0f} MB/s)"
    )
    fields += [
        f"ip_search_index_ms={indexed_ms:.2f}",
        f"ip_search_scan_ms={scan_ms:.1f}",
        f"scan_mb_per_s={heap_mb / scan_ms * 1000:.0f}",
    ]

    if not args.skip_copy:
        rows, _ = parse_file(log, tz, now, source_id=1)
        say(f"COPY only, {len(rows):,} rows into a plain copy of {tables[0]} (PostgreSQL CPU):")
        with psycopg.connect(url) as conn:
            configs = copy_configs(conn, tables[0])
        for name, indexes in configs:
            started = time.perf_counter()
            cpu = copy_run(url, pgdata, tables[0], indexes, rows)
            wall = time.perf_counter() - started
            if cpu is None or cpu <= 0:
                say(f"    {name:26} {wall:6.2f}s wall; CPU not counted (not an embedded server)")
                continue
            say(
                f"    {name:26} {cpu / len(rows) * 1e6:6.2f} µs a row, {len(rows) / cpu:10,.0f} rows per CPU-second"
            )
            fields.append(f"copy_{name}_rows_per_cpu_s={len(rows) / cpu:.0f}")
    load1 = os.getloadavg()[0]
    say(f"load average after: {load1:.2f}")
    fields.append(f"load={max(load0, load1):.2f}")
    say(" ".join(fields))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
