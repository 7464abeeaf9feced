"""The ingest process's CPU for COPYing events: the compiled encoder against psycopg's write_row.

Usage: .venv/bin/python bench/copy_client.py [--lines 2000000] [--rounds 3] [--batch 9700]

Generates a log as bench/ingest.py does, parses it once outside every timing, then in an
embedded PostgreSQL COPYs all its events once per variant and round (rounds interleaved,
so that the neighbours' load falls on every variant alike; the table emptied between):

  psycopg        copy_events with ingest/_fastcopy.pyx off: psycopg's write_row and the
                 sink's dumpers (main before the compiled encoder; the baseline)
  compiled       copy_events with the compiled encoder (ingest.speedups.fastcopy)
  sink_psycopg   Sink.commit of the same rows in batches of --batch events (a 25,000-line
                 batch of the generated log holds ~9,700): the writer thread's whole work —
                 IPs from logins, orphans, COPY, checkpoint — with the encoder off
  sink_compiled  the same with the encoder on

CPU is this process's (time.process_time: the writer's GIL time, which the parser waits
for), in seconds and µs a row, with its ratio to the baseline of its pair in the same round;
PostgreSQL's CPU (/proc) is printed for reference. The last line is `name=value` pairs:
median client CPU seconds per variant and the compiled/psycopg ratios.
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
import sqlalchemy as sa  # noqa: E402

from bench.common import add_database_url, say  # noqa: E402
from bench.ingest import add_source, migrate, parse_file, scratch_database, server_cpu  # noqa: E402
from ingest import speedups  # noqa: E402
from ingest.generate import write_log  # noqa: E402
from ingest.partitions import ensure_partitions, month_start  # noqa: E402
from ingest.sink import Batch, Sink, copy_events  # noqa: E402
from mailtrail.database import sqlalchemy_url  # noqa: E402
from mailtrail.env import env_zone  # noqa: E402

VARIANTS = ("psycopg", "compiled", "sink_psycopg", "sink_compiled")
BASELINE = {"compiled": "psycopg", "sink_compiled": "sink_psycopg"}


def copy_all(url: str, rows: list[tuple], compiled: bool) -> None:
    with psycopg.connect(url) as conn:
        copy_events(conn.cursor(), rows, compiled=compiled)
        conn.commit()


def commit_all(engine: sa.Engine, batches: list[tuple[list[tuple], datetime, datetime]], n: int) -> None:
    """Sink.commit of every batch, in order, as the backfill's writer thread does."""
    sink = Sink(engine)
    state = sink.open_source(f"bench-client-{n}", "/bench/mail.log", "")
    for i, (rows, first, last) in enumerate(batches):
        batch = Batch(start=state.byte_offset, end=state.byte_offset + 1)
        batch.events = list(rows)  # the sink fills IPs in place
        batch.lines, batch.first_ts, batch.last_ts = len(rows), first, last
        batch.tail_hash = f"{n}-{i}"
        sink.commit(state, batch)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=2_000_000, help="log lines (default: 2,000,000)")
    ap.add_argument("--accounts", type=int, default=5000, help="mailbox accounts (default: 5000)")
    ap.add_argument("--rounds", type=int, default=3, help="COPYs per variant (default: 3)")
    ap.add_argument("--batch", type=int, default=9_700, help="events per Sink.commit (default: 9,700)")
    ap.add_argument("--seed", type=int, default=1)
    add_database_url(ap)
    args = ap.parse_args()
    if speedups.fastcopy is None:
        say(f"the compiled encoder is not in use: {speedups.summary()}")
        return 1
    with scratch_database(args.database_url, "copyclient") as (work, url, pgdata):
        return bench(args, url, work, pgdata)


def bench(args: argparse.Namespace, url: str, work: Path, pgdata: Path | None) -> int:
    migrate(url)
    tz = env_zone("MAILTRAIL_TZ")
    now = datetime.now(tz)
    log = work / "mail.log"
    say(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    write_log(log, args.lines, 1, args.accounts, args.seed, now, tz=tz)
    engine = sa.create_engine(sqlalchemy_url(url), pool_pre_ping=True)  # pooled, as the ingester's
    source_id = add_source(engine, log)
    rows, lines = parse_file(log, tz, now, source_id)
    with engine.begin() as conn:
        ensure_partitions(conn, {month_start(row[0]) for row in rows})
    batches = []
    for i in range(0, len(rows), args.batch):
        part = rows[i : i + args.batch]
        batches.append((part, min(r[0] for r in part), max(r[0] for r in part)))
    say(f"{len(rows):,} events of {lines:,} lines parsed; {len(batches):,} batches for the sink")

    fast = speedups.fastcopy
    cpu: dict[str, list[float]] = {name: [] for name in VARIANTS}
    ratios: dict[str, list[float]] = {name: [] for name in BASELINE}
    for round_ in range(args.rounds):
        for name in VARIANTS:
            compiled = name.endswith("compiled")
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("TRUNCATE event")
                conn.execute("CHECKPOINT")
            speedups.fastcopy = fast if compiled else None
            try:
                server0, client0, wall0 = server_cpu(pgdata), time.process_time(), time.perf_counter()
                if name.startswith("sink"):
                    commit_all(engine, batches, round_)
                else:
                    copy_all(url, rows, compiled)
                server1, client1, wall1 = server_cpu(pgdata), time.process_time(), time.perf_counter()
            finally:
                speedups.fastcopy = fast
            client = client1 - client0
            cpu[name].append(client)
            ratio = ""
            if name in BASELINE:
                ratios[name].append(client / cpu[BASELINE[name]][-1])
                ratio = f" ({ratios[name][-1]:.2f} × {BASELINE[name]})"
            server = f"{(server1 - server0) / len(rows) * 1e6:.2f} µs a row" if server0 is not None else "n/a"
            say(
                f"round {round_ + 1} {name:13}: {len(rows):,} rows in {wall1 - wall0:.2f}s; client CPU "
                f"{client:.2f}s = {client / len(rows) * 1e6:.2f} µs a row{ratio}; PostgreSQL {server}; "
                f"load {os.getloadavg()[0]:.2f}"
            )
    engine.dispose()
    say(f"load average after: {os.getloadavg()[0]:.2f}")
    pairs = [f"events={len(rows)}"]
    pairs += [f"{name}_cpu_s={statistics.median(got):.3f}" for name, got in cpu.items()]
    pairs += [f"{name}_ratio={statistics.median(got):.2f}" for name, got in ratios.items()]
    say(" ".join(pairs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
