"""The live follower: tails log files through rotation, crashes and outages into PostgreSQL, exactly once."""

from __future__ import annotations

import argparse
import io
import os
import signal
import socket
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO

import psycopg
import sqlalchemy as sa
from mailtrail.env import ConfigError, env_float, env_int, env_list, env_zone, to_zone

from ingest.identity import (
    Identity,
    copy_note,
    drop_stored,
    first_line_fingerprint,
    identify,
    settle,
    shadow_at,
    tail_hash,
)
from ingest.pipeline import fill_batch, tune_gc, tune_switching
from ingest.refusals import read_line_at, store
from ingest.retention import plausible_window, retention_days
from ingest.sink import Batch, CheckpointConflict, Sink, SourceState
from ingest.source import (
    FINGERPRINT_BYTES,
    ReadResult,
    check_regular,
    compression_of,
    fingerprint,
    fingerprint_of,
    open_log,
    read_lines,
)
from ingest.watch import (
    Candidate,
    Pattern,
    Waker,
    belongs_to,
    debug,
    directories,
    discover,
    gzip_isize,
    name_prefixes,
    parse_patterns,
)

# The invariants, kept here and nowhere else:
#   * Batches of a file are committed in the order they were read, each conditional on the
#     offset the previous one left (rows + offset in one transaction). One commit runs in a
#     background thread while the next batch is parsed, so at most one batch is in flight.
#   * When a commit fails (outage, conflict), everything read past the committed offset is
#     dropped and read again from that offset: the file, not memory, holds what is not
#     committed. A commit that in fact succeeded before the connection broke is found out
#     by the conditional offset (CheckpointConflict) and the database's offset is taken.
#   * One tail per fingerprint: a file seen at two places at once (a copytruncate copy being
#     written, a rotated file and its .gz) is read from one of them only.
#   * A file that was rotated is read to its end before its successor: rotated tails are
#     pumped before live ones in every cycle.
# After SIGKILL the committed offsets are the whole truth: the next start resumes each file,
# wherever rotation has put it, at its offset, so no line is stored twice or skipped.

# A rotated plain file is kept open this long after its last growth: rsyslog and Dovecot
# write to the renamed file until they are told to reopen (postrotate), which can lag.
ROTATED_GRACE = 5.0
# Larger than a typical cycle's read, small enough that one transaction stays short.
BATCH_LINES = 50_000
# A live file's turns per cycle, so that one busy file cannot starve the others.
LIVE_BATCHES_PER_CYCLE = 4
# How often the follower shows `status` it is alive (its row in the follower table).
HEARTBEAT_SECONDS = 5.0
# A commit that takes longer than this is looked into: the follower says what it waits for.
WAIT_SAY_SECONDS = 2.0
# Its connections' name in pg_stat_activity, by which it finds what blocks its commits.
APPLICATION_NAME = "mailtrail-follow"
# A .gz that ends early and was written this recently is still being compressed: a later
# scan reads the rest. One older than this that ends early is damaged: said once, settled.
GZIP_SETTLE = 2.0


def _say(msg: str) -> None:
    print(f"follow: {msg}", file=sys.stderr, flush=True)


class DatabaseDown(Exception):
    """The database did not answer; the follower waits and retries, losing nothing."""


_OUTAGE = (sa.exc.OperationalError, sa.exc.InterfaceError, psycopg.OperationalError, psycopg.InterfaceError)


@dataclass
class Settings:
    patterns: list[Pattern]
    read_from: str = "beginning"
    tz: object = None
    host: str = ""
    inotify: bool = True
    poll_seconds: float = 0.5
    batch_seconds: float = 0.1
    batch_lines: int = BATCH_LINES
    retention_hours: float = 6.0  # 0: leave retention to the timer

    def entries(self) -> list[str]:
        """The followed paths as MAILTRAIL_FOLLOW spells them (for the follower table)."""
        return [f"{p.host}={p.glob}" if p.host else p.glob for p in self.patterns]


@dataclass
class Tail:
    """One file being read: its open handle, its source row, its parser."""

    fp: str
    path: str
    fh: BinaryIO
    gz: bool
    dev: int
    ino: int
    state: SourceState
    parser: object
    pattern: Pattern
    live: bool
    mtime: float
    size_seen: int = -1
    key: tuple = ()  # (dev, ino, size, mtime_ns) when opened
    read_pos: int = 0  # where the next batch starts: the committed offset + the batch in flight
    inflight: Future | None = None  # the commit of the last batch read
    last_growth: float = field(default_factory=time.monotonic)
    error_said: bool = False
    # parts of the file that may repeat what another source stored (identity.Shadow)
    shadows: list = field(default_factory=list)
    heads: dict = field(default_factory=dict)  # known sources' first lines → their ids
    ignore_at: int = -1  # a known first line found here was dealt with

    def line_at(self, offset: int) -> bytes:
        """The line at a byte offset, read through a handle of its own (safe from any thread)."""
        return read_line_at(self.fh.fileno(), offset)

    def close(self) -> None:
        try:
            self.fh.close()
        except OSError:
            pass


class Follower:
    def __init__(self, settings: Settings, engine: sa.Engine, log=_say) -> None:
        from ingest.correlate import Correlator

        self.settings = settings
        self.engine = engine
        self.sink = Sink(engine)
        self.log = log
        # one thread: commits stay in the order batches were read, across all files
        self.committer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="follow-commit")
        self.correlator = Correlator()  # shared: a session's login and logout may straddle a rotation
        self.tails: dict[str, Tail] = {}  # by fingerprint
        self.settled: set[tuple] = set()  # (dev, ino, size, mtime_ns) of files with nothing to read
        self.fingerprints: dict[tuple, str | None] = {}  # same key → fingerprint
        self.ignored: set[str] = set()  # paths said to be ignored (said once)
        self.history: dict[Pattern, float | None] = {}
        self.first_scan = True
        self.stop = threading.Event()
        self.rescan = True
        self._last_scan = 0.0
        self._last_retention = -1e12
        self.follower_id: int | None = None  # our row in the follower table, once written
        self._last_beat = -1e12
        self.retention_days = retention_days()  # events older than its cutoff are bad lines

    # ------------------------------------------------------------------------------ loop

    def run(self) -> int:
        s = self.settings
        waker = Waker(directories(s.patterns), s.inotify, self.log, name_prefixes(s.patterns))
        self._waker = waker
        how = "inotify + polling" if waker.inotify else "polling"
        self.log(
            f"following {', '.join(p.glob for p in s.patterns)} ({how} every {s.poll_seconds:g}s; "
            f"batches of up to {s.batch_lines:,} lines or {s.batch_seconds:g}s)"
        )
        down_since: float | None = None
        delay = 0.5
        ready = False
        try:
            while not self.stop.is_set():
                try:
                    if down_since is not None:
                        # commits are asynchronous: only an answer from the database says it is back
                        self._probe()
                        self.log(f"database is back after {time.monotonic() - down_since:.0f}s; catching up")
                        down_since, delay = None, 0.5
                    if waker.rescan.is_set():
                        waker.rescan.clear()
                        self.rescan = True
                    self._heartbeat()
                    self.cycle()
                    self._maybe_retain()
                    if not ready:
                        ready = True
                        self.log(f"ready: {len(self.tails)} file(s) open")
                except DatabaseDown as exc:
                    self._settle_all()
                    if down_since is None:
                        down_since = time.monotonic()
                        self.log(
                            f"database unavailable ({exc}); every file stays at its committed offset "
                            "and is read again from there; retrying with backoff"
                        )
                    self.stop.wait(delay)
                    delay = min(delay * 2, 10.0)
                    self.rescan = True
                    continue
                if self.stop.is_set():
                    break
                if waker.wait(s.poll_seconds) and s.batch_seconds > 0:
                    # a line just arrived: give its neighbours a moment to join its batch
                    self.stop.wait(s.batch_seconds)
        finally:
            waker.stop()
            self._finish()
            self._signed_off()
        return 0

    # ------------------------------------------------------------------------------ heartbeat

    def _heartbeat(self, waiting: str | None = None) -> None:
        """Show `status` that this follower is alive: its row, written at start, touched every
        HEARTBEAT_SECONDS. Earlier runs on the same files from this host are closed: a
        follower killed with SIGKILL never closed its own."""
        from ingest.schema import follower

        if self.follower_id is not None and time.monotonic() - self._last_beat < HEARTBEAT_SECONDS:
            return
        try:
            with self.engine.begin() as conn:
                if self.follower_id is None:
                    host, paths = socket.gethostname(), self.settings.entries()
                    conn.execute(
                        sa.update(follower)
                        .where(
                            follower.c.hostname == host,
                            follower.c.paths == paths,
                            follower.c.stopped_at.is_(None),
                        )
                        .values(stopped_at=sa.func.now(), waiting=f"replaced by pid {os.getpid()}")
                    )
                    conn.execute(
                        sa.delete(follower).where(
                            follower.c.stopped_at < sa.func.now() - sa.text("interval '30 days'")
                        )
                    )
                    self.follower_id = conn.execute(
                        sa.insert(follower)
                        .values(hostname=host, pid=os.getpid(), paths=paths)
                        .returning(follower.c.id)
                    ).scalar_one()
                else:
                    conn.execute(
                        sa.update(follower)
                        .where(follower.c.id == self.follower_id)
                        .values(beat_at=sa.func.now(), waiting=waiting)
                    )
        except _OUTAGE as exc:
            raise DatabaseDown(_reason(exc)) from exc
        self._last_beat = time.monotonic()

    def _signed_off(self) -> None:
        """A clean exit says so, so that `status` tells a stopped follower from a dead one."""
        from ingest.schema import follower

        if self.follower_id is None:
            return
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    sa.update(follower)
                    .where(follower.c.id == self.follower_id)
                    .values(stopped_at=sa.func.now(), beat_at=sa.func.now(), waiting=None)
                )
        except sa.exc.SQLAlchemyError as exc:
            self.log(f"could not record the stop in the follower table ({_reason(exc)})")

    def _wait_for(self, future: Future, tail: Tail) -> int:
        """future.result(), saying what the commit waits for when it takes long (a lock held
        by another session, typically): the statement gives up after the lock timeout."""
        try:
            return future.result(timeout=WAIT_SAY_SECONDS)
        except TimeoutError:
            pass
        what = self._what_blocks()
        self.log(
            f"{tail.path}: a commit has waited {WAIT_SAY_SECONDS:g}s for the database: {what}; "
            "it gives up at the lock timeout (MAILTRAIL_INGEST_LOCK_TIMEOUT_MS) and retries"
        )
        try:
            self._last_beat = -1e12
            self._heartbeat(waiting=what[:500])
        except DatabaseDown:
            pass
        return future.result()

    def _what_blocks(self) -> str:
        """Which sessions hold the locks our commit waits for, from pg_stat_activity."""
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    sa.text(
                        "SELECT b.pid, b.application_name, left(b.query, 120) AS query "
                        "FROM pg_stat_activity a "
                        "JOIN pg_stat_activity b ON b.pid = ANY(pg_blocking_pids(a.pid)) "
                        "WHERE a.application_name = :name AND a.pid <> pg_backend_pid() "
                        "AND a.wait_event_type = 'Lock'"
                    ),
                    {"name": APPLICATION_NAME},
                ).all()
        except sa.exc.SQLAlchemyError as exc:
            return f"unknown ({_reason(exc)})"
        if not rows:
            return "no lock (a slow statement)"
        return "a lock held by " + "; ".join(
            f"pid {r.pid}" + (f" ({r.application_name})" if r.application_name else "") + f": {r.query!r}"
            for r in rows
        )

    def _settle_all(self) -> None:
        """After a failure, wait for every commit in flight; files whose commit failed rewind."""
        for tail in list(self.tails.values()):
            try:
                self._await(tail)
            except DatabaseDown:
                pass  # that file was rewound to its committed offset

    def _probe(self) -> None:
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except _OUTAGE as exc:
            raise DatabaseDown(_reason(exc)) from exc

    def _maybe_retain(self) -> None:
        """Create the coming months' partitions and drop expired ones, every few hours."""
        every = self.settings.retention_hours * 3600
        if every <= 0 or time.monotonic() - self._last_retention < every:
            return
        from ingest.retention import apply_retention

        self._last_retention = time.monotonic()
        try:
            created, dropped = apply_retention(self.engine, retention_days())
        except _OUTAGE as exc:
            raise DatabaseDown(_reason(exc)) from exc
        except sa.exc.DBAPIError as exc:  # e.g. its lock timeout: the next run tries again
            self.log(f"retention not applied this time: {_reason(exc)}")
            return
        if created or dropped:
            self.log(
                f"retention: created {', '.join(created) or 'none'}; dropped {', '.join(dropped) or 'none'}"
            )

    def _finish(self) -> None:
        """On SIGTERM: let the batch in flight commit (once, no retries) and close every file."""
        held = 0
        for tail in list(self.tails.values()):
            try:
                self._await(tail)
            except DatabaseDown:
                held += 1  # its lines stay unread in the file: the next start reads them
            tail.close()
        self.tails.clear()
        self.committer.shutdown(wait=True)
        self.log(
            "stopped"
            + (f"; {held} uncommitted batch(es) left in their files for the next start" if held else "")
        )

    def request_stop(self, *_: object) -> None:
        self.stop.set()
        waker = getattr(self, "_waker", None)
        if waker is not None:
            waker.poke()

    def cycle(self) -> None:
        now = time.monotonic()
        if self.rescan or now - self._last_scan >= self.settings.poll_seconds:
            self.rescan = False
            self.scan()
            self._last_scan = time.monotonic()
        # rotated files first (oldest first), so a file's tail is read before its successor
        for tail in sorted(self.tails.values(), key=lambda t: (t.live, t.mtime, t.path)):
            if self.stop.is_set():
                break
            self.pump(tail)

    # ------------------------------------------------------------------------------ reading

    def pump(self, tail: Tail) -> None:
        """Read what a file holds now, batch by batch; each batch's commit overlaps the next read."""
        turns = 0
        result = ReadResult()
        while not self.stop.is_set():
            if not tail.gz and not self._same_content(tail):
                self._lost_identity(tail)
                return
            batch = Batch(start=tail.read_pos)
            result = ReadResult()
            lines = read_lines(
                tail.fh, batch.start, result, final=tail.gz, heads=tail.heads, ignore_at=tail.ignore_at
            )
            window = plausible_window(self.retention_days, tail.state.newest)
            exhausted = fill_batch(
                lines, batch, tail.parser, self.correlator, tail.state.id, self.settings.batch_lines, window
            )
            lines.close()
            for shadow in tail.shadows:
                self._drop_stored(tail, batch, shadow)
            if not tail.gz and batch.end != batch.start:
                batch.tail_hash = tail_hash(tail.fh.fileno(), batch.end)
            if not tail.gz and not self._same_content(tail):
                # truncated (and rewritten) while we read: what we read may be the new content
                self._lost_identity(tail)
                return
            if not self._await(tail):
                return  # the previous commit failed over to the database's offset: read again
            if batch.end != batch.start:
                size = None if tail.gz else os.fstat(tail.fh.fileno()).st_size
                tail.inflight = self.committer.submit(store, self.sink, tail.state, batch, size, tail.line_at)
                tail.read_pos = batch.end
                tail.last_growth = time.monotonic()
            if result.error and not tail.error_said and not tail.gz:
                tail.error_said = True
                self.log(f"{tail.path}: stopped at byte {result.offset:,}: {result.error}")
            if result.boundary is not None:
                self._copy_found(tail, *result.boundary)
                exhausted = False  # read on past the known first line
            if exhausted or result.error:
                break
            turns += 1
            if tail.live and turns >= LIVE_BATCHES_PER_CYCLE:
                self._waker.poke()  # more to read: come back at once
                break
        if self.stop.is_set():
            return
        if tail.gz:
            if not result.error:
                if self._close(tail, "read to its end"):
                    self.settled.add(tail.key)  # an xz/bzip2/zstd copy has no size to check cheaply
            elif time.time() - tail.mtime > GZIP_SETTLE:
                if self._close(tail, f"unreadable past here ({result.error})"):
                    self.settled.add(tail.key)
            else:
                # still being compressed: its complete lines are in; the rest on a later scan
                self._close(tail, "read as far as it is written", quiet=True)
        elif not tail.live and time.monotonic() - tail.last_growth > ROTATED_GRACE:
            self._close(tail, "rotated and read to its end")

    def _await(self, tail: Tail) -> bool:
        """Wait for the tail's commit in flight. False when reading must restart at the checkpoint.

        Lines the database refuses (a value it will always refuse) were set aside as bad lines
        by the commit itself (ingest/refusals.py); what reaches here is about the database."""
        future, tail.inflight = tail.inflight, None
        if future is None:
            return True
        try:
            refused = self._wait_for(future, tail)
        except CheckpointConflict as exc:
            # Another writer, or our own commit whose acknowledgement was lost in an outage:
            # the database's offset is the truth, so start again from it.
            self._rewind(tail)
            self._reload(tail)
            self.log(f"{tail.path}: {exc}; resuming from the committed offset {tail.state.byte_offset:,}")
            return False
        except (sa.exc.DBAPIError, psycopg.Error) as exc:
            # an outage, or an error no line is to blame for (FATAL): wait, then read again
            # from the committed offset — what was committed before the failure stays committed
            self._rewind(tail)
            raise DatabaseDown(_reason(exc)) from exc
        if refused:
            self.log(
                f"{tail.path}: {refused} line(s) refused by the database; kept in bad_line with its reason"
            )
        return True

    def _copy_found(self, tail: Tail, offset: int, source_id: int) -> None:
        """A known source's first line inside this file: what follows may be a copy of it."""
        try:
            with self.engine.connect() as conn:
                shadow, of = shadow_at(conn, source_id, offset)
        except _OUTAGE as exc:
            self._rewind(tail)
            raise DatabaseDown(_reason(exc)) from exc
        tail.ignore_at = offset
        if all(s.shift != offset for s in tail.shadows):
            tail.shadows.append(shadow)
            self.log(copy_note(tail.path, offset, shadow, of))

    def _drop_stored(self, tail: Tail, batch: Batch, shadow) -> None:  # noqa: ANN001 - identity.Shadow
        """Lines that another source stored already at the same place are not stored again."""
        if batch.start >= shadow.upto or batch.end <= shadow.shift:
            return
        try:
            with self.engine.connect() as conn:
                dropped = drop_stored(conn, batch, shadow)
        except _OUTAGE as exc:
            self._rewind(tail)
            raise DatabaseDown(_reason(exc)) from exc
        if dropped:
            self.log(
                f"{tail.path}: {dropped:,} line(s) already stored from the file it replaced; not stored again"
            )

    def _rewind(self, tail: Tail) -> None:
        """Forget what was read past the committed offset: it is read again from the file."""
        tail.read_pos = tail.state.byte_offset
        self._restore_parser(tail)

    def _reload(self, tail: Tail) -> None:
        try:
            tail.state = self.sink.open_source(tail.fp, tail.path, tail.state.host)
        except _OUTAGE as exc:
            raise DatabaseDown(_reason(exc)) from exc
        self._rewind(tail)

    def _restore_parser(self, tail: Tail) -> None:
        tail.parser = self._parser(tail.pattern, tail.state)

    def _parser(self, pattern: Pattern, state: SourceState):
        from ingest.parse import Parser

        parser = Parser(self.settings.tz, host=pattern.host or self.settings.host or state.host)
        if state.year is not None:
            parser.restore_year_state(state.year, state.month)
        return parser

    def _same_content(self, tail: Tail) -> bool:
        """False when the file under our handle was truncated or rewritten (copytruncate)."""
        fd = tail.fh.fileno()
        st = os.fstat(fd)
        if st.st_size < tail.read_pos:
            return False
        if st.st_size != tail.size_seen:
            tail.size_seen = st.st_size
            tail.mtime = st.st_mtime
            head = os.pread(fd, FINGERPRINT_BYTES, 0)
            if fingerprint_of(io.BytesIO(head)) != first_line_fingerprint(tail.fp):
                return False
        return True

    def _lost_identity(self, tail: Tail) -> None:
        # copytruncate: the lines between our offset and the truncation are in the copy
        # (mail.log.1, same fingerprint); the next scan finds it and resumes there. The batch
        # in flight was read before the truncation was seen, from the old content: it stands.
        self._await(tail)
        self.log(
            f"{tail.path}: truncated or replaced under us at byte {tail.state.byte_offset:,} "
            "(copytruncate); finishing it from its rotated copy when one is found"
        )
        tail.close()
        del self.tails[tail.fp]
        self.rescan = True
        self.scan()

    def _close(self, tail: Tail, why: str, quiet: bool = False) -> bool:
        """Close a file read to its end, once its last batch is committed (False if it was not)."""
        if not self._await(tail) or tail.read_pos != tail.state.byte_offset:
            return False
        if not quiet:
            self.log(f"{tail.path}: {why} at byte {tail.state.byte_offset:,}; closed")
        tail.close()
        self.tails.pop(tail.fp, None)
        return True

    # ------------------------------------------------------------------------------ finding files

    def scan(self) -> None:
        """Find files to read: new ones, rotated ones, compressed ones; mark what is live."""
        if self.first_scan:
            self._load_history()
        by_inode = {(t.dev, t.ino): t for t in self.tails.values() if not t.gz}
        for t in self.tails.values():
            t.live = False
        candidates = discover(self.settings.patterns)
        candidates.sort(key=lambda c: (not c.live, c.path))  # the live file claims its fingerprint
        for c in candidates:
            try:
                st = os.stat(c.path)
            except OSError:
                continue
            held = by_inode.get((st.st_dev, st.st_ino))
            if held is not None:
                if held.path != c.path and not c.live:
                    self.log(f"{held.path}: rotated to {c.path}; reading it to its end")
                held.path = c.path
                held.live = held.live or c.live
                continue
            key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
            if key in self.settled:
                continue
            if key not in self.fingerprints:
                self.fingerprints[key] = fingerprint(c.path)
            fp = self.fingerprints[key]
            if fp is None and st.st_size and not os.access(c.path, os.R_OK) and c.path not in self.ignored:
                self.ignored.add(c.path)
                self.log(f"{c.path}: cannot read it (permission denied); skipped until it can be read")
            if fp is None or fp in self.tails:
                debug(f"{c.path}: {'no complete first line yet' if fp is None else 'read at another place'}")
                continue
            self._consider(c, st, key, fp)
        if self.first_scan:
            self.first_scan = False
            started = time.time()
            for p in self.settings.patterns:
                if self.history.get(p) is None:
                    self.history[p] = started
        if len(self.fingerprints) > 10_000:
            self.fingerprints.clear()

    def _consider(self, c: Candidate, st: os.stat_result, key: tuple, fp: str) -> None:
        try:
            kind = compression_of(c.path)
        except OSError:
            return  # gone, or replaced by a FIFO, since it was found: the next scan sees
        gz = kind is not None  # compressed, of any format: read to its end, never grows
        row = self._known(fp)
        ident = Identity(fp)
        if row is not None and not gz:
            ident = self._identify(fp, c.path)
            if ident.fingerprint != fp:  # not the file its first line says: a source of its own
                row = self._known(ident.fingerprint)
        start = 0
        if row is not None:
            offset = row.byte_offset
            if gz:
                if kind == "gzip" and gzip_isize(c.path) == offset % 2**32:
                    debug(f"{c.path}: compressed, read to its end ({offset:,})")
                    self.settled.add(key)
                    return
            elif st.st_size < offset:
                self.log(
                    f"{c.path}: shorter ({st.st_size:,} bytes) than its checkpoint ({offset:,}); not read"
                )
                self.settled.add(key)
                return
            elif st.st_size == offset and not c.live:
                debug(f"{c.path}: rotated, read to its end ({offset:,})")
                self.settled.add(key)
                return
        else:
            history = self.history.get(c.pattern)
            if c.live and c.matched:
                if history is None and self.settings.read_from == "end":
                    start = -1
            elif c.matched and history is None and self.settings.read_from == "beginning":
                pass  # first start: a rotated file the glob names is read from its beginning
            elif history is not None and st.st_mtime >= history - 1:
                pass  # written since this name was first followed (e.g. during a restart): read it
            else:
                if c.path not in self.ignored:
                    self.ignored.add(c.path)
                    self.log(f"{c.path}: older than this follower's history; not read (use backfill)")
                self.settled.add(key)
                return
        try:
            fh = open_log(c.path)
        except OSError as exc:
            self.log(f"{c.path}: cannot open: {exc.strerror or exc}")
            return
        try:
            # the handle must be the same file we fingerprinted (it may have been replaced)
            fst = os.fstat(fh.fileno())
            if (fst.st_dev, fst.st_ino) != (st.st_dev, st.st_ino) or fingerprint_of(fh) != fp:
                fh.close()
                self.rescan = True
                return
            host = c.pattern.host or self.settings.host
            fp = ident.fingerprint
            state = self.sink.open_source(fp, c.path, host)
            if ident.note is not None:
                self.log(f"{c.path}: NOT the file its first line says: {ident.note}")
            with self.engine.begin() as conn:
                heads = settle(conn, state.id, ident, c.path)
            if row is None and start < 0:
                end = _last_line_end(fh.fileno(), fst.st_size)
                self.sink.commit(state, Batch(start=state.byte_offset, end=end))
                self.log(f"{c.path}: new, starting at its end (byte {end:,}; --read-from end)")
            elif row is None:
                self.log(f"{c.path}: new, reading from its beginning")
            elif state.byte_offset:
                self.log(f"{c.path}: resuming at byte {state.byte_offset:,}")
        except _OUTAGE as exc:
            fh.close()
            raise DatabaseDown(_reason(exc)) from exc
        except BaseException:
            fh.close()
            raise
        self.tails[fp] = Tail(
            fp=fp,
            path=c.path,
            fh=fh,
            gz=gz,
            dev=st.st_dev,
            ino=st.st_ino,
            state=state,
            parser=self._parser(c.pattern, state),
            pattern=c.pattern,
            live=c.live,
            mtime=st.st_mtime,
            key=key,
            read_pos=state.byte_offset,
            shadows=[ident.replaces] if ident.replaces else [],
            heads=heads,
        )
        if self.history.get(c.pattern) is None and not self.first_scan:
            self.history[c.pattern] = time.time()

    def _identify(self, fp: str, path: str) -> Identity:
        try:
            with self.engine.connect() as conn:
                return identify(conn, fp, path)
        except _OUTAGE as exc:
            raise DatabaseDown(_reason(exc)) from exc
        except OSError:
            return Identity(fp)  # gone meanwhile: opening it fails next, and says so

    def _known(self, fp: str):
        from ingest.schema import source

        try:
            with self.engine.connect() as conn:
                return conn.execute(
                    sa.select(source.c.byte_offset, source.c.created_at).where(source.c.fingerprint == fp)
                ).first()
        except _OUTAGE as exc:
            raise DatabaseDown(_reason(exc)) from exc

    def _load_history(self) -> None:
        """When each pattern was first followed (its oldest source row), or None if never."""
        from ingest.schema import source

        try:
            with self.engine.connect() as conn:
                rows = conn.execute(sa.select(source.c.path, source.c.created_at)).all()
        except _OUTAGE as exc:
            raise DatabaseDown(_reason(exc)) from exc
        for p in self.settings.patterns:
            times = [r.created_at for r in rows if belongs_to(p, r.path)]
            self.history[p] = min(times).timestamp() if times else None


def _last_line_end(fd: int, size: int) -> int:
    """The offset just after the last newline at or before `size` (0 when there is none)."""
    pos = size
    while pos > 0:
        n = min(65536, pos)
        chunk = os.pread(fd, n, pos - n)
        i = chunk.rfind(b"\n")
        if i >= 0:
            return pos - n + i + 1
        pos -= n
    return 0


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()[0] if str(orig).strip() else ""
    return f"{type(orig).__name__}: {text}"[:200] if text else type(orig).__name__


# ---------------------------------------------------------------------------------- command


def settings_from(args: argparse.Namespace) -> Settings:
    entries = list(args.paths) or env_list("MAILTRAIL_FOLLOW")
    if not entries:
        raise ConfigError("no files to follow: give PATH|GLOB arguments or set MAILTRAIL_FOLLOW")
    tz = to_zone(args.tz, "--tz") if args.tz else env_zone("MAILTRAIL_TZ")
    patterns = parse_patterns(entries)
    for p in patterns:
        if not p.is_glob and os.path.exists(p.glob):
            try:
                check_regular(p.glob)
            except OSError as exc:
                where = "PATH argument" if args.paths else "MAILTRAIL_FOLLOW"
                raise ConfigError(f"{where}: {p.glob} is {exc.strerror}") from exc
    return Settings(
        patterns=patterns,
        read_from=args.read_from,
        tz=tz,
        host=args.host,
        inotify=not args.poll,
        poll_seconds=env_float("MAILTRAIL_FOLLOW_POLL_SECONDS", 0.5, minimum=0.05),
        batch_seconds=env_float("MAILTRAIL_FOLLOW_BATCH_SECONDS", 0.1, minimum=0.0),
        batch_lines=env_int("MAILTRAIL_FOLLOW_BATCH_LINES", BATCH_LINES, minimum=1),
        retention_hours=env_float("MAILTRAIL_FOLLOW_RETENTION_HOURS", 6.0, minimum=0.0),
    )


def make_engine() -> sa.Engine:
    from mailtrail.database import ingest_connect_args, sqlalchemy_url

    # timeouts: a database host that does not answer, or a lock someone holds, must not
    # hold SIGTERM for minutes
    from ingest.sink import widen_send_buffer

    return widen_send_buffer(
        sa.create_engine(
            sqlalchemy_url(), pool_pre_ping=True, connect_args=ingest_connect_args(APPLICATION_NAME)
        )
    )


def follow_command(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    engine = make_engine()
    follower = Follower(settings, engine)
    tune_gc()
    tune_switching()
    signal.signal(signal.SIGTERM, follower.request_stop)
    signal.signal(signal.SIGINT, follower.request_stop)
    started = datetime.now().astimezone().isoformat(timespec="seconds")
    _say(f"started {started}, pid {os.getpid()}")
    try:
        return follower.run()
    finally:
        engine.dispose()
