"""The parse and backfill commands: wiring of source → parse → correlate → sink."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from mailtrail.env import env_zone, to_zone

BATCH_LINES = 25_000  # lines per transaction; at most 4 batches in memory (ingest/writer.py)
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
    from ingest.pipeline import BINARY_SAMPLE, fill_batch, looks_binary
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
        if name != "-" and looks_binary(fh.peek(BINARY_SAMPLE)[:BINARY_SAMPLE]):
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

    from ingest.pipeline import tune_gc, tune_switching
    from ingest.sink import CheckpointConflict, Sink, wait_for_database

    tz = _zone(args)
    engine = make_engine()
    wait_for_database(engine, attempts=3, log=_say)
    sink = Sink(engine)
    from ingest.correlate import Correlator

    correlator = Correlator()  # shared across files: a session may span a rotation
    tune_gc()
    tune_switching()
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
    from ingest.identity import (
        Identity,
        copy_note,
        drop_stored,
        identify,
        settle,
        shadow_at,
        tail_hash,
    )
    from ingest.parse import Parser
    from ingest.pipeline import BINARY_SAMPLE, fill_batch, looks_binary
    from ingest.refusals import backoff, read_line_at, store
    from ingest.retention import plausible_window, retention_days
    from ingest.sink import Batch
    from ingest.source import (
        ReadResult,
        compressed_position,
        compression_of,
        fingerprint_of,
        open_log,
        read_lines,
    )
    from ingest.writer import BackgroundWriter

    size = os.path.getsize(path)
    gz = compression_of(path) is not None  # compressed: final lines, no size to compare
    with open_log(path) as fh:
        head = fh.peek(BINARY_SAMPLE)[:BINARY_SAMPLE]
        if looks_binary(head):
            _say(f"{path}: looks binary, not a text log; not read")
            return 1
        fp = fingerprint_of(fh)
        if fp is None:
            _say(f"{path}: no complete line yet; nothing to read")
            return 0
        ident = Identity(fp)
        if not gz:
            with sink.engine.connect() as conn:
                ident = identify(conn, fp, path)
        state = sink.open_source(ident.fingerprint, str(Path(path).resolve()), host)
        if ident.note is not None:
            _say(f"{path}: NOT the file its first line says: {ident.note}")
        with sink.engine.begin() as conn:
            heads = settle(conn, state.id, ident, path)
        shadows = [ident.replaces] if ident.replaces else []
        parser = Parser(tz, year=year, host=host or state.host)
        if state.year is not None:
            parser.restore_year_state(state.year, state.month)
        resumed = state.byte_offset
        result = ReadResult()
        lines = read_lines(fh, state.byte_offset, result, final=gz, heads=heads)
        bar = _progress(path, size, compressed_position(fh)) if show_progress else None
        totals = {"lines": 0, "events": 0, "skipped": 0, "bad": 0, "repaired": 0, "refused": 0}
        started = time.monotonic()
        # a handle of its own on the file (not every decompressor has fileno()): refused lines are read back through it
        fd, days = os.open(path, os.O_RDONLY), retention_days()

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
                for shadow in shadows:
                    if batch.start < shadow.upto and batch.end > shadow.shift:
                        with sink.engine.connect() as conn:
                            drop_stored(conn, batch, shadow)
                if not gz and batch.end != batch.start:
                    batch.tail_hash = tail_hash(fh.fileno(), batch.end)
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
                if done and result.boundary is not None:
                    # a known source's first line: what follows may be a copy of it
                    at, known = result.boundary
                    with sink.engine.connect() as conn:
                        shadow, of = shadow_at(conn, known, at)
                    shadows.append(shadow)
                    _say(copy_note(path, at, shadow, of))
                    result = ReadResult()
                    lines = read_lines(fh, at, result, final=gz, heads=heads, ignore_at=at)
                    continue
                if done:
                    break
        finally:
            writer.close()
            os.close(fd)
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


def make_engine():
    import sqlalchemy as sa
    from mailtrail.database import ingest_connect_args, sqlalchemy_url

    from ingest.sink import widen_send_buffer

    return widen_send_buffer(
        sa.create_engine(
            sqlalchemy_url(), pool_pre_ping=True, connect_args=ingest_connect_args("mailtrail-backfill")
        )
    )
