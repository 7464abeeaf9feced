"""Database errors sorted by what they mean for a batch: wait and retry, or set the refused lines aside."""

from __future__ import annotations

import time
from collections.abc import Callable

import psycopg
import sqlalchemy as sa

from ingest.sink import REPAIRED, Batch, CheckpointConflict, Sink, SourceState
from ingest.source import ReadResult, open_log, read_lines

# The rule, kept here and nowhere else: an error is sorted by its SQLSTATE, never by its
# Python class (psycopg raises "index row size exceeds" — class 54 — as OperationalError,
# like a lost connection).
#   * OUTAGE: the database, not the rows, is the trouble — a lost connection (no SQLSTATE),
#     08 connection, 53 resources (disk full, out of memory), 57P0x shutdown, 57014 a
#     statement/lock timeout, 55P03 lock not available, 40001/40P01 serialization/deadlock.
#     The same batch is retried, with backoff, until the database answers.
#   * REFUSED: the same rows would get the same answer forever — 22 data, 23 constraints,
#     54 limits, 42 (bar the schema-level codes below). The batch is split in halves until
#     each refused line is alone; that line goes to bad_line with the database's reason and
#     every other line, with the checkpoint, goes in. No loop retries a row that can never
#     be written.
#   * FATAL: anything else (the schema is missing, permission denied, an internal error):
#     no row is to blame, so no row is set aside; the caller stops or waits loudly.
OUTAGE, REFUSED, FATAL = "outage", "refused", "fatal"
_OUTAGE_CLASSES = ("08", "53", "57P0", "57014", "55P03", "40001", "40P01", "58030")
_REFUSED_CLASSES = ("22", "23", "54", "42")
_SCHEMA_LEVEL = ("42501", "42P01", "42703", "42883", "42704", "42P02")


def classify(exc: BaseException) -> str:
    """OUTAGE, REFUSED or FATAL for an exception raised while committing a batch."""
    orig = getattr(exc, "orig", None) or exc
    state = getattr(orig, "sqlstate", None)
    if state is None:
        # no answer from the server at all: the connection broke or never opened
        lost = (
            psycopg.OperationalError,
            psycopg.InterfaceError,
            sa.exc.OperationalError,
            sa.exc.InterfaceError,
        )
        return OUTAGE if isinstance(orig, lost) or isinstance(exc, lost) else FATAL
    if state.startswith(_OUTAGE_CLASSES):
        return OUTAGE
    if state.startswith(_REFUSED_CLASSES) and state not in _SCHEMA_LEVEL:
        return REFUSED
    return FATAL


def reason(exc: BaseException) -> str:
    """The database's first line of an error, with its SQLSTATE: what a bad line's reason says."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()[0] if str(orig).strip() else ""
    state = getattr(orig, "sqlstate", None)
    name = type(orig).__name__ + (f" {state}" if state else "")
    return f"{name}: {text}"[:300] if text else name


def store(
    sink: Sink,
    state: SourceState,
    batch: Batch,
    size: int | None,
    line_at: Callable[[int], bytes],
    wait: Callable[[BaseException], None] | None = None,
) -> int:
    """Commit a batch; lines the database refuses become bad lines. Returns how many.

    `line_at(offset)` reads a refused event's line back from its file (events do not carry
    their bytes). On an OUTAGE, `wait(exc)` is called and the part is tried again; without
    `wait`, the error is raised (the follower rewinds and rereads instead). A part committed
    whose acknowledgement was lost is recognised by its checkpoint and not written twice.
    """
    parts = [batch]
    refused = 0
    retried = False
    while parts:
        part = parts[0]
        try:
            sink.commit(state, part, size)
        except CheckpointConflict:
            if retried and sink.committed_offset(state) == part.end:
                sink.accept_committed(state, part)  # the lost acknowledgement of our own commit
                parts.pop(0)
                retried = False
                continue
            raise
        except Exception as exc:
            kind = classify(exc)
            if kind == OUTAGE and wait is not None:
                wait(exc)
                retried = True
                continue
            if kind != REFUSED:
                raise
            offsets = {row[-1] for row in part.events} | {b[0] for b in part.bad}
            if len(offsets) > 1:
                parts[0:1] = halves(part)
                continue
            if not part.events:
                raise  # a lone bad line refused: its raw bytes are bytea, so not the line's fault
            offset = part.events[0][-1]
            part.events = []
            part.last_ts = part.first_ts = None
            part.repaired = 0  # a repaired line's kept bytes give way to the refusal
            part.bad = [(offset, line_at(offset), f"refused by the database: {reason(exc)}")]
            refused += 1
            continue
        parts.pop(0)
        retried = False
    return refused


def read_line_at(fd: int, offset: int) -> bytes:
    """The line at a byte offset (of the decompressed content) of an open log, read through a
    new handle of the same file (/proc/self/fd: the file may have been renamed since), so
    that the reader's position is not moved; up to MAX_LINE bytes."""
    with open_log(f"/proc/self/fd/{fd}") as fh:
        for raw in read_lines(fh, offset, ReadResult(), final=True):
            return raw.data
    return b""


def halves(batch: Batch) -> list[Batch]:
    """Two batches covering the same bytes, split at a line between its events and bad lines
    (a repaired line has both, at one offset: they stay together)."""
    offsets = sorted({row[-1] for row in batch.events} | {b[0] for b in batch.bad})
    mid = offsets[len(offsets) // 2]  # the offset of the second part's first line
    first = Batch(start=batch.start, end=mid, year=batch.year, month=batch.month)
    # the hash of the bytes before batch.end belongs to the part that ends there (identity.py);
    # the first part moves the checkpoint without one, which identify() takes on trust
    second = Batch(start=mid, end=batch.end, year=batch.year, month=batch.month, tail_hash=batch.tail_hash)
    first.events = [row for row in batch.events if row[-1] < mid]
    second.events = [row for row in batch.events if row[-1] >= mid]
    first.bad = [b for b in batch.bad if b[0] < mid]
    second.bad = [b for b in batch.bad if b[0] >= mid]
    for part in (first, second):
        times = [row[0] for row in part.events]
        part.first_ts, part.last_ts = (min(times), max(times)) if times else (None, None)
        part.repaired = sum(1 for b in part.bad if b[2].startswith(REPAIRED))
    # skipped lines are not kept per line: the first part counts the lines it holds, the
    # second the remainder, so that the parts add up to the batch exactly
    first.lines = len(offsets) // 2
    second.lines = batch.lines - first.lines
    second.skipped = batch.skipped
    second.client_ids = batch.client_ids
    return [first, second]


def backoff(log: Callable[[str], None], patience: float) -> Callable[[BaseException], None]:
    """A `wait` for store(): sleeps 0.5 s, 1 s, … 10 s; raises the error once `patience`
    seconds have passed without an answer."""
    delay, began = 0.5, time.monotonic()

    def wait(exc: BaseException) -> None:
        nonlocal delay
        if time.monotonic() - began > patience:
            raise exc
        log(f"database unavailable ({reason(exc)}); retrying in {delay:.1f}s")
        time.sleep(delay)
        delay = min(delay * 2, 10.0)

    return wait
