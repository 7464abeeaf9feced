"""CPU of the ingester's reading side: read_lines, and read + fill_batch, fast paths on and off.

Usage: .venv/bin/python bench/read_fill.py [--lines 2000000] [--repeat 3] [--log FILE]

Writes a realistic log (ingest.generate, as bench/ingest.py does: one day, 5000 accounts,
seed 1; or reads --log), then runs each measurement in a child process twice: with the
compiled fast paths (ingest.speedups) and with MAILTRAIL_PURE_PYTHON=yes, the baseline of
the same run. Each child times, in CPU seconds of its own (time.process_time, not wall: the
machine is shared), the best of --repeat passes of:

- read: `read_lines` over the whole file, handed out in fill_batch's chunks (`_take`);
- parse: decoding and `Parser.parse_lines` of those chunks alone (read outside the timing);
- fill: `fill_batch` in backfill's batches (read, decode, parse, correlate, fold client IDs),
  without the database: what the ingest process does besides encoding and COPY.

The glue is fill - read - parse. The last line is machine-readable: `lines=… events=…
read_s=… fill_s=… parse_s=… glue_s=… pure_read_s=… pure_fill_s=… … read_ratio=… fill_ratio=…
fill_us_per_line=… load_avg=…` (ratios: pure-Python seconds over compiled seconds).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from bench.common import say  # noqa: E402


def child(log: Path, repeat: int) -> dict:
    """The figures of one process: its fast paths are what ingest.speedups loaded."""
    from ingest import speedups
    from ingest.commands import BATCH_LINES
    from ingest.correlate import Correlator
    from ingest.parse import Parser
    from ingest.pipeline import CHUNK_LINES, _decode, _take, fill_batch, tune_gc
    from ingest.retention import plausible_window
    from ingest.sink import Batch
    from ingest.source import ReadResult, open_log, read_lines
    from mailtrail.env import env_zone

    tune_gc()  # as backfill does
    tz = env_zone("MAILTRAIL_TZ")
    window = plausible_window(36500, None)
    best = {"read": float("inf"), "parse": float("inf"), "fill": float("inf")}
    lines = events = 0
    for _ in range(repeat):
        with open_log(log) as fh:
            reader = read_lines(fh, 0, ReadResult())
            t0 = time.process_time()
            n = 0
            while True:
                chunk, ran_out = _take(reader, CHUNK_LINES, 0)
                n += len(chunk)
                if ran_out or not chunk:
                    break
            best["read"] = min(best["read"], time.process_time() - t0)
        lines = n

        parser, took = Parser(tz), 0.0
        with open_log(log) as fh:
            reader = read_lines(fh, 0, ReadResult())
            while True:
                chunk, ran_out = _take(reader, CHUNK_LINES, 0)
                t0 = time.process_time()
                parser.parse_lines(_decode(chunk)[0])
                took += time.process_time() - t0
                if ran_out or not chunk:
                    break
        best["parse"] = min(best["parse"], took)

        parser, correlator, events = Parser(tz), Correlator(), 0
        with open_log(log) as fh:
            reader = read_lines(fh, 0, ReadResult())
            t0 = time.process_time()
            while True:
                batch = Batch(start=0)
                done = fill_batch(reader, batch, parser, correlator, 1, BATCH_LINES, window)
                events += len(batch.events)
                del batch  # as the writer lets go of a committed batch
                if done:
                    break
            best["fill"] = min(best["fill"], time.process_time() - t0)
    return {**best, "lines": lines, "events": events, "fast": speedups.summary()}


def run_child(log: Path, repeat: int, pure: bool) -> dict:
    env = {**os.environ, "MAILTRAIL_PURE_PYTHON": "yes" if pure else "no"}
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(log), "--repeat", str(repeat)],
        env=env, cwd=PROJECT_DIR, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return json.loads(out.splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=2_000_000, help="log lines (default: 2,000,000)")
    ap.add_argument("--repeat", type=int, default=3, help="passes; the best counts (default: 3)")
    ap.add_argument("--log", type=Path, help="read this log instead of generating one")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.repeat)))
        return 0

    from ingest.generate import write_log
    from mailtrail.env import env_zone

    load = os.getloadavg()[0]
    say(
        f"load average before: {load:.2f} on {os.cpu_count()} CPUs (CPU seconds, not wall: still skewed by caches)"
    )
    work = Path(tempfile.mkdtemp(prefix="mailtrail-readfill-"))
    try:
        log = args.log
        if log is None:
            log = work / "mail.log"
            tz = env_zone("MAILTRAIL_TZ")
            write_log(log, args.lines, 1, 5000, 1, datetime.now(tz), tz=tz)
        fast = run_child(log, args.repeat, pure=False)
        pure = run_child(log, args.repeat, pure=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    n = fast["lines"]
    say(f"{n:,} lines, {fast['events']:,} events; best of {args.repeat} passes, CPU seconds")
    say(f"fast paths: {fast['fast']}")
    say(f"{'':8} {'compiled':>9} {'pure':>9} {'ratio':>6} {'µs/line':>8}")
    for name in ("read", "parse", "fill"):
        say(
            f"{name:8} {fast[name]:9.2f} {pure[name]:9.2f} {pure[name] / fast[name]:6.2f} {fast[name] / n * 1e6:8.2f}"
        )
    glue, pure_glue = (f["fill"] - f["read"] - f["parse"] for f in (fast, pure))
    say(f"{'glue':8} {glue:9.2f} {pure_glue:9.2f} {pure_glue / glue:6.2f} {glue / n * 1e6:8.2f}")
    pairs = [f"lines={n}", f"events={fast['events']}"]
    pairs += [f"{k}_s={fast[k]:.3f}" for k in ("read", "parse", "fill")] + [f"glue_s={glue:.3f}"]
    pairs += [f"pure_{k}_s={pure[k]:.3f}" for k in ("read", "parse", "fill")] + [
        f"pure_glue_s={pure_glue:.3f}"
    ]
    pairs += [
        f"read_ratio={pure['read'] / fast['read']:.2f}",
        f"fill_ratio={pure['fill'] / fast['fill']:.2f}",
    ]
    pairs += [f"fill_us_per_line={fast['fill'] / n * 1e6:.2f}", f"load_avg={load:.2f}"]
    say(" ".join(pairs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
