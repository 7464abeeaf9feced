"""Parse-only throughput: lines per second of Parser.parse_line on a generated realistic mix.

Usage: .venv/bin/python bench/parse.py [--lines N] [--style rfc3164|rfc3339] [--repeat R]
The mix comes from ingest.generate (stock Dovecot 2.3 among postfix/amavis noise, a few
hostile values). The last line is machine-readable: `parse_lines_per_s=… …`.
"""

from __future__ import annotations

import argparse
import sys
import time
import timeit
import zoneinfo
from collections import Counter
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ingest.correlate import Correlator  # noqa: E402
from ingest.event import Event  # noqa: E402
from ingest.generate import generate_lines  # noqa: E402
from ingest.parse import Parser  # noqa: E402

BATCH = 50_000  # ingest.commands.BATCH_LINES


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=300_000)
    ap.add_argument("--style", choices=("rfc3164", "rfc3339"), default="rfc3164")
    ap.add_argument("--repeat", type=int, default=3, help="runs; the best is reported")
    args = ap.parse_args()

    tz = zoneinfo.ZoneInfo("Europe/Berlin")
    end = datetime(2026, 11, 27, 8, 0, tzinfo=tz)
    lines = list(generate_lines(args.lines, days=1, end=end, tz=tz, style=args.style))
    kinds: Counter[str] = Counter()
    # CPU time of this process, not wall time: the machine is shared, and a benchmark that
    # waits for a core measures the neighbours. Wall time is printed too.
    best = best_corr = best_wall = float("inf")
    for _ in range(args.repeat):
        parser = Parser(tz, now=end)
        parse = parser.parse_line
        # in batches of 50,000 lines kept until the batch is done, as backfill does
        batches = [lines[i : i + BATCH] for i in range(0, len(lines), BATCH)]
        w0, t0 = time.perf_counter(), time.process_time()
        for batch in batches:
            results = [parse(line) for line in batch]
        best = min(best, time.process_time() - t0)
        best_wall = min(best_wall, time.perf_counter() - w0)
        results = [parse(line) for line in lines]
        correlate = Correlator().process
        events = [r for r in results if type(r) is Event]
        t0 = time.process_time()
        for e in events:
            correlate(e)
        best_corr = min(best_corr, time.process_time() - t0)
    for r in results:
        kinds["skipped" if r is None else r.kind if type(r) is Event else "malformed"] += 1
    n = len(lines)
    noise = kinds["skipped"] / n
    # How fast this Python runs right now (the machine is shared): the same loop takes about
    # 8 µs on an idle 2020s laptop core. Figures scale with it.
    calib = min(timeit.repeat("sum(range(1000))", number=2000, repeat=5, timer=time.process_time))
    calib_us = calib / 2000 * 1e6
    print(f"{n} lines ({args.style}), {noise:.0%} skipped, kinds: {dict(kinds.most_common())}")
    print(
        f"parse_lines_per_s={n / best:.0f} parse_us_per_line={best / n * 1e6:.2f} "
        f"parse_lines_per_wall_s={n / best_wall:.0f} "
        f"correlate_events_per_s={len(events) / best_corr:.0f} skipped_fraction={noise:.3f} "
        f"calibration_sum_range_1000_us={calib_us:.1f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
