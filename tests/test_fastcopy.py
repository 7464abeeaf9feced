"""The compiled COPY encoder (ingest/_fastcopy.pyx) stores what psycopg's write_row stores, and refuses alike."""

from __future__ import annotations

import importlib
import ipaddress
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import psycopg
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ingest import speedups
from ingest.sink import EVENT_COLUMNS, EVENT_TYPES, _NotBinary, copy_events

# The default run tests both paths: a build without the extension fails here, not skips.
fastcopy = importlib.import_module("ingest._fastcopy")

REQUIRED = {"ts", "host", "protocol", "kind", "account", "source_id", "line_offset"}
ZONES = [UTC, timezone(timedelta(hours=14)), timezone(-timedelta(hours=12, minutes=30))] + [
    ZoneInfo(name) for name in ("Asia/Taipei", "America/New_York", "Europe/London", "Australia/Lord_Howe")
]
NO_NUL = st.characters(exclude_characters="\x00", exclude_categories=("Cs",))  # text refuses NUL; Cs below
INT4 = st.integers(-(2**31), 2**31 - 1)
INT8 = st.integers(-(2**63), 2**63 - 1)


def _ips() -> st.SearchStrategy[str]:
    v4 = st.ip_addresses(v=4)
    return st.one_of(
        v4.map(str),
        st.ip_addresses(v=6).map(str),
        st.ip_addresses(v=6).map(lambda ip: ip.exploded.upper()),
        v4.map(lambda ip: f"::ffff:{ip}"),  # IPv4-mapped, as Dovecot logs a v4 client of a v6 socket
        v4.map(lambda ip: f"64:ff9b::{ip}"),
    )


_VALUES = {
    "timestamptz": st.one_of(
        st.datetimes(timezones=st.sampled_from(ZONES) | st.timezones()),  # years 1–9999, DST gaps, folds
        st.sampled_from(ZONES).map(lambda tz: datetime(1, 1, 1, tzinfo=tz)),  # before year 1 in UTC
        st.sampled_from(ZONES).map(lambda tz: datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=tz)),
    ),
    "text": st.text(NO_NUL, max_size=40),
    "inet": _ips(),
    "int4": st.one_of(INT4, st.sampled_from([-(2**31), 2**31 - 1, 0, -1])),
    "int8": st.one_of(INT8, st.sampled_from([-(2**63), 2**63 - 1, 2**31, -(2**31) - 1])),
}


@st.composite
def _rows(draw) -> list[tuple]:
    rows = []
    for offset in range(draw(st.integers(1, 12))):
        row = []
        for name, kind in zip(EVENT_COLUMNS, EVENT_TYPES, strict=True):
            value = _VALUES[kind] if name in REQUIRED else st.none() | _VALUES[kind]
            row.append(draw(value))
        if rows and draw(st.booleans()):  # a log's lines share one datetime object within a second
            row[0] = rows[-1][0]
        row[-1] = offset  # line_offset: the order to read them back in
        rows.append(tuple(row))
    return rows


def _copied(conn: psycopg.Connection, rows: list[tuple], compiled: bool) -> list[tuple]:
    """What PostgreSQL holds after copy_events of rows into a scratch `event` (pg_temp comes
    first in search_path: it has the columns' types, without the partitions by month), in
    PostgreSQL's text of each value (Python has no datetime for a time BC in UTC)."""
    conn.execute("TRUNCATE event")
    copy_events(conn.cursor(), rows, compiled=compiled)
    columns = ", ".join(f"CAST({name} AS text)" for name in EVENT_COLUMNS)
    return conn.execute(f"SELECT {columns} FROM event ORDER BY event.line_offset").fetchall()


@pytest.fixture(scope="module")
def scratch(database_url):
    with psycopg.connect(database_url) as conn:
        conn.execute(
            f"CREATE TEMPORARY TABLE event AS SELECT {', '.join(EVENT_COLUMNS)} FROM public.event LIMIT 0"
        )
        assert conn.info.encoding == "utf-8"  # else copy_events takes psycopg's path for both
        used, speedups.fastcopy = speedups.fastcopy, fastcopy  # MAILTRAIL_PURE_PYTHON aside
        try:
            yield conn
        finally:
            speedups.fastcopy = used


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=_rows())
def test_postgresql_holds_the_same_rows_from_either_encoder(scratch, rows):
    with scratch.transaction(force_rollback=True):
        compiled = _copied(scratch, rows, compiled=True)
        reference = _copied(scratch, rows, compiled=False)
    assert compiled == reference
    for held, sent in zip(compiled, rows, strict=True):  # and what was sent, bar the times' and IPs' text
        for kind, got, value in zip(EVENT_TYPES, held, sent, strict=True):
            if kind in ("text", "int4", "int8"):
                assert got == (None if value is None else str(value))
            elif kind == "inet" and value is not None:
                assert ipaddress.ip_interface(got).ip == ipaddress.ip_address(value)


def test_many_rows_go_in_several_writes_and_all_arrive(scratch):
    t0 = datetime(2026, 11, 27, 6, 11, 11, tzinfo=ZoneInfo("Asia/Taipei"))
    row = [None] * len(EVENT_COLUMNS)
    row[:6] = [t0, "mx1", "imap", "login", "ålice@example.edu", "2001:db8::1"]
    rows = [tuple(row[:-2]) + (1, i) for i in range(3_000)]
    rows = [r[:4] + (r[4] * 20,) + r[5:] for r in rows]  # ~600 bytes a row
    assert len(fastcopy.encode(rows, EVENT_TYPES, 0, 120_000)[0]) < 130_000  # cut near the limit
    with scratch.transaction(force_rollback=True):
        assert _copied(scratch, rows, compiled=True) == _copied(scratch, rows, compiled=False)
        assert scratch.execute("SELECT count(*), max(line_offset) FROM event").fetchone() == (3_000, 2_999)


def _valid_row(**values) -> tuple:
    row = dict.fromkeys(EVENT_COLUMNS)
    row.update(ts=datetime(2026, 11, 27, tzinfo=UTC), host="mx1", protocol="imap", kind="login")
    row.update(account="alice", source_id=1, line_offset=0)
    row.update(values)
    return tuple(row.values())


def _outcome(conn: psycopg.Connection, rows: list[tuple], compiled: bool) -> object:
    """The rows PostgreSQL holds after copy_events, or how it was refused."""
    try:
        with conn.transaction(force_rollback=True):
            return _copied(conn, rows, compiled)
    except _NotBinary:
        return "not binary: the batch goes again as text"
    except psycopg.Error as exc:
        return f"refused by the server: {exc.sqlstate}"


@example(column="pid", value=2**31)
@example(column="pid", value=-(2**31) - 1)
@example(column="size", value=2**63)
@example(column="uid", value=-(2**63) - 1)
@example(column="account", value="al\udcffice")  # a lone surrogate: not UTF-8
@example(column="account", value="al\x00ice")  # PostgreSQL's to refuse (22021), either way
@example(column="ip", value="192.0.2.300")
@example(column="ip", value="192.0.2.1\x00")  # inet_pton in C would read up to the NUL
@example(column="ip", value="192.0.2.1\udc80")
@example(column="ip", value="fe80::1%eth0")
@example(column="ip", value="1.2.3")
@example(column="ip", value="１.2.3.4")
@example(column="ts", value=datetime(2026, 11, 27))  # naive
@example(column="ts", value="2026-11-27 00:00:00+00")
@example(column="pid", value=1.0)
@example(column="pid", value="4242")
@example(column="account", value=42)
@example(column="ip", value=b"192.0.2.1")
@given(
    column=st.sampled_from(EVENT_COLUMNS[:-1]),  # line_offset orders them
    value=st.one_of(
        st.integers().filter(lambda n: not -(2**63) <= n < 2**63),
        st.integers(-(2**63), 2**63 - 1),  # out of int4's range in an int4 column
        st.text(min_size=1).map(lambda s: s + "\ud800"),
        st.text(max_size=20),  # in a column of another type
        st.floats(allow_nan=False),
        st.binary(max_size=8),
        st.datetimes(),
    ),
)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_value_one_encoder_refuses_the_other_refuses_alike(scratch, column, value):
    rows = [_valid_row(), _valid_row(**{"line_offset": 1, column: value})]
    compiled = _outcome(scratch, rows, compiled=True)
    assert compiled == _outcome(scratch, rows, compiled=False)
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        assert compiled == "not binary: the batch goes again as text"  # never wrapped round


def test_a_row_longer_than_a_piece_and_a_call_within_a_call_keep_their_bytes(scratch):
    long_row = _valid_row(reason="ß" * 300_000)  # 600 kB: the kept buffer grows, then is given back
    with scratch.transaction(force_rollback=True):
        assert _copied(scratch, [long_row, _valid_row(line_offset=1)], compiled=True) == _copied(
            scratch, [long_row, _valid_row(line_offset=1)], compiled=False
        )
    inner = []

    class Pid:  # an int by __index__ whose conversion encodes other rows meanwhile
        def __index__(self) -> int:
            inner.append(fastcopy.encode([_valid_row(account="bob")], EVENT_TYPES, 0, 100)[0])
            return 7

    outer = fastcopy.encode([_valid_row(pid=Pid())], EVENT_TYPES, 0, 100)
    assert outer == fastcopy.encode([_valid_row(pid=7)], EVENT_TYPES, 0, 100)
    assert inner == [fastcopy.encode([_valid_row(account="bob")], EVENT_TYPES, 0, 100)[0]]


def test_rows_of_any_sequence_and_a_list_emptied_meanwhile_are_read_safely():
    one = fastcopy.encode([_valid_row()], EVENT_TYPES, 0, 100)
    assert fastcopy.encode([list(_valid_row())], EVENT_TYPES, 0, 100) == one
    rows: list = []

    class Pid:
        def __index__(self) -> int:
            rows.clear()  # no log does this; the encoder must not read past the list's end
            return 7

    rows += [_valid_row(pid=Pid()), _valid_row(), _valid_row()]
    data, done = fastcopy.encode(rows, EVENT_TYPES, 0, 10_000)
    assert (data, done) == (fastcopy.encode([_valid_row(pid=7)], EVENT_TYPES, 0, 100)[0], 1)


def test_the_encoder_knows_every_column_type_of_the_event_table():
    # a column of a new type would make every batch fail to encode and go as text: slowly
    assert set(EVENT_TYPES) <= set(fastcopy.KINDS)
