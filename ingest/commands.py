"""The parse, backfill and status commands: wiring of source → parse → correlate → sink."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from mailtrail.env import env_int, env_zone, to_zone

BATCH_LINES = 25_000  # lines per transaction; with the writer queue, at most 3 batches in memory
OUTAGE_PATIENCE = 120.0  # seconds backfill waits for a database that stopped answering, then stops


def _zone(args: argparse.Namespace):
    return to_zone(args.tz, "--tz") if args.tz else env_zone("MAILTRAIL_TZ")


def _say(msg: str) -> None:
    print(f"ingest: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------- parse


def parse_command(args: argparse.Namespace) -> int:
    from ingest.correlate import Correlator
    from ingest.event import Event
    from ingest.parse import Parser
    from ingest.pipeline import fill_batch, looks_binary
    from ingest.sink import REPAIRED, Batch
    from ingest.source import ReadResult, open_log, read_lines

    tz = _zone(args)
    correlator = Correlator()
    out = sys.stdout
    counts = {"lines": 0, "events": 0, "skipped": 0, "malformed": 0, "repaired": 0}
    status = 0
    for name in args.files:
        parser = Parser(tz, year=args.year, host=args.host)
        try:
            fh = sys.stdin.buffer if name == "-" else open_log(name)
        except OSError as exc:
            _say(f"{name}: cannot open: {exc.strerror}")
            status = 1
            continue
        if name != "-" and looks_binary(fh.peek(4096)[:4096] if hasattr(fh, "peek") else b""):
            _say(f"{name}: looks binary, not a text log; not read")
            status = 1
            continue
        result = ReadResult()
        lines = read_lines(fh, 0, result, final=True) if name != "-" else _stdin_lines(fh)
        # the pipeline backfill and follow use, without a database (and without the time
        # window, a storage policy): each line counted where backfill would count it
        done = False
        while not done:
            batch = Batch(start=0)
            done = fill_batch(lines, batch, parser, correlator, 0, 10_000)
            counts["lines"] += batch.lines
            counts["skipped"] += batch.skipped
            counts["events"] += len(batch.events)
            counts["repaired"] += batch.repaired
            counts["malformed"] += len(batch.bad) - batch.repaired
            for row in batch.events:
                out.write(json.dumps(Event(*row[:-2]).as_json(), ensure_ascii=False) + "\n")
            for offset, _, why in batch.bad:
                _say(f"{name}:{offset}: {'' if why.startswith(REPAIRED) else 'malformed: '}{why}")
        if result.error:
            _say(f"{name}: stopped early: {result.error}")
        if name != "-":
            fh.close()
    out.flush()
    repaired = f" ({counts['repaired']} of them repaired)" if counts["repaired"] else ""
    _say(
        f"{counts['lines']} lines: {counts['events']} events{repaired}, {counts['skipped']} skipped, "
        f"{counts['malformed']} malformed"
    )
    return status


def _stdin_lines(fh):
    """Lines of a pipe, cut at MAX_LINE like read_lines (which needs a seekable file)."""
    from ingest.source import MAX_LINE, RawLine

    offset = 0
    while raw := fh.readline(MAX_LINE + 1):
        n, data = len(raw), raw.removesuffix(b"\n")
        extra = 0
        if len(data) > MAX_LINE:
            data, extra = data[:MAX_LINE], len(data) - MAX_LINE
            while not raw.endswith(b"\n") and (raw := fh.readline(MAX_LINE)):
                n += len(raw)
                extra += len(raw.removesuffix(b"\n"))
        yield RawLine(offset, data, offset + n, extra)
        offset += n


# ------------------------------------------------------------------------------- backfill


def backfill_command(args: argparse.Namespace) -> int:
    import psycopg
    import sqlalchemy as sa

    from ingest.pipeline import tune_gc
    from ingest.sink import CheckpointConflict, Sink, wait_for_database

    tz = _zone(args)
    engine = make_engine()
    wait_for_database(engine, attempts=3, log=_say)
    sink = Sink(engine)
    from ingest.correlate import Correlator

    correlator = Correlator()  # shared across files: a session may span a rotation
    tune_gc()
    show = args.progress == "always" or (args.progress == "auto" and sys.stderr.isatty())
    status = 0
    files = sorted(args.files, key=_age_order)
    for path in files:
        try:
            status |= backfill_file(path, sink, correlator, tz, args.year, args.host, show)
        except OSError as exc:
            _say(f"{path}: cannot read: {exc.strerror or exc}")
            status = 1
        except CheckpointConflict as exc:
            _say(f"{path}: {exc}; stopped, nothing of the failed batch was written")
            status = 1
        except (sa.exc.DBAPIError, psycopg.Error) as exc:
            from ingest.refusals import reason

            _say(f"{path}: database error, stopped at the last committed batch: {reason(exc)}")
            return 1
    if sink.written_months:
        analyzed = sink.analyze_written()
        _say(f"statistics updated (ANALYZE) for {', '.join(analyzed)}")
    return status


def _age_order(path: str) -> tuple[float, int]:
    """Oldest first, so that sessions and the year inference run forward in time: by
    modification time, and for equal times (a fresh checkout or copy) by logrotate's number,
    mail.log.2.gz before mail.log.1 before mail.log."""
    import re

    mtime = os.path.getmtime(path) if os.path.exists(path) else 0.0
    number = re.search(r"\.(\d+)(\.gz)?$", path)
    return (int(mtime), -int(number.group(1)) if number else 0)


def backfill_file(path, sink, correlator, tz, year, host, show_progress) -> int:
    from ingest.parse import Parser
    from ingest.pipeline import fill_batch, looks_binary
    from ingest.refusals import backoff, read_line_at, store
    from ingest.retention import plausible_window, retention_days
    from ingest.sink import Batch
    from ingest.source import ReadResult, compressed_position, fingerprint_of, is_gzip, open_log, read_lines
    from ingest.writer import BackgroundWriter

    size = os.path.getsize(path)
    gz = is_gzip(path)
    with open_log(path) as fh:
        head = fh.peek(4096)[:4096]
        if looks_binary(head):
            _say(f"{path}: looks binary, not a text log; not read")
            return 1
        fp = fingerprint_of(fh)
        if fp is None:
            _say(f"{path}: no complete line yet; nothing to read")
            return 0
        state = sink.open_source(fp, str(Path(path).resolve()), host)
        parser = Parser(tz, year=year, host=host or state.host)
        if state.year is not None:
            parser.restore_year_state(state.year, state.month)
        resumed = state.byte_offset
        result = ReadResult()
        lines = read_lines(fh, state.byte_offset, result, final=gz)
        bar = _progress(path, size, compressed_position(fh)) if show_progress else None
        totals = {"lines": 0, "events": 0, "skipped": 0, "bad": 0, "repaired": 0, "refused": 0}
        started = time.monotonic()
        fd, days = fh.fileno(), retention_days()

        def commit(state, batch, size) -> None:
            # a refused line stops nothing (ingest/refusals.py); an outage is waited out
            wait = backoff(lambda msg: _say(f"{path}: {msg}"), OUTAGE_PATIENCE)
            totals["refused"] += store(sink, state, batch, size, lambda at: read_line_at(fd, at), wait)

        writer = BackgroundWriter(sink, commit=commit)
        start = state.byte_offset
        try:
            while True:
                batch = Batch(start=start)
                window = plausible_window(days, state.newest)
                done = fill_batch(lines, batch, parser, correlator, state.id, BATCH_LINES, window)
                if batch.lines or batch.end != batch.start:
                    writer.submit(state, batch, size=None if gz else size)
                    start = batch.end
                totals["lines"] += batch.lines
                totals["events"] += len(batch.events)
                totals["skipped"] += batch.skipped
                totals["bad"] += len(batch.bad) - batch.repaired
                totals["repaired"] += batch.repaired
                if bar is not None:
                    bar.update(compressed_position(fh) - bar.n)
                if done:
                    break
        finally:
            writer.close()
        if bar is not None:
            bar.close()
    took = time.monotonic() - started
    where = f"resumed at byte {resumed:,}, " if resumed else ""
    rate = totals["lines"] / took if took > 0 else 0.0
    # a line the database refused was counted as an event when it was read: it is a bad line
    events, bad = totals["events"] - totals["refused"], totals["bad"] + totals["refused"]
    repaired = (
        f" ({totals['repaired']:,} of them repaired, raw bytes kept in bad_line)"
        if totals["repaired"]
        else ""
    )
    _say(
        f"{path}: {where}{totals['lines']:,} lines, {events:,} events{repaired}, "
        f"{totals['skipped']:,} skipped, {bad:,} bad (kept in bad_line) "
        f"in {took:.1f}s ({rate:,.0f} lines/s)"
    )
    if result.partial_tail:
        _say(
            f"{path}: an unterminated last line ({result.partial_tail:,} bytes) is left for a "
            "later run: it is read once it ends in a newline"
        )
    if result.error:
        _say(
            f"{path}: stopped at byte {result.offset:,}: {result.error}; every complete line before it is loaded"
        )
        return 1
    return 0


def _progress(path: str, size: int, position: int):
    from tqdm import tqdm

    return tqdm(
        total=size, initial=position, unit="B", unit_scale=True, desc=Path(path).name, file=sys.stderr
    )


# --------------------------------------------------------------------------------- status


def status_command(args: argparse.Namespace) -> int:
    """Each source's offset against its file, lag and bad lines; exit 1 when one is stalled."""
    import sqlalchemy as sa

    from ingest.schema import source

    stall_after = env_int("MAILTRAIL_STALL_SECONDS", 300, minimum=1)
    engine = make_engine()
    with engine.connect() as conn:
        rows = conn.execute(sa.select(source).order_by(source.c.path, source.c.id)).mappings().all()
    now = datetime.now(UTC)
    report = [source_report(row, now, stall_after) for row in rows]
    stalled = any(r["stalled"] for r in report)
    if getattr(args, "prometheus", False):
        sys.stdout.write(prometheus_text(report, now))
    elif args.json:
        print(json.dumps({"sources": report, "stalled": stalled, "stall_seconds": stall_after}, indent=2))
    else:
        if not report:
            print("no sources yet: run `python -m ingest backfill FILE` or `follow`")
        for r in report:
            state = "STALLED" if r["stalled"] else ("current" if r["current"] else "rotated/gone")
            size = f"{r['size']:,}" if r["size"] is not None else "?"
            lag = f"{r['lag_seconds']:,.0f}s ago" if r["lag_seconds"] is not None else "-"
            print(
                f"{r['path']}  [{state}]  host={r['host'] or '-'}  offset {r['offset']:,}/{size} "
                f"({r['bytes_behind']:,} behind)  lines={r['lines']:,} events={r['events']:,} "
                f"skipped={r['skipped']:,} bad={r['bad_lines']:,}  last event {r['last_event_ts'] or '-'} "
                f"({lag})  fingerprint {r['fingerprint']}"
            )
    return 1 if stalled else 0


def source_report(row, now: datetime, stall_after: int) -> dict:
    """One source row against its file on disk (when it is still the file at its path)."""
    from ingest.source import fingerprint, is_gzip
    from ingest.watch import gzip_isize

    path = row["path"]
    on_disk = None
    current = False
    try:
        current = fingerprint(path) == row["fingerprint"]
        if current:
            # a .gz is measured by its content (what the offset counts), from its trailer
            on_disk = gzip_isize(path) if is_gzip(path) else os.path.getsize(path)
    except OSError:
        pass
    behind = max(on_disk - row["byte_offset"], 0) if on_disk is not None else 0
    idle = (now - row["updated_at"]).total_seconds()
    # stalled: there is something to read and nothing was committed for stall_after seconds
    is_stalled = behind > 0 and idle > stall_after
    last = row["last_event_ts"]
    return {
        "id": row["id"],
        "path": path,
        "host": row["host"],
        "fingerprint": row["fingerprint"],
        "offset": row["byte_offset"],
        "size": on_disk if current else row["size"],
        "current": current,
        "bytes_behind": behind,
        "lines": row["lines"],
        "events": row["events"],
        "skipped": row["skipped"],
        "bad_lines": row["bad_lines"],
        "last_event_ts": last.isoformat() if last else None,
        "lag_seconds": round((now - last).total_seconds(), 1) if last else None,
        "updated_at": row["updated_at"].isoformat(),
        "idle_seconds": round(idle, 1),
        "stalled": is_stalled,
    }


_METRICS = (
    # (name, type, help, report key)
    (
        "mailtrail_source_offset_bytes",
        "gauge",
        "Committed byte offset (of the decompressed content).",
        "offset",
    ),
    (
        "mailtrail_source_size_bytes",
        "gauge",
        "Size of the file at the source's path, when it is still that file.",
        "size",
    ),
    ("mailtrail_source_behind_bytes", "gauge", "Bytes in the file not yet committed.", "bytes_behind"),
    ("mailtrail_source_lines_total", "counter", "Lines read and committed.", "lines"),
    ("mailtrail_source_events_total", "counter", "Events stored.", "events"),
    ("mailtrail_source_skipped_total", "counter", "Lines of no interest (not Dovecot events).", "skipped"),
    ("mailtrail_source_bad_lines_total", "counter", "Lines kept in bad_line for review.", "bad_lines"),
    ("mailtrail_source_lag_seconds", "gauge", "Seconds since the newest stored event's time.", "lag_seconds"),
    ("mailtrail_source_idle_seconds", "gauge", "Seconds since the source's last commit.", "idle_seconds"),
    (
        "mailtrail_source_stalled",
        "gauge",
        "1 when the file has unread bytes and nothing was committed lately.",
        "stalled",
    ),
)


def prometheus_text(report: list[dict], now: datetime) -> str:
    """The report in Prometheus' text exposition format (for node_exporter's textfile collector)."""
    out = []
    for name, kind, help_text, key in _METRICS:
        out.append(f"# HELP {name} {help_text}")
        out.append(f"# TYPE {name} {kind}")
        for r in report:
            value = r[key]
            if value is None:
                continue
            labels = ",".join(
                f'{k}="{_label(str(r[k]))}"' for k in ("path", "host", "fingerprint") if r[k] is not None
            )
            out.append(
                f"{name}{{{labels}}} {float(value):g}"
                if isinstance(value, float)
                else f"{name}{{{labels}}} {int(value)}"
            )
    out.append("# HELP mailtrail_sources_stalled Sources that are stalled.")
    out.append("# TYPE mailtrail_sources_stalled gauge")
    out.append(f"mailtrail_sources_stalled {sum(1 for r in report if r['stalled'])}")
    out.append("# HELP mailtrail_status_timestamp_seconds When this report was made.")
    out.append("# TYPE mailtrail_status_timestamp_seconds gauge")
    out.append(f"mailtrail_status_timestamp_seconds {now.timestamp():.3f}")
    return "\n".join(out) + "\n"


def _label(value: str) -> str:
    # a path may hold any byte but NUL: escape what the exposition format requires
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def make_engine():
    import sqlalchemy as sa
    from mailtrail.database import sqlalchemy_url

    return sa.create_engine(sqlalchemy_url(), pool_pre_ping=True)
