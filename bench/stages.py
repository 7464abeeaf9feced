"""Where a line's CPU goes: a py-spy profile of a backfill by stage, and the parser by message shape.

Usage:
  .venv/bin/python bench/stages.py record [--lines 1000000] [--rate 200] [--keep]
  .venv/bin/python bench/stages.py profile RAW --lines N [--events E] [--cpu-s S] [--rate HZ]
  .venv/bin/python bench/stages.py shapes [--lines 500000]

`record` does it all: an embedded PostgreSQL in a fresh /tmp directory, migrated; a generated
one-day log (ingest.generate, as bench/ingest.py writes it); `python -m ingest backfill` in a
child that prints its own CPU seconds at exit, with `py-spy record --gil` attached to it; then
`profile` of what py-spy wrote, scaled to the child's CPU. py-spy is not a dependency:
`.venv/bin/pip install py-spy` first. `profile` reads the `py-spy record --threads --format
raw -r HZ` output of `python -m ingest backfill` and sorts every sample into one stage of the
pipeline (read/split, decode, parse, correlate, tuple building, COPY write_row, commit, …).
Without --cpu-s it takes samples / HZ for CPU seconds, which over-counts on a busy machine
(py-spy samples a process that is waiting for a core too); --cpu-s, the process's measured
CPU (`record` passes it), scales the shares instead. `shapes` times Parser.parse_line (CPU time)
on the lines of each message shape of an ingest.generate mix, each shape with a fresh parser.
The last line is machine-readable: `stage_us_per_line_…=…` or `parse_us_…=…`.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zoneinfo
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from ingest.event import Event  # noqa: E402
from ingest.generate import generate_lines  # noqa: E402
from ingest.parse import Parser  # noqa: E402

# Stages in pipeline order. A sample belongs to the first rule whose frame it contains,
# tried top to bottom; fill_batch's own lines are told apart by their source text.
_WRITER = "BackgroundWriter._run"
_RULES = (
    ("start-up (imports, connect)", ("_find_and_load", "wait_for_database", "create_engine")),
    ("ANALYZE at the end", ("analyze_written",)),
    ("COPY write_row", ("write_row",)),
    ("COPY start/finish", ("Cursor.copy", "Copy.__exit__", "Copy.__enter__", "copy (")),
    ("COPY encode + write (compiled, ingest/_fastcopy.pyx)", ("Copy.write (", "copy_events (")),
    ("sink: IPs from logins", ("resolve_ips_from_logins",)),
    ("sink: orphans", ("load_orphans", "adopt_orphans", "_merge_orphans", "_remember_orphans")),
    ("sink: partitions", ("_ensure_months",)),
    ("commit + UPDATE source", (_WRITER,)),
    (
        "read/split (read_lines)",
        ("_read_by_block", "LineReader.", "_split_block", "_read_by_line", "read_lines"),
    ),
    ("parse: login shortcut", ("_login_shortcut",)),
    ("parse: mail-process shortcut (logout, mail_log)", ("_mail_shortcut",)),
    (
        "parse: general path",
        ("Parser._line", "_other_wrapper", "_mail_process", "Parser._login", "_auth_process"),
    ),
    ("parse: timestamps", ("Clock.",)),
    (
        "parse: chunks (parse_lines: batch regex, groups, events)",
        ("Parser.parse_lines", "Parser._mail_event"),
    ),
    ("decode", ("_decode (",)),
    ("parse: noise filter and dispatch", ("parse_line", "Parser._message")),
    ("correlate", ("Correlator.", "_extend_rows")),
    ("hand-off to the writer", ("BackgroundWriter.submit",)),
)


def fill_batch_lines() -> dict[int, str]:
    """Line number in ingest/pipeline.py → the stage that line does inside fill_batch."""
    text = (PROJECT_DIR / "ingest" / "pipeline.py").read_text().splitlines()
    stages = {}
    for number, line in enumerate(text, 1):
        if ".decode(" in line or '"\\x00"' in line:
            stages[number] = "decode"
        elif "append((*result" in line:
            stages[number] = "tuple building (append)"
        elif "extend_rows(" in line:  # compiled: correlate and the rows, out of py-spy's sight
            stages[number] = "correlate"
    return stages


def classify(stack: list[str], fill_lines: dict[int, str]) -> str:
    joined = ";".join(stack)
    for stage, needles in _RULES:
        if any(n in joined for n in needles):
            return stage
    for frame in reversed(stack):
        m = re.match(r"fill_batch \(ingest/pipeline\.py:(\d+)\)", frame)
        if m:
            return fill_lines.get(int(m.group(1)), "fill_batch loop (ts bookkeeping, branches)")
    return "other"


def profile(args: argparse.Namespace) -> int:
    fill_lines = fill_batch_lines()
    samples: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    for raw in Path(args.raw).read_text().splitlines():
        stack_text, _, count = raw.rpartition(" ")
        stack = stack_text.split(";")
        thread = "writer" if any(_WRITER in f for f in stack) else "reader"
        n = int(count)
        samples[classify(stack[1:], fill_lines)] += n
        threads[thread] += n
    total = sum(samples.values())
    cpu_s = args.cpu_s if args.cpu_s else total / args.rate
    scale = cpu_s / total * 1e6 / args.lines
    print(
        f"{total} samples at {args.rate} Hz = {total / args.rate:.2f} CPU s sampled; scaled to {cpu_s:.2f} CPU s"
    )
    print(f"threads: {dict(threads)}")
    print(f"{'stage':52} {'samples':>8} {'share':>6} {'µs/line':>8}" + ("  µs/event" if args.events else ""))
    order = [s for s, _ in _RULES if s != "decode"] + [
        "decode",
        "tuple building (append)",
        "fill_batch loop (ts bookkeeping, branches)",
        "other",
    ]
    summary = []
    for stage in order:
        n = samples.get(stage, 0)
        if not n:
            continue
        per_event = f"  {n * cpu_s / total * 1e6 / args.events:8.2f}" if args.events else ""
        print(f"{stage:52} {n:8} {n / total:6.1%} {n * scale:8.2f}{per_event}")
        key = re.sub(r"\W+", "_", stage.split(" (")[0]).strip("_").lower()
        summary.append(f"stage_us_per_line_{key}={n * scale:.2f}")
    print(f"{'total':52} {total:8} {1:6.0%} {total * scale:8.2f}")
    print(" ".join([f"lines={args.lines}", f"cpu_s={cpu_s:.2f}", *summary]))
    return 0


# The backfill child: `python -m ingest` through runpy, printing its own CPU seconds as it
# exits. It waits a moment first so that py-spy is attached before the imports start.
_CHILD = """
import resource, runpy, sys, time
sys.argv[0] = "ingest"
time.sleep(1.0)
try:
    runpy.run_module("ingest", run_name="__main__", alter_sys=True)
finally:
    r = resource.getrusage(resource.RUSAGE_SELF)
    print(f"bench-cpu-s={r.ru_utime + r.ru_stime}", file=sys.stderr)
"""


def record(args: argparse.Namespace) -> int:
    from bench.ingest import migrate
    from ingest.generate import write_log
    from mailtrail.database import embedded_url, stop_embedded
    from mailtrail.env import env_zone

    pyspy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if pyspy is None:
        raise SystemExit("py-spy is not installed: .venv/bin/pip install py-spy")
    work = Path(tempfile.mkdtemp(prefix="mailtrail-stages-"))
    work.chmod(0o755)  # as root, pgserver runs the server as its own user
    pgdata = work / "pgdata"
    try:
        url = embedded_url(pgdata, "stages")
        migrate(url)
        tz = env_zone("MAILTRAIL_TZ")
        log = work / "mail.log"
        write_log(log, args.lines, 1, 5000, 1, datetime.now(tz), tz=tz)
        print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs", flush=True)
        raw = work / "backfill.txt"
        with tempfile.TemporaryFile("w+") as err:
            child = subprocess.Popen(
                [sys.executable, "-c", _CHILD, "backfill", str(log), "--progress", "never"],
                cwd=PROJECT_DIR, env={**os.environ, "DATABASE_URL": url}, stdout=subprocess.DEVNULL, stderr=err,
            )  # fmt: skip
            spy = subprocess.run(
                [pyspy, "record", "-r", str(int(args.rate)), "--nonblocking", "--gil", "--threads",
                 "--format", "raw", "-o", str(raw), "--pid", str(child.pid)],
                capture_output=True, text=True,
            )  # fmt: skip
            child.wait()
            err.seek(0)
            stderr = err.read()
        if child.returncode != 0 or not raw.exists():
            raise SystemExit(f"backfill or py-spy failed:\n{stderr}\n{spy.stderr}")
        cpu_s = float(next(x.split("=")[1] for x in stderr.splitlines() if x.startswith("bench-cpu-s=")))
        m = re.search(r"([\d,]+) lines, ([\d,]+) events", stderr)
        lines, events = (int(g.replace(",", "")) for g in m.groups())
        print(f"backfill: {lines:,} lines, {events:,} events, {cpu_s:.2f} CPU s", flush=True)
        print(f"load average after: {os.getloadavg()[0]:.2f}", flush=True)
        if args.keep:
            print(f"kept: {work} (log, py-spy's {raw.name}, data)")
        return profile(argparse.Namespace(raw=raw, lines=lines, events=events, cpu_s=cpu_s, rate=args.rate))
    finally:
        stop_embedded(pgdata)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def shapes(args: argparse.Namespace) -> int:
    tz = zoneinfo.ZoneInfo("Europe/Berlin")
    end = datetime(2026, 11, 27, 8, 0, tzinfo=tz)
    lines = list(generate_lines(args.lines, days=1, end=end, tz=tz))
    parser = Parser(tz, now=end)
    groups: defaultdict[str, list[str]] = defaultdict(list)
    for line in lines:
        r = parser.parse_line(line)
        if r is None:
            shape = "skipped (dovecot, of no interest)" if " dovecot: " in line else "skipped (other program)"
        elif type(r) is Event:
            shape = f"{r.protocol} {r.kind}" if r.kind in ("login", "logout") else r.kind
        else:
            shape = "malformed"
        groups[shape].append(line)
    print(f"{len(lines):,} lines of ingest.generate (rfc3164), CPU time of parse_line, best of {args.repeat}")
    print(f"{'shape':36} {'lines':>9} {'share':>6} {'µs/line':>8} {'µs of an avg line':>18}")
    summary, total_us = [], 0.0
    for shape, group in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        best = float("inf")
        for _ in range(args.repeat):
            parse = Parser(tz, now=end).parse_line
            t0 = time.process_time()
            for line in group:
                parse(line)
            best = min(best, time.process_time() - t0)
        us = best / len(group) * 1e6
        weighted = us * len(group) / len(lines)
        total_us += weighted
        print(f"{shape:36} {len(group):9,} {len(group) / len(lines):6.1%} {us:8.2f} {weighted:18.2f}")
        summary.append(
            f"parse_us_{re.sub(r'[^a-z0-9]+', '_', shape.split(' (')[0] + ('_' + shape.split('(')[1] if '(' in shape else '')).strip('_')}={us:.2f}"
        )
    print(f"{'all':36} {len(lines):9,} {1:6.0%} {total_us:8.2f}")
    print(" ".join([f"lines={len(lines)}", f"parse_us_per_line={total_us:.2f}", *summary]))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("record", help="profile a backfill of a generated day with py-spy, by stage")
    r.add_argument("--lines", type=int, default=1_000_000, help="log lines (default: 1,000,000)")
    r.add_argument("--rate", type=float, default=200.0, help="py-spy samples per second (default 200)")
    r.add_argument("--keep", action="store_true", help="keep the log, the profile and the database")
    p = sub.add_parser("profile", help="a py-spy raw profile of a backfill, by stage")
    p.add_argument("raw", help="py-spy record --threads --format raw output")
    p.add_argument("--lines", type=int, required=True, help="lines the backfill read")
    p.add_argument("--events", type=int, default=0, help="events it stored (adds µs/event)")
    p.add_argument(
        "--cpu-s", type=float, default=0.0, help="measured CPU s of the process (default: samples/rate)"
    )
    p.add_argument("--rate", type=float, default=100.0, help="py-spy's -r (default 100)")
    s = sub.add_parser("shapes", help="parse_line's CPU per line by message shape")
    s.add_argument("--lines", type=int, default=500_000)
    s.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    return {"record": record, "profile": profile, "shapes": shapes}[args.command](args)


if __name__ == "__main__":
    raise SystemExit(main())
