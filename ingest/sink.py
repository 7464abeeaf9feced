"""The sink: batches of events into PostgreSQL by COPY, with the source checkpoint in the same transaction."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from ingest.event import Event
from ingest.partitions import ensure_partitions, existing_months, month_start, next_month
from ingest.schema import bad_line, source

# The invariant that makes ingestion exactly-once:
#   a checkpoint never passes an uncommitted row, and a row is never committed without its
#   checkpoint. Events, bad lines and the source's byte_offset are written in ONE transaction,
#   and the UPDATE of byte_offset is conditional on the offset this writer started from, so
#   two writers that race on one file cannot both commit the same lines.

EVENT_COLUMNS = (*Event._fields, "source_id", "line_offset")
COPY_EVENTS = f"COPY event ({', '.join(EVENT_COLUMNS)}) FROM STDIN"


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

    def __post_init__(self) -> None:
        self.end = self.end or self.start


class Sink:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._months: set[date] = set()

    def open_source(self, fingerprint: str, path: str, host: str) -> SourceState:
        """The source row for a fingerprint, created at offset 0 when it is new."""
        stmt = (
            pg_insert(source)
            .values(fingerprint=fingerprint, path=path, host=host)
            .on_conflict_do_update(index_elements=[source.c.fingerprint], set_={"path": path})
            .returning(source.c.id, source.c.byte_offset, source.c.host, source.c.year, source.c.month)
        )
        with self.engine.begin() as conn:
            row = conn.execute(stmt).one()
        return SourceState(row.id, fingerprint, path, row.host, row.byte_offset, row.year, row.month)

    def commit(self, state: SourceState, batch: Batch, size: int | None = None) -> None:
        """Write a batch and move the checkpoint, all or nothing."""
        try:
            months = self._write(state, batch, size)
        except sa.exc.IntegrityError as exc:
            # "no partition of relation event found for row": retention dropped a month this
            # process thought it had. Forget what we knew and try once more.
            if "no partition" not in str(exc.orig):
                raise
            self._months = set()
            months = self._write(state, batch, size)
        self._months |= months
        state.byte_offset = batch.end
        state.year, state.month = batch.year, batch.month

    def _write(self, state: SourceState, batch: Batch, size: int | None) -> set[date]:
        with self.engine.begin() as conn:
            months: set[date] = set()
            if batch.events:
                months = self._ensure_months(conn, batch)
                resolve_ips_from_logins(conn, batch.events)
                cur = conn.connection.driver_connection.cursor()
                with cur.copy(COPY_EVENTS) as copy:
                    write_row = copy.write_row
                    for row in batch.events:
                        write_row(row)
            if batch.bad:
                self._write_bad_lines(conn, state.id, batch.bad)
            values = {
                "byte_offset": batch.end,
                "lines": source.c.lines + batch.lines,
                "events": source.c.events + len(batch.events),
                "skipped": source.c.skipped + batch.skipped,
                "bad_lines": source.c.bad_lines + len(batch.bad),
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
        return months

    @staticmethod
    def _write_bad_lines(conn: sa.Connection, source_id: int, bad: list[tuple[int, bytes, str]]) -> None:
        # ON CONFLICT keeps a line re-read after a crash from being stored twice.
        stmt = (
            pg_insert(bad_line)
            .values(
                [{"source_id": source_id, "line_offset": o, "raw": r, "reason": why} for o, r, why in bad]
            )
            .on_conflict_do_nothing(index_elements=["source_id", "line_offset"])
        )
        conn.execute(stmt)

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


_TS, _ACCOUNT, _KIND, _IP, _SESSION = (
    Event._fields.index(f) for f in ("ts", "account", "kind", "ip", "session")
)
_NO_SESSION_IP = ("login", "auth_fail")


def resolve_ips_from_logins(conn: sa.Connection, rows: list[tuple]) -> int:
    """Give events whose session's login was committed earlier (before a restart, or in an
    earlier run) the IP of that login; the in-memory correlator covers everything else.
    Looks back two days from the batch, on the (account, ts) primary key. Returns how many
    rows it filled in."""
    wanted = {}
    for i, row in enumerate(rows):
        if row[_IP] is None and row[_SESSION] is not None and row[_KIND] not in _NO_SESSION_IP:
            wanted.setdefault((row[_ACCOUNT], row[_SESSION]), []).append(i)
    if not wanted:
        return 0
    accounts = [a for a, _ in wanted]
    sessions = [s for _, s in wanted]
    newest = max(rows[i][_TS] for idx in wanted.values() for i in idx)
    found = conn.execute(
        sa.text(
            "SELECT e.account, e.session, host(e.ip) FROM event e "
            "JOIN unnest(CAST(:accounts AS text[]), CAST(:sessions AS text[])) AS w(account, session) "
            "ON e.account = w.account AND e.session = w.session "
            "WHERE e.kind = 'login' AND e.ip IS NOT NULL "
            "AND e.ts >= CAST(:newest AS timestamptz) - interval '2 days' AND e.ts <= :newest"
        ),
        {"accounts": accounts, "sessions": sessions, "newest": newest},
    ).all()
    filled = 0
    for account, session, ip in found:
        for i in wanted.pop((account, session), ()):
            row = list(rows[i])
            row[_IP] = ip
            rows[i] = tuple(row)
            filled += 1
    return filled


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
