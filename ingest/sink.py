"""The sink: batches of events into PostgreSQL by COPY, with the source checkpoint in the same transaction."""

from __future__ import annotations

import os
import socket
import struct
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import psycopg
import sqlalchemy as sa
from psycopg import postgres
from psycopg.adapt import Dumper
from psycopg.pq import Format
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import insert as pg_insert

from ingest import speedups
from ingest.event import Event
from ingest.partitions import ensure_partitions, existing_months, month_start, next_month, partition_name
from ingest.schema import checkpoint, event, source

# The invariant that makes ingestion exactly-once:
#   a checkpoint never passes an uncommitted row, and a row is never committed without its
#   checkpoint. Events, bad lines and the source's byte_offset are written in ONE transaction,
#   and the UPDATE of byte_offset is conditional on the offset this writer started from, so
#   two writers that race on one file cannot both commit the same lines.

EVENT_COLUMNS = (*Event._fields, "source_id", "line_offset")
COPY_EVENTS = f"COPY event ({', '.join(EVENT_COLUMNS)}) FROM STDIN"
# Binary COPY: PostgreSQL parses no text (bench/copy_levers.py), and the compiled encoder
# (ingest/_fastcopy.pyx) writes a row in 0.5 µs of the writer's GIL time where psycopg's
# write_row took 1.7 (bench/copy_client.py). A value the binary format cannot hold (an int
# past int4, a malformed IP, a str with a lone surrogate, a naive datetime) fails in the
# client, where it has no SQLSTATE; the batch is then written again as text, where
# PostgreSQL judges it as before (ingest/refusals.py sorts its answer).
COPY_EVENTS_BINARY = COPY_EVENTS + " (FORMAT BINARY)"
_PG_TYPE = {"timestamp with time zone": "timestamptz", "integer": "int4", "bigint": "int8"}
EVENT_TYPES = tuple(
    _PG_TYPE.get(name, name)
    for name in (
        str(event.c[col].type.compile(dialect=postgresql.dialect())).lower() for col in EVENT_COLUMNS
    )
)


class _InetFromStr(Dumper):
    """An IP as the parser leaves it (text) in inet's binary form: family, bits, is_cidr, length, address."""

    format = Format.BINARY
    oid = postgres.types["inet"].oid

    def dump(self, obj: str) -> bytes:
        if ":" in obj:
            return b"\x03\x80\x00\x10" + socket.inet_pton(socket.AF_INET6, obj)
        return b"\x02\x20\x00\x04" + socket.inet_pton(socket.AF_INET, obj)


class _Int4(Dumper):
    """psycopg's own binary int dumpers wrap a value out of range round silently (2**31 is
    stored as -2**31); struct refuses it, and the batch goes as text, where PostgreSQL does."""

    format = Format.BINARY
    oid = postgres.types["int4"].oid
    dump = staticmethod(struct.Struct("!i").pack)


class _Int8(Dumper):
    format = Format.BINARY
    oid = postgres.types["int8"].oid
    dump = staticmethod(struct.Struct("!q").pack)


class _NotBinary(Exception):
    """A row the binary COPY could not encode in the client; the batch goes again as text."""


# A bad_line reason that starts so keeps the raw bytes of a line that WAS stored as an event,
# with a byte-level fault repaired (invalid UTF-8, NUL): for review only. Such a line counts
# as an event, never also as a bad line (Batch.repaired, source.bad_lines).
REPAIRED = "repaired: "


class CheckpointConflict(Exception):
    """Another writer moved this source's checkpoint; this batch was rolled back."""


@dataclass
class SourceState:
    """A source row as the reader needs it."""

    id: int
    fingerprint: str
    path: str
    host: str
    byte_offset: int
    year: int | None
    month: int | None
    newest: datetime | None = None  # the latest event time committed from it


@dataclass
class Batch:
    """Everything read from one source since its last checkpoint."""

    start: int  # byte_offset the batch starts from (the committed checkpoint)
    end: int = 0  # byte_offset after the last line in the batch
    events: list[tuple] = field(default_factory=list)  # Event fields + (source_id, line_offset)
    bad: list[tuple[int, bytes, str]] = field(default_factory=list)  # (line_offset, raw, reason)
    lines: int = 0
    skipped: int = 0
    first_ts: datetime | None = None  # the earliest event time in the batch
    last_ts: datetime | None = None  # the latest
    year: int | None = None
    month: int | None = None
    tail_hash: str | None = None  # what the new checkpoint stands on (ingest/identity.py)
    repaired: int = 0  # of `bad`: the kept bytes of lines stored as events (REPAIRED)
    # IDs after login whose login was committed earlier: (ts, host, account, session,
    # name, version, os, vendor); ingest/clients.py
    client_ids: list[tuple] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.end = self.end or self.start


# Dovecot writes a session's lines from two processes (imap-login's "Login:", the mail
# process's logout and mail_log lines) through its log process, which does not keep their
# order: a short session's logout can reach the file before its login. Such an event is
# stored without an IP and remembered here as an orphan; when its login arrives, in a later
# batch, the same transaction fills the IP in.
MAX_ORPHANS = 10_000
# A source's first batch (after a start, or after a failed commit) first loads the orphans
# stored around it: from this long before its earliest event to this long after its latest.
# The lines Dovecot swaps are written within a second of each other; a longer margin reads
# more rows through the ts index on every start (a minute is ~200,000 events at 10,000 lines/s).
ORPHAN_MARGIN = timedelta(minutes=1)


class Sink:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._months: set[date] = set()
        # (account, session) → (earliest, latest) ts of its stored events that lack an IP
        self._orphans: OrderedDict[tuple[str, str], tuple[datetime, datetime]] = OrderedDict()
        self._orphans_loaded: set[int] = set()  # the sources whose stored orphans are loaded
        self.written_months: set[date] = set()  # months this sink has added events to

    def open_source(self, fingerprint: str, path: str, host: str) -> SourceState:
        """The source row for a fingerprint, created at offset 0 when it is new."""
        stmt = (
            pg_insert(source)
            .values(fingerprint=fingerprint, path=path, host=host)
            .on_conflict_do_update(index_elements=[source.c.fingerprint], set_={"path": path})
            .returning(
                source.c.id,
                source.c.byte_offset,
                source.c.host,
                source.c.year,
                source.c.month,
                source.c.last_event_ts,
            )
        )
        with self.engine.begin() as conn:
            row = conn.execute(stmt).one()
        return SourceState(
            row.id, fingerprint, path, row.host, row.byte_offset, row.year, row.month, row.last_event_ts
        )

    def committed_offset(self, state: SourceState) -> int | None:
        """The source's checkpoint as the database has it now."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(source.c.byte_offset).where(source.c.id == state.id)).scalar()

    def accept_committed(self, state: SourceState, batch: Batch) -> None:
        """Take a batch as committed: its commit went through but the answer was lost."""
        self._orphans_loaded.clear()
        state.byte_offset = batch.end
        state.year, state.month = batch.year, batch.month
        if batch.last_ts is not None and (state.newest is None or batch.last_ts > state.newest):
            state.newest = batch.last_ts

    def commit(self, state: SourceState, batch: Batch, size: int | None = None) -> None:
        """Write a batch and move the checkpoint, all or nothing."""
        try:
            try:
                months, orphans, adopted = self._write_either(state, batch, size)
            except sa.exc.IntegrityError as exc:
                # "no partition of relation event found for row": retention dropped a month
                # this process thought it had. Forget what we knew and try once more.
                if "no partition" not in str(exc.orig):
                    raise
                self._months = set()
                months, orphans, adopted = self._write_either(state, batch, size)
        except Exception:
            # The commit may have happened even so (a lost acknowledgement): what it stored
            # is then only in the database. Load the orphans from there again next time.
            self._orphans_loaded.clear()
            raise
        self._months |= months
        self.written_months |= months
        self._remember_orphans(orphans, adopted)
        state.byte_offset = batch.end
        state.year, state.month = batch.year, batch.month
        if batch.last_ts is not None and (state.newest is None or batch.last_ts > state.newest):
            state.newest = batch.last_ts

    def _write_either(
        self, state: SourceState, batch: Batch, size: int | None
    ) -> tuple[set[date], dict, list]:
        """_write by binary COPY, or as text when a row does not encode (in a new transaction)."""
        try:
            return self._write(state, batch, size)
        except _NotBinary:
            return self._write(state, batch, size, binary=False)

    def _write(
        self, state: SourceState, batch: Batch, size: int | None, binary: bool = True
    ) -> tuple[set[date], dict, list]:
        with self.engine.begin() as conn:
            months: set[date] = set()
            orphans: dict[tuple[str, str], tuple[datetime, datetime]] = {}
            adopted: list[tuple[str, str]] = []
            if batch.events:
                months = self._ensure_months(conn, batch)
                if state.id not in self._orphans_loaded:
                    self._merge_orphans(load_orphans(conn, batch.events))  # read-only: kept on rollback
                    self._orphans_loaded.add(state.id)
                orphans = resolve_ips_from_logins(conn, batch.events)
                copy_events(conn.connection.driver_connection.cursor(), batch.events, binary)
                if self._orphans:
                    adopted = adopt_orphans(conn, batch.events, self._orphans)
            if batch.client_ids:
                fill_committed_clients(conn, batch.client_ids)
            if batch.bad:
                self._write_bad_lines(conn, state.id, batch.bad)
            values = {
                "byte_offset": batch.end,
                "lines": source.c.lines + batch.lines,
                "events": source.c.events + len(batch.events),
                "skipped": source.c.skipped + batch.skipped,
                "bad_lines": source.c.bad_lines + len(batch.bad) - batch.repaired,
                "year": batch.year,
                "month": batch.month,
                "updated_at": sa.func.now(),
            }
            if size is not None:
                values["size"] = size
            if batch.last_ts is not None:
                values["last_event_ts"] = sa.func.greatest(
                    sa.func.coalesce(source.c.last_event_ts, batch.last_ts), batch.last_ts
                )
            moved = conn.execute(
                sa.update(source)
                .where(source.c.id == state.id, source.c.byte_offset == batch.start)
                .values(**values)
            ).rowcount
            if moved != 1:
                raise CheckpointConflict(
                    f"source {state.id} ({state.path}) is no longer at offset {batch.start}; "
                    "another ingester is reading it"
                )
            if batch.tail_hash is not None:
                conn.execute(
                    pg_insert(checkpoint)
                    .values(source_id=state.id, byte_offset=batch.end, tail_hash=batch.tail_hash)
                    .on_conflict_do_update(
                        index_elements=[checkpoint.c.source_id],
                        set_={"byte_offset": batch.end, "tail_hash": batch.tail_hash},
                    )
                )
        return months, orphans, adopted

    def _remember_orphans(self, orphans: dict, adopted: list) -> None:
        for key in adopted:
            self._orphans.pop(key, None)
        self._merge_orphans(orphans)

    def _merge_orphans(self, orphans: dict) -> None:
        known = self._orphans
        for key, (first, last) in orphans.items():
            old = known.pop(key, None)
            known[key] = (min(first, old[0]), max(last, old[1])) if old else (first, last)
        while len(known) > MAX_ORPHANS:
            known.popitem(last=False)  # the oldest: its login is not coming

    def analyze_written(self) -> list[str]:
        """ANALYZE the partitions this sink wrote to; returns their names. After a bulk load
        the planner's statistics still describe the empty table, and until autovacuum gets to
        it (a minute or more) it picks plans for a handful of rows: an account's 500-row page
        then sorts all of the account's day (15 times slower on a 48,000-event day)."""
        names = [partition_name(month) for month in sorted(self.written_months)]
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for name in names:
                conn.execute(sa.text(f'ANALYZE "{name}"'))
        return names

    @staticmethod
    def _write_bad_lines(conn: sa.Connection, source_id: int, bad: list[tuple[int, bytes, str]]) -> None:
        # By COPY, so that any number fits (an INSERT's 65,535 parameters held 16,383), into a
        # scratch table first: ON CONFLICT keeps a line re-read after a crash from being
        # stored twice. A reason may quote the line: NUL is the one character text refuses.
        conn.execute(sa.text(_BAD_SCRATCH))
        cur = conn.connection.driver_connection.cursor()
        with cur.copy("COPY bad_line_in (line_offset, raw, reason) FROM STDIN") as copy:
            write_row = copy.write_row
            for offset, raw, why in bad:
                write_row((offset, raw, why.replace("\x00", "\\0")))
        conn.execute(
            sa.text(
                "INSERT INTO bad_line (source_id, line_offset, raw, reason) "
                "SELECT :source_id, line_offset, raw, reason FROM bad_line_in ORDER BY line_offset "
                "ON CONFLICT (source_id, line_offset) DO NOTHING"
            ),
            {"source_id": source_id},
        )

    def touch(self, state: SourceState, size: int) -> None:
        """Record that a source was looked at (for status), without moving its checkpoint."""
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(source).where(source.c.id == state.id).values(size=size, updated_at=sa.func.now())
            )

    def _ensure_months(self, conn: sa.Connection, batch: Batch) -> set[date]:
        """Create the partitions a batch needs; returns its months (cached after commit)."""
        first = batch.first_ts or min(row[0] for row in batch.events)
        last = batch.last_ts or max(row[0] for row in batch.events)
        months, month = set(), month_start(first)
        while month <= month_start(last):
            months.add(month)
            month = next_month(month)
        if months <= self._months:
            return months
        if not self._months:
            self._months = existing_months(conn)
        if not months <= self._months:
            ensure_partitions(conn, months - self._months)
        return months


# The socket buffer a connection of the ingester sends through: a whole batch's COPY
# (~3 MB for 25,000 lines) fits, so PostgreSQL goes on reading it while the writer thread
# waits for the GIL, which the parsing thread holds most of the time. With the kernel's
# default (~200 kB, about 5 ms of PostgreSQL's work) the server waited for the client 11 %
# of a backfill (pg_stat_activity: ClientRead inside COPY). Linux caps it at
# net.core.wmem_max (4 MiB by default).
SEND_BUFFER = 4 * 1024 * 1024


def widen_send_buffer(engine: sa.Engine) -> sa.Engine:
    """Every new connection of engine sends through a SEND_BUFFER socket buffer."""
    sa.event.listen(engine, "connect", _widen)
    return engine


def _widen(dbapi_conn, record) -> None:  # noqa: ANN001 — SQLAlchemy's connect event
    try:
        with socket.socket(fileno=os.dup(dbapi_conn.pgconn.socket)) as sock:  # the same socket
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
    except (OSError, AttributeError, psycopg.Error):
        pass  # a socket that will not: the default buffer, slower and otherwise the same


def copy_events(
    cur: psycopg.Cursor, rows: list[tuple], binary: bool = True, *, compiled: bool = True
) -> None:
    """COPY rows (EVENT_COLUMNS) into event; binary unless told otherwise. A row the binary
    format cannot encode raises _NotBinary (the COPY is then aborted; roll back and go again
    as text). The binary rows are encoded by ingest/_fastcopy.pyx where it is built (and
    `compiled`), else by psycopg's write_row with the dumpers above, the reference."""
    if not binary:
        with cur.copy(COPY_EVENTS) as copy:
            write_row = copy.write_row
            for row in rows:
                write_row(row)
        return
    fast = speedups.fastcopy if compiled else None
    if fast is not None and cur.connection.info.encoding == "utf-8":  # it writes text as UTF-8
        with cur.copy(COPY_EVENTS_BINARY) as copy, _encoding_refused():
            copy.write(fast.HEADER)
            done, encode = 0, fast.encode
            while done < len(rows):
                data, done = encode(rows, EVENT_TYPES, done, COPY_CHUNK)
                copy.write(data)
            copy.write(fast.TRAILER)
        return
    for dumper in (_InetFromStr, _Int4, _Int8):  # this cursor's, by type, for set_types
        cur.adapters.register_dumper(None, dumper)
    with cur.copy(COPY_EVENTS_BINARY) as copy:
        copy.set_types(EVENT_TYPES)
        write_row = copy.write_row
        with _encoding_refused():
            for row in rows:
                write_row(row)


# bytes of rows per copy.write from the compiled encoder: under psycopg's MAX_BUFFER_SIZE
# (128 KiB), which it would otherwise cut into pieces with a copy of each
COPY_CHUNK = 120_000


@contextmanager
def _encoding_refused() -> Iterator[None]:
    """An error raised while encoding rows, as _NotBinary; the server's or the connection's as it is."""
    try:
        yield
    except Exception as exc:
        if getattr(exc, "sqlstate", None) or isinstance(
            exc, (psycopg.OperationalError, psycopg.InterfaceError)
        ):
            raise  # the server's answer, or the connection: not the encoding
        raise _NotBinary(f"{type(exc).__name__}: {exc}") from exc


_BAD_SCRATCH = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS bad_line_in "
    "(line_offset bigint NOT NULL, raw bytea NOT NULL, reason text NOT NULL) ON COMMIT DELETE ROWS"
)

_TS, _ACCOUNT, _KIND, _IP, _SESSION = (
    Event._fields.index(f) for f in ("ts", "account", "kind", "ip", "session")
)
_NO_SESSION_IP = ("login", "auth_fail")


def resolve_ips_from_logins(conn: sa.Connection, rows: list[tuple]) -> dict:
    """Give events that still lack their session's IP the IP of its login: one later in this
    batch (written out of order), or one committed earlier (before a restart, or in an earlier
    run); the in-memory correlator covers everything else. Looks back two days from the
    batch, on the (account, ts) primary key. Returns the sessions still without a login, as
    (account, session) → (earliest, latest) ts of their events."""
    wanted: dict[tuple[str, str], list[int]] = {}
    for i, row in enumerate(rows):
        if row[_IP] is None and row[_SESSION] is not None and row[_KIND] not in _NO_SESSION_IP:
            wanted.setdefault((row[_ACCOUNT], row[_SESSION]), []).append(i)
    if not wanted:
        return {}
    found = logins_of(rows, wanted)
    rest = [key for key in wanted if key not in found]
    if rest:
        newest = max(rows[i][_TS] for key in rest for i in wanted[key])
        found.update(
            ((account, session), ip)
            for account, session, ip in conn.execute(
                sa.text(
                    "SELECT e.account, e.session, host(e.ip) FROM event e "
                    "JOIN unnest(CAST(:accounts AS text[]), CAST(:sessions AS text[])) "
                    "AS w(account, session) ON e.account = w.account AND e.session = w.session "
                    "WHERE e.kind = 'login' AND e.ip IS NOT NULL "
                    "AND e.ts >= CAST(:newest AS timestamptz) - interval '2 days' AND e.ts <= :newest"
                ),
                {"accounts": [a for a, _ in rest], "sessions": [s for _, s in rest], "newest": newest},
            )
        )
    for key, ip in found.items():
        for i in wanted.pop(key):
            row = list(rows[i])
            row[_IP] = ip
            rows[i] = tuple(row)
    # min and max, not first and last: a session's lines are not always in time order
    return {
        key: (min(rows[i][_TS] for i in idx), max(rows[i][_TS] for i in idx)) for key, idx in wanted.items()
    }


def logins_of(rows: list[tuple], sessions: dict) -> dict[tuple[str, str], str]:
    """The IP of each login in rows whose (account, session) is a key of sessions."""
    found = {}
    for row in rows:
        if row[_KIND] == "login" and row[_IP] is not None:
            key = (row[_ACCOUNT], row[_SESSION])
            if key in sessions:
                found[key] = row[_IP]
    return found


def adopt_orphans(conn: sa.Connection, rows: list[tuple], orphans: dict) -> list[tuple[str, str]]:
    """Fill in the IP of stored orphans whose login is in this batch (one UPDATE, each
    session's rows found by the primary key); returns their keys."""
    logins = logins_of(rows, orphans)
    if logins:
        keys = list(logins)
        conn.execute(
            sa.text(
                "UPDATE event e SET ip = w.ip FROM unnest(CAST(:accounts AS text[]), "
                "CAST(:sessions AS text[]), CAST(:ips AS inet[]), CAST(:firsts AS timestamptz[]), "
                "CAST(:lasts AS timestamptz[])) AS w(account, session, ip, first, last) "
                "WHERE e.account = w.account AND e.ts BETWEEN w.first AND w.last "
                "AND e.session = w.session AND e.ip IS NULL AND e.kind NOT IN ('login', 'auth_fail')"
            ),
            {
                "accounts": [a for a, _ in keys],
                "sessions": [s for _, s in keys],
                "ips": [logins[k] for k in keys],
                "firsts": [orphans[k][0] for k in keys],
                "lasts": [orphans[k][1] for k in keys],
            },
        )
    return list(logins)


_CLIENT_PARAMS = ("ts", "hosts", "accounts", "sessions", "names", "versions", "oses", "vendors")


def fill_committed_clients(conn: sa.Connection, ids: list[tuple]) -> None:
    """Give the client fields of IDs sent after login to the committed rows of their session
    that carry none (its login, and what the session did before the ID): one UPDATE, each
    session's rows found by the (account, ts) key, looking back two days like the IPs."""
    conn.execute(
        sa.text(
            "UPDATE event e SET client_name = w.name, client_version = w.version, "
            "client_os = w.os, client_vendor = w.vendor "
            "FROM unnest(CAST(:ts AS timestamptz[]), CAST(:hosts AS text[]), CAST(:accounts AS text[]), "
            "CAST(:sessions AS text[]), CAST(:names AS text[]), CAST(:versions AS text[]), "
            "CAST(:oses AS text[]), CAST(:vendors AS text[])) "
            "AS w(ts, host, account, session, name, version, os, vendor) "
            "WHERE e.account = w.account AND e.ts BETWEEN w.ts - interval '2 days' AND w.ts + interval '1 minute' "
            "AND e.session = w.session AND e.host = w.host AND e.client_name IS NULL "
            "AND e.client_version IS NULL AND e.client_os IS NULL AND e.client_vendor IS NULL"
        ),
        dict(zip(_CLIENT_PARAMS, map(list, zip(*ids, strict=True)), strict=True)),
    )


def load_orphans(conn: sa.Connection, rows: list[tuple]) -> dict:
    """The orphans stored (by an earlier run) around the time of these rows."""
    found = conn.execute(
        sa.text(
            "SELECT account, session, min(ts), max(ts) FROM event "
            "WHERE ts >= CAST(:first AS timestamptz) - CAST(:margin AS interval) "
            "AND ts <= CAST(:last AS timestamptz) + CAST(:margin AS interval) "
            "AND ip IS NULL AND session IS NOT NULL AND kind NOT IN ('login', 'auth_fail') "
            "GROUP BY account, session ORDER BY min(ts) LIMIT :n"
        ),
        {
            "first": min(row[_TS] for row in rows),
            "last": max(row[_TS] for row in rows),
            "margin": ORPHAN_MARGIN,
            "n": MAX_ORPHANS,
        },
    )
    return {(account, session): (first, last) for account, session, first, last in found}


def wait_for_database(engine: sa.Engine, *, attempts: int = 0, log=print) -> None:
    """Block until the database answers; attempts=0 means forever, with capped backoff."""
    delay, tried = 0.5, 0
    while True:
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            return
        except sa.exc.OperationalError as exc:
            tried += 1
            if attempts and tried >= attempts:
                raise
            log(f"database unavailable ({exc.orig.__class__.__name__}); retrying in {delay:.1f}s")
            time.sleep(delay)
            delay = min(delay * 2, 10.0)
