"""End-to-end ingest benchmark: a bare COPY of parsed events (a) against the full backfill (b).

Usage: .venv/bin/python bench/ingest.py [--lines 2000000] [--pure-python] [--keep] [--database-url URL]

Generates a realistic log (ingest.generate), parses it once in memory outside any timing,
times (a) one COPY of those events into the indexed, partitioned event table, empties the
tables, then times (b) `python -m ingest backfill FILE --progress never` in a subprocess and
reads that child's peak RSS from wait4(). Goals on the 2-core machine: >= 250,000 lines/s
end to end, b/a <= 1.3, peak RSS <= 100 MB, in a quiet run: a 1-minute load average below 1
as the run starts (the run itself then adds about 2). The last line is machine-readable:
`lines=… events=… copy_s=… backfill_s=… lines_per_s=… events_per_s=… ratio_b_a=… peak_rss_mb=…
ingest_cpu_us_per_line=… ingest_cpu_us_per_event=… load_avg=… load_avg_end=… fast_paths=…` (CPU of the
backfill process; the 1-minute load average as the run starts, and the highest seen in (a) and (b);
the compiled fast paths the backfill used, as `python -m ingest --version` says). With
--pure-python, (b) runs again with MAILTRAIL_PURE_PYTHON=yes, and `pure_backfill_s=…
pure_cpu_s=… pure_speedup=…` compare the two in the same run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

import psycopg  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from bench.common import add_database_url, say  # noqa: E402
from ingest.clients import fold_client_ids  # noqa: E402
from ingest.correlate import Correlator  # noqa: E402
from ingest.event import Event  # noqa: E402
from ingest.generate import write_log  # noqa: E402
from ingest.parse import Parser  # noqa: E402
from ingest.partitions import ensure_partitions, month_start  # noqa: E402
from ingest.sink import Batch, copy_events  # noqa: E402
from mailtrail.database import embedded_url, sqlalchemy_url, stop_embedded  # noqa: E402
from mailtrail.env import env_zone  # noqa: E402

GOAL_LINES_PER_S = 250_000
GOAL_RATIO = 1.3
GOAL_RSS_MB = 100
GOAL_LOAD = 1.0  # a run under more load than this says little about this code


def migrate(url: str) -> None:
    """`alembic upgrade head` against url, as `make migrate` runs it."""
    subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(PROJECT_DIR / "alembic.ini"), "upgrade", "head"],
        cwd=PROJECT_DIR, env={**os.environ, "DATABASE_URL": url}, check=True, capture_output=True,
    )  # fmt: skip


def fresh_database(base_url: str, name: str) -> str:
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    head, _, query = base_url.partition("?")
    return head.rsplit("/", 1)[0] + "/" + name + ("?" + query if query else "")


@contextmanager
def scratch_database(database_url: str, prefix: str, *, keep: bool = False):
    """(work directory, database URL, embedded data directory or None) for one run: a scratch
    database on the server of database_url, else an embedded PostgreSQL in the work
    directory; all dropped and removed afterwards unless keep."""
    # under /tmp and world-traversable: as root, pgserver runs the server as its own user
    work = Path(tempfile.mkdtemp(prefix=f"mailtrail-{prefix}-"))
    work.chmod(0o755)
    scratch = f"mailtrail_{prefix}_{os.getpid()}"
    pgdata = None if database_url else work / "pgdata"
    if database_url:
        url = fresh_database(database_url, scratch)
        say(f"database: {scratch} on the server of --database-url")
    else:
        url = embedded_url(pgdata, f"mailtrail_{prefix}")
        say(f"database: embedded PostgreSQL in {pgdata}")
    try:
        yield work, url, pgdata
    finally:
        if keep:
            say(f"kept: {work} (log and data), database {url}")
        else:
            if database_url:
                with psycopg.connect(database_url, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
            else:
                stop_embedded(pgdata)
            shutil.rmtree(work, ignore_errors=True)


def add_source(engine: sa.Engine, log: Path) -> int:
    """The id of a new source row for the log, which the parsed rows name."""
    with engine.begin() as conn:
        return conn.execute(
            sa.text("INSERT INTO source (fingerprint, path) VALUES ('bench-copy', :p) RETURNING id"),
            {"p": str(log)},
        ).scalar_one()


def parse_file(path: Path, tz, now: datetime, source_id: int) -> tuple[list[tuple], int]:
    """Every event of the file as the sink's COPY rows, the way the backfill builds them."""
    parser, correlator = Parser(tz, now=now), Correlator()
    parse, correlate = parser.parse_line, correlator.process
    rows: list[tuple] = []
    offset = lines = 0
    with open(path, "rb") as fh:
        for raw in fh:
            lines += 1
            event = parse(raw[:-1].decode())
            if type(event) is Event:
                rows.append((*correlate(event), source_id, offset))
            offset += len(raw)
    batch = Batch(start=0)
    batch.events = rows
    fold_client_ids(batch)  # IMAP ID lines onto their sessions' rows, as fill_batch does
    return batch.events, lines


def copy_rows(url: str, rows: list[tuple]) -> float:
    """(a): one COPY of all rows in one transaction; seconds taken."""
    with psycopg.connect(url) as conn:
        conn.execute("CHECKPOINT")
        started = time.perf_counter()
        copy_events(conn.cursor(), rows)  # as the sink writes them: binary
        conn.commit()
        return time.perf_counter() - started


# The child is `python -m ingest backfill …` run through runpy, reporting its own VmHWM (the
# high-water RSS of its address space) as it exits. Not ru_maxrss from wait4: Linux carries
# the parent's RSS at fork/exec into the child's ru_maxrss, and the bench holds ~1 GB of
# parsed rows. VmHWM belongs to the address space that exec created, so it is the child's own.
_REPORT_PEAK = """
import runpy, sys
sys.argv[0] = "ingest"
try:
    runpy.run_module("ingest", run_name="__main__", alter_sys=True)
finally:
    with open("/proc/self/status") as fh:
        kb = next(line.split()[1] for line in fh if line.startswith("VmHWM:"))
    print(f"bench-vmhwm-kb={kb}", file=sys.stderr)
"""


def fast_paths(pure: bool = False) -> str:
    """What `python -m ingest --version` says of the compiled fast paths, without spaces."""
    env = {**os.environ, "MAILTRAIL_PURE_PYTHON": "yes" if pure else "no"}
    out = subprocess.run(
        [sys.executable, "-m", "ingest", "--version"],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
    ).stdout
    return out.partition("; ")[2].strip().replace(" ", "") or "?"


def run_backfill(url: str, log: Path, pure: bool = False) -> tuple[float, float, float, str, float]:
    """(b): the real CLI in a child process: seconds, its CPU seconds, its peak RSS in MB,
    stderr, and the highest 1-minute load average seen while it ran."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")
    env = {**os.environ, "DATABASE_URL": url, "MAILTRAIL_PURE_PYTHON": "yes" if pure else "no"}
    with tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-c", _REPORT_PEAK, "backfill", str(log), "--progress", "never"],
            cwd=PROJECT_DIR, env=env, stdout=subprocess.DEVNULL, stderr=err,
        )  # fmt: skip
        # Meanwhile sample its RSS, to tell a steady working set from one that grows.
        # The end is seen within 10 ms: polling only at each RSS sample (every 0.5 s) made (b)
        # up to half a second longer than it was.
        samples: list[tuple[float, float]] = []
        load = os.getloadavg()[0]
        sampled = -1.0
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                took = time.perf_counter() - started
                break
            now = time.perf_counter() - started
            if now - sampled >= 0.5:
                samples.append((now, _rss_mb(child.pid)))
                load = max(load, os.getloadavg()[0])
                sampled = now
            time.sleep(0.01)
        load = max(load, os.getloadavg()[0])
        child.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read()
    if child.returncode != 0:
        raise SystemExit(f"backfill failed with exit code {child.returncode}:\n{stderr}")
    peak_kb = [int(line.split("=")[1]) for line in stderr.splitlines() if line.startswith("bench-vmhwm-kb=")]
    stderr = "\n".join(line for line in stderr.splitlines() if not line.startswith("bench-vmhwm-kb="))
    if samples:
        step = max(1, len(samples) // 8)
        shown = samples[::step] + ([samples[-1]] if (len(samples) - 1) % step else [])
        say("    RSS of the backfill over time: " + ", ".join(f"{t:.0f}s {mb:.0f} MB" for t, mb in shown))
    return took, usage.ru_utime + usage.ru_stime, peak_kb[0] / 1024, stderr, load


def server_cpu(pgdata: Path | None) -> float | None:
    """CPU seconds used so far by the embedded PostgreSQL: its postmaster, the children it
    has reaped (cutime/cstime) and the ones still running. None for a server elsewhere."""
    if pgdata is None:
        return None
    try:
        master = int((pgdata / "postmaster.pid").read_text().split()[0])
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            pid, ppid = int(entry.name), int(fields[1])
            if pid == master:
                total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
            elif ppid == master:
                total += int(fields[11]) + int(fields[12])
        return total / tick
    except (OSError, ValueError, IndexError):
        return None


def cpu_us(cpu_s: float, count: int) -> float:
    """Microseconds of CPU per item; nan for no items."""
    return cpu_s / count * 1e6 if count else float("nan")


def _delta(before: float | None, after: float | None) -> str:
    return "?" if before is None or after is None else f"{after - before:.2f}"


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=2_000_000, help="log lines (default: 2,000,000)")
    ap.add_argument("--days", type=int, default=1, help="days the log spans (default: 1)")
    ap.add_argument("--accounts", type=int, default=5000, help="mailbox accounts (default: 5000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--skip-copy", action="store_true", help="only (b): no bare COPY, no ratio")
    ap.add_argument("--keep", action="store_true", help="keep the log, the database and its data")
    ap.add_argument(
        "--pure-python",
        action="store_true",
        help="run (b) again without the compiled fast paths (MAILTRAIL_PURE_PYTHON=yes) and compare",
    )
    add_database_url(ap)
    args = ap.parse_args()

    with scratch_database(args.database_url, "bench", keep=args.keep) as (work, url, pgdata):
        return bench(args, url, work, pgdata)


def bench(args: argparse.Namespace, url: str, work: Path, pgdata: Path | None) -> int:
    migrate(url)
    tz = env_zone("MAILTRAIL_TZ")  # the zone the backfill will use
    now = datetime.now(tz)
    log = work / "mail.log"

    load_start = os.getloadavg()[0]
    say(f"load average before: {load_start:.2f} on {os.cpu_count()} CPUs (other work skews every figure)")
    started = time.perf_counter()
    write_log(log, args.lines, args.days, args.accounts, args.seed, now, tz=tz)
    took = time.perf_counter() - started
    size_mb = log.stat().st_size / 1e6
    say(
        f"generate: {args.lines:,} lines, {size_mb:,.0f} MB in {took:.1f}s ({args.lines / took:,.0f} lines/s)"
    )

    engine = sa.create_engine(sqlalchemy_url(url), poolclass=sa.pool.NullPool)
    source_id = add_source(engine, log)
    started = time.perf_counter()
    rows, lines = parse_file(log, tz, now, source_id)
    parse_s = time.perf_counter() - started
    events = len(rows)
    say(
        f"parse + correlate (not timed in a or b): {events:,} events in {parse_s:.1f}s ({lines / parse_s:,.0f} lines/s)"
    )
    with engine.begin() as conn:  # partitions exist before both runs: neither pays for DDL
        ensure_partitions(conn, {month_start(row[0]) for row in rows})

    load = os.getloadavg()[0]
    if args.skip_copy:
        copy_s = float("nan")
    else:
        server0, self0 = server_cpu(pgdata), time.process_time()
        copy_s = copy_rows(url, rows)
        server1, self1 = server_cpu(pgdata), time.process_time()
        load = max(load, os.getloadavg()[0])
        say(
            f"(a) bare COPY: {events:,} events in {copy_s:.2f}s ({events / copy_s:,.0f} events/s); CPU s: "
            f"client (COPY) {self1 - self0:.2f}, PostgreSQL {_delta(server0, server1)}"
        )
    del rows
    with engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE event, source, bad_line RESTART IDENTITY CASCADE"))

    server0 = server_cpu(pgdata)
    backfill_s, backfill_cpu_s, rss_mb, stderr, load_b = run_backfill(url, log)
    load = max(load, load_b)
    server_b = _delta(server0, server_cpu(pgdata))
    with engine.begin() as conn:
        loaded = conn.execute(sa.text("SELECT count(*) FROM event")).scalar_one()
    engine.dispose()
    for line in stderr.strip().splitlines():
        say(f"    {line}")
    lines_per_s, events_per_s = lines / backfill_s, loaded / backfill_s
    ratio = backfill_s / copy_s
    # CPU per unit of work, not per wall second: on a shared machine it is the figure that
    # stays put while the neighbours' load moves every rate above.
    us_per_line, us_per_event = cpu_us(backfill_cpu_s, lines), cpu_us(backfill_cpu_s, loaded)
    say(
        f"(b) backfill: {lines:,} lines, {loaded:,} events in {backfill_s:.2f}s "
        f"({lines_per_s:,.0f} lines/s, {events_per_s:,.0f} events/s), peak RSS {rss_mb:.0f} MB, "
        f"CPU s: ingest process {backfill_cpu_s:.2f}, PostgreSQL {server_b}"
    )
    say(f"    ingest CPU: {us_per_line:.2f} µs a line, {us_per_event:.2f} µs an event")
    if loaded != events:
        say(f"WARNING: the backfill stored {loaded:,} events, the in-memory parse found {events:,}")
    paths = fast_paths()
    say(f"    fast paths: {paths}")
    pure = ""
    if args.pure_python:
        engine = sa.create_engine(sqlalchemy_url(url), poolclass=sa.pool.NullPool)
        with engine.begin() as conn:
            conn.execute(sa.text("TRUNCATE event, source, bad_line RESTART IDENTITY CASCADE"))
        pure_s, pure_cpu, pure_rss, _, load_p = run_backfill(url, log, pure=True)
        load = max(load, load_p)
        with engine.begin() as conn:
            pure_loaded = conn.execute(sa.text("SELECT count(*) FROM event")).scalar_one()
        engine.dispose()
        say(
            f"(b, pure Python) backfill: {pure_loaded:,} events in {pure_s:.2f}s ({lines / pure_s:,.0f} lines/s), "
            f"ingest process CPU {pure_cpu:.2f} s, peak RSS {pure_rss:.0f} MB: the fast paths make (b) "
            f"{pure_s / backfill_s:.2f}x as fast; pure Python used {pure_cpu / backfill_cpu_s:.2f}x their CPU"
        )
        if pure_loaded != loaded:
            say(f"WARNING: pure Python stored {pure_loaded:,} events, the fast paths {loaded:,}")
        pure = (
            f" pure_backfill_s={pure_s:.2f} pure_cpu_s={pure_cpu:.2f} pure_speedup={pure_s / backfill_s:.2f}"
        )
    goals = (
        (f"lines/s >= {GOAL_LINES_PER_S:,}", lines_per_s >= GOAL_LINES_PER_S),
        (f"b/a <= {GOAL_RATIO}", ratio <= GOAL_RATIO),
        (f"peak RSS <= {GOAL_RSS_MB} MB", rss_mb <= GOAL_RSS_MB),
        (f"a quiet run (load average < {GOAL_LOAD:g} at the start)", load_start < GOAL_LOAD),
    )
    say(
        f"load average: {load_start:.2f} at the start, up to {load:.2f} during (a) and (b) "
        f"on {os.cpu_count()} CPUs (the bench and its PostgreSQL add about 2)"
    )
    say("goals: " + ", ".join(f"{name}: {'met' if ok else 'MISSED'}" for name, ok in goals))
    say(
        f"lines={lines} events={loaded} parse_s={parse_s:.2f} copy_s={copy_s:.2f} "
        f"backfill_s={backfill_s:.2f} backfill_cpu_s={backfill_cpu_s:.2f} lines_per_s={lines_per_s:.0f} events_per_s={events_per_s:.0f} "
        f"ratio_b_a={ratio:.2f} peak_rss_mb={rss_mb:.1f} "
        f"ingest_cpu_us_per_line={us_per_line:.2f} ingest_cpu_us_per_event={us_per_event:.2f} load_avg={load_start:.2f} load_avg_end={load:.2f} "
        f"fast_paths={paths}{pure}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
