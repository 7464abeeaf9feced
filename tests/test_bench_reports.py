"""The ingest and footprint benchmarks report what docs/scaling.md is built on; stages sorts py-spy stacks;
the alerts bench counts every alert once."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from bench.stages import classify, fill_batch_lines  # noqa: E402


def run_bench(script: str, *args: str) -> tuple[str, dict[str, str]]:
    """Run bench/<script> small, against a scratch database on the test server; its output
    and its last line as name → value."""
    done = subprocess.run(
        [sys.executable, str(PROJECT_DIR / "bench" / script), *args],
        cwd=PROJECT_DIR, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    last = done.stdout.strip().splitlines()[-1]
    return done.stdout, dict(field.split("=", 1) for field in last.split())


def test_the_ingest_bench_reports_ingest_cpu_per_line_and_per_event(database_url):
    out, fields = run_bench(
        "ingest.py", "--lines", "4000", "--accounts", "50", "--database-url", database_url
    )
    lines, events = int(fields["lines"]), int(fields["events"])
    cpu_s = float(fields["backfill_cpu_s"])
    per_line, per_event = float(fields["ingest_cpu_us_per_line"]), float(fields["ingest_cpu_us_per_event"])
    assert lines == 4000 and 0 < events < lines
    assert per_line > 0 and per_event > per_line
    # the same CPU seconds, divided by lines and by events (to the printed precision)
    assert math.isclose(per_line, cpu_s / lines * 1e6, rel_tol=0.02, abs_tol=0.02)
    assert math.isclose(per_event, cpu_s / events * 1e6, rel_tol=0.02, abs_tol=0.02)
    assert f"ingest CPU: {per_line:.2f} µs a line, {per_event:.2f} µs an event" in out
    assert "(b) backfill:" in out and "peak_rss_mb=" in out  # the rest of the report is still there


def test_the_footprint_bench_gives_bytes_per_event_of_the_heap_and_every_index(database_url):
    out, fields = run_bench(
        "footprint.py", "--lines", "4000", "--accounts", "50", "--database-url", database_url
    )
    events = int(fields["events"])
    assert events > 1000
    parts = ("heap", "pkey", "ip_ts", "message_id_hash", "truncated_message_id", "ts")
    sizes = {part: float(fields[f"{part}_bytes_per_event"]) for part in parts}
    assert sizes["heap"] > 100  # an event row is well over a hundred bytes
    assert all(sizes[p] > 0 for p in ("pkey", "ip_ts", "message_id_hash", "ts"))
    assert math.isclose(float(fields["total_bytes_per_event"]), sum(sizes.values()), abs_tol=0.5)
    assert float(fields["ip_search_index_ms"]) > 0 and float(fields["ip_search_scan_ms"]) > 0
    # a server of its own is not an embedded one: its CPU is not counted, and it says so
    assert fields["backfill_pg_cpu_us_per_row"] == "nan"
    for run in ("all", "all_but_ip_ts", "heap", "only_pkey", "only_ip_ts", "only_ts"):
        assert f"    {run} " in out


STACK = (
    "thread (1): MainThread;_run_module_as_main (<frozen runpy>:198);backfill_file (ingest/commands.py:160)"
)


def test_stages_sorts_a_sample_by_the_pipeline_stage_in_its_stack():
    fill = fill_batch_lines()
    decode_line = next(n for n, stage in fill.items() if stage == "decode")
    cases = {
        ";fill_batch (ingest/pipeline.py:88);Parser.parse_line (ingest/parse.py:260);"
        "Parser._message (ingest/parse.py:390);Parser._mail_shortcut (ingest/parse.py:427)": "parse: mail-process",
        ";fill_batch (ingest/pipeline.py:88);Parser.parse_line (ingest/parse.py:260)": "parse: noise filter",
        ";fill_batch (ingest/pipeline.py:99);Parser.parse_lines (ingest/parse.py:340)": "parse: chunks",
        ";fill_batch (ingest/pipeline.py:99);Parser.parse_lines (ingest/parse.py:340);"
        "Parser._mail_event (ingest/parse.py:530)": "parse: chunks",
        ";fill_batch (ingest/pipeline.py:98);_decode (ingest/pipeline.py:230)": "decode",
        ";fill_batch (ingest/pipeline.py:95);Correlator.process (ingest/correlate.py:51)": "correlate",
        ";fill_batch (ingest/pipeline.py:67);_read_by_block (ingest/source.py:120)": "read/split",
        f";fill_batch (ingest/pipeline.py:{decode_line})": "decode",
        ";BackgroundWriter._run (ingest/writer.py:50);Sink.commit (ingest/sink.py:99);"
        "Sink._write (ingest/sink.py:130);Copy.write_row (psycopg/copy.py:100)": "COPY write_row",
        ";BackgroundWriter._run (ingest/writer.py:50);Sink._write (ingest/sink.py:236);"
        "copy_events (ingest/sink.py:362)": "COPY encode + write (compiled",
        ";BackgroundWriter._run (ingest/writer.py:50);copy_events (ingest/sink.py:362);"
        "Copy.write (psycopg/_copy.py:126)": "COPY encode + write (compiled",
        ";BackgroundWriter._run (ingest/writer.py:50);Sink.commit (ingest/sink.py:99)": "commit",
    }
    for tail, stage in cases.items():
        assert classify((STACK + tail).split(";")[1:], fill).startswith(stage), tail


def test_the_alerts_bench_gets_every_alert_once_and_reports_its_lag(database_url):
    out, fields = run_bench(
        "alerts.py", "--duration", "3", "--rate", "4", "--owners", "6", "--database-url", database_url
    )
    assert (fields["alerts"], fields["lost"], fields["doubled"]) == ("12", "0", "0"), out
    assert 0 < float(fields["p50_s"]) <= float(fields["p99_s"]) <= float(fields["max_s"])
    assert float(fields["baseline_ms"]) > 0 and fields["goal"] in ("met", "MISSED")


def test_the_alerts_cost_bench_reports_a_few_statements_per_sign_in(database_url):
    out, fields = run_bench(
        "alerts_cost.py",
        "--accounts",
        "20",
        "--history",
        "50",
        "--events",
        "300",
        "--database-url",
        database_url,
    )
    for share in ("10pct", "100pct"):
        for batch in ("seed", "warm"):
            # a sign-in is a lookup and an upsert, plus the pass's share of its own statements
            assert 1 <= float(fields[f"{share}_{batch}_queries"]) < 4, out
            assert float(fields[f"{share}_{batch}_ms"]) > 0, out
    assert float(fields["100pct_warm_baseline_pg_ms"]) >= 0, out
