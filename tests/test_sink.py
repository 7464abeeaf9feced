"""The sink: events by COPY and the checkpoint move together or not at all."""

import importlib
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from ingest import speedups
from ingest.event import Event
from ingest.refusals import REFUSED, classify
from ingest.sink import EVENT_COLUMNS, EVENT_TYPES, SEND_BUFFER, Batch, CheckpointConflict, Sink, copy_events

TPE = timezone(timedelta(hours=8))
T0 = datetime(2026, 11, 27, 6, 11, 11, tzinfo=TPE)


def _login(account="alice@example.edu", ip="192.0.2.7", session="AbCd+/Ef12345678", ts=T0):
    return Event(
        ts=ts, host="mx1", protocol="imap", kind="login", account=account, ip=ip, session=session, pid=4242
    )


def _expunge(account="alice@example.edu", session="AbCd+/Ef12345678", ts=T0, msgid="<m1@example.org>"):
    return Event(
        ts=ts,
        host="mx1",
        protocol="imap",
        kind="message_delete",
        account=account,
        session=session,
        pid=4242,
        mailbox="INBOX",
        uid=7,
        message_id=msgid,
        size=1234,
    )


def _batch(state, events, end, bad=()):
    batch = Batch(start=state.byte_offset, end=end)
    batch.events = [(*e, state.id, i * 10) for i, e in enumerate(events)]
    batch.bad = list(bad)
    batch.lines = len(events) + len(batch.bad)
    batch.last_ts = max((e.ts for e in events), default=None)
    return batch


def _count(engine, sql, **params):
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar_one()


def test_a_batch_lands_with_its_checkpoint(clean_db):
    sink = Sink(clean_db)
    state = sink.open_source("fp-1", "/var/log/mail.log", "mx1")
    sink.commit(state, _batch(state, [_login(), _expunge()], end=200))
    assert _count(clean_db, "SELECT count(*) FROM event") == 2
    assert _count(clean_db, "SELECT byte_offset FROM source WHERE id = :i", i=state.id) == 200
    assert sink.open_source("fp-1", "/var/log/mail.log.1", "mx1").byte_offset == 200


def test_a_stale_checkpoint_is_refused_and_writes_nothing(clean_db):
    sink = Sink(clean_db)
    state = sink.open_source("fp-2", "/var/log/mail.log", "mx1")
    stale = sink.open_source("fp-2", "/var/log/mail.log", "mx1")
    sink.commit(state, _batch(state, [_login()], end=100))
    with pytest.raises(CheckpointConflict):
        sink.commit(stale, _batch(stale, [_login()], end=100))
    assert _count(clean_db, "SELECT count(*) FROM event") == 1


def test_an_event_from_a_month_without_a_partition_gets_one(clean_db):
    sink = Sink(clean_db)
    state = sink.open_source("fp-3", "/var/log/old.log", "mx1")
    old = datetime(2009, 2, 3, 4, 5, 6, tzinfo=TPE)
    sink.commit(state, _batch(state, [_login(ts=old)], end=50))
    assert _count(clean_db, "SELECT count(*) FROM event_y2009m02") == 1


def test_bad_lines_are_kept_byte_for_byte_once(clean_db):
    sink = Sink(clean_db)
    state = sink.open_source("fp-4", "/var/log/mail.log", "mx1")
    raw = b"Nov 27 06:11:11 mx1 dovecot: imap-login: Login: \xff\xfe garbage"
    sink.commit(state, _batch(state, [], end=70, bad=[(0, raw, "invalid UTF-8")]))
    with clean_db.connect() as conn:
        row = conn.execute(sa.text("SELECT raw, reason FROM bad_line")).one()
    assert bytes(row.raw) == raw and row.reason == "invalid UTF-8"
    assert _count(clean_db, "SELECT bad_lines FROM source WHERE id = :i", i=state.id) == 1


def test_a_deletion_after_a_restart_gets_the_ip_of_its_committed_login(clean_db):
    sink = Sink(clean_db)
    state = sink.open_source("fp-5", "/var/log/mail.log", "mx1")
    sink.commit(state, _batch(state, [_login(ip="2001:db8::5")], end=100))
    later = _expunge(ts=T0 + timedelta(minutes=3))
    bob = _expunge(account="bob@example.edu", ts=T0 + timedelta(minutes=3), msgid="<b@x>")
    sink.commit(state, _batch(state, [later, bob], end=300))
    with clean_db.connect() as conn:
        rows = dict(
            conn.execute(sa.text("SELECT account, host(ip) FROM event WHERE kind = 'message_delete'")).all()
        )
    assert rows == {"alice@example.edu": "2001:db8::5", "bob@example.edu": None}


def _logout(account="alice@example.edu", session="AbCd+/Ef12345678", ts=T0):
    return Event(
        ts=ts, host="mx1", protocol="imap", kind="logout", account=account, session=session, pid=4242
    )


def _ips(engine, kind):
    with engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT account, session, host(ip) FROM event WHERE kind = :k ORDER BY account, session"),
            {"k": kind},
        ).all()


# Dovecot's log process does not keep the order of lines from different processes: a short
# session's logout (mail process) can be written before its login (imap-login).


def test_a_logout_written_before_its_login_in_the_same_batch_gets_its_ip(clean_db):
    sink = Sink(clean_db)
    state = sink.open_source("fp-6", "/var/log/mail.log", "mx1")
    sink.commit(state, _batch(state, [_logout(), _login(ip="192.0.2.9")], end=100))
    assert _ips(clean_db, "logout") == [("alice@example.edu", "AbCd+/Ef12345678", "192.0.2.9")]


def test_a_logout_committed_before_its_login_gets_its_ip_when_the_login_lands(clean_db):
    sink = Sink(clean_db)
    state = sink.open_source("fp-7", "/var/log/mail.log", "mx1")
    sink.commit(state, _batch(state, [_expunge(), _logout()], end=100))
    assert _ips(clean_db, "logout") == [("alice@example.edu", "AbCd+/Ef12345678", None)]
    sink.commit(state, _batch(state, [_login(ip="192.0.2.10", ts=T0 - timedelta(seconds=1))], end=200))
    assert _ips(clean_db, "logout") == [("alice@example.edu", "AbCd+/Ef12345678", "192.0.2.10")]
    assert _ips(clean_db, "message_delete") == [("alice@example.edu", "AbCd+/Ef12345678", "192.0.2.10")]


@pytest.mark.parametrize("login_after", [timedelta(seconds=-1), timedelta(0), timedelta(seconds=1)])
def test_a_restarted_sink_still_fills_in_an_orphan_stored_by_the_last_run(clean_db, login_after):
    # the login happened first (its stamp is earlier or the same second) but was written later
    first = Sink(clean_db)
    state = first.open_source("fp-8", "/var/log/mail.log", "mx1")
    first.commit(state, _batch(state, [_logout()], end=100))
    restarted = Sink(clean_db)
    state = restarted.open_source("fp-8", "/var/log/mail.log", "mx1")
    restarted.commit(state, _batch(state, [_login(ip="2001:db8::7", ts=T0 + login_after)], end=200))
    assert _ips(clean_db, "logout") == [("alice@example.edu", "AbCd+/Ef12345678", "2001:db8::7")]


def test_an_orphan_whose_lines_are_not_in_time_order_is_still_filled_in(clean_db):
    sink = Sink(clean_db)
    state = sink.open_source("fp-10", "/var/log/mail.log", "mx1")
    sink.commit(state, _batch(state, [_expunge(ts=T0 + timedelta(seconds=1)), _logout(ts=T0)], end=100))
    sink.commit(state, _batch(state, [_login(ip="192.0.2.10", ts=T0 - timedelta(seconds=1))], end=200))
    assert _ips(clean_db, "logout") == [("alice@example.edu", "AbCd+/Ef12345678", "192.0.2.10")]
    assert _ips(clean_db, "message_delete") == [("alice@example.edu", "AbCd+/Ef12345678", "192.0.2.10")]


def test_an_orphan_takes_only_its_own_sessions_login(clean_db):
    sink = Sink(clean_db)
    state = sink.open_source("fp-9", "/var/log/mail.log", "mx1")
    sink.commit(
        state,
        _batch(state, [_logout(), _logout(account="bob@example.edu", session="Bob0000000000000")], end=100),
    )
    # another session of alice's, and a login of bob's whose session is another one
    later = [
        _login(ip="192.0.2.11", session="Other00000000000"),
        _login("bob@example.edu", "192.0.2.12", "B2"),
    ]
    sink.commit(state, _batch(state, later, end=200))
    assert _ips(clean_db, "logout") == [
        ("alice@example.edu", "AbCd+/Ef12345678", None),
        ("bob@example.edu", "Bob0000000000000", None),
    ]


@pytest.fixture(params=["compiled", "psycopg"])
def encoder(request, monkeypatch):
    """The sink's binary COPY by ingest/_fastcopy.pyx, then by psycopg's write_row (the reference)."""
    compiled = importlib.import_module("ingest._fastcopy")  # not built: fails, not skips
    monkeypatch.setattr(speedups, "fastcopy", compiled if request.param == "compiled" else None)
    return request.param


def _stored(engine):
    with engine.connect() as conn:
        return conn.execute(
            sa.text(
                "SELECT host(ip), ts, pid, size, uid, message_id, mailbox FROM event ORDER BY line_offset"
            )
        ).all()


def test_the_binary_copy_stores_what_the_text_copy_stores(clean_db, encoder):
    # ingest/sink.py writes binary COPY; the same rows as text must land identically
    events = [
        _login(ip="192.0.2.7"),
        _login(ip="2001:db8::1f", session="Other+/Ef1234567"),
        _login(ip="::ffff:192.0.2.9", session="Third+/Ef1234567"),
        _expunge(msgid="<ünïcode\t\\ tab@example.org>", ts=T0 + timedelta(microseconds=123456)),
        _expunge(session=None, msgid=None)._replace(size=2**40, uid=2**33, mailbox="a\nb\\c"),
    ]
    sink = Sink(clean_db)
    state = sink.open_source("fp-bin", "/var/log/mail.log", "mx1")
    batch = _batch(state, events, end=500)
    sink.commit(state, batch)  # batch.events now as copied: with the IPs the sink filled in
    binary = _stored(clean_db)
    with clean_db.begin() as conn:
        conn.execute(sa.text("DELETE FROM event"))
        copy_events(conn.connection.driver_connection.cursor(), batch.events)  # binary: no fallback
        conn.execute(sa.text("DELETE FROM event"))
        copy_events(conn.connection.driver_connection.cursor(), batch.events, binary=False)
    assert _stored(clean_db) == binary
    assert [row[0] for row in binary[:3]] == ["192.0.2.7", "2001:db8::1f", "::ffff:192.0.2.9"]
    assert binary[3][1] == T0 + timedelta(microseconds=123456) and binary[4][3] == 2**40


@pytest.mark.parametrize(
    ("event", "sqlstate"),
    [
        (_login(ip="192.0.2.300"), "22P02"),  # not an IP: PostgreSQL says so, as with text
        (_login()._replace(pid=2**31), "22003"),  # past int4: psycopg's own dumper would wrap it
        (_expunge()._replace(uid=2**63), "22003"),  # past int8
    ],
)
def test_a_value_binary_cannot_encode_gets_the_databases_answer_as_text(clean_db, encoder, event, sqlstate):
    sink = Sink(clean_db)
    state = sink.open_source(f"fp-{sqlstate}", "/var/log/mail.log", "mx1")
    with pytest.raises(psycopg.Error) as caught:
        sink.commit(state, _batch(state, [_login(session="Fine+/Ef12345678"), event], end=100))
    assert caught.value.sqlstate == sqlstate and classify(caught.value) == REFUSED
    assert _count(clean_db, "SELECT count(*) FROM event") == 0
    assert _count(clean_db, "SELECT byte_offset FROM source WHERE id = :i", i=state.id) == 0
    sink.commit(state, _batch(state, [_login(session="Fine+/Ef12345678")], end=100))  # the sink goes on
    assert _count(clean_db, "SELECT count(*) FROM event") == 1


def test_the_copy_column_types_are_the_tables(clean_db):
    with clean_db.connect() as conn:
        types = conn.execute(
            sa.text(
                "SELECT format_type(a.atttypid, a.atttypmod)::regtype::text FROM unnest(CAST(:names AS text[])) "
                "WITH ORDINALITY AS u(name, n) JOIN pg_attribute a ON a.attrelid = 'event'::regclass "
                "AND a.attname = u.name ORDER BY u.n"
            ),
            {"names": list(EVENT_COLUMNS)},
        ).scalars()
        oids = conn.execute(
            sa.text("SELECT CAST(CAST(t AS regtype) AS text) FROM unnest(CAST(:t AS text[])) AS t"),
            {"t": list(EVENT_TYPES)},
        ).scalars()
        assert list(oids) == list(types)


def test_the_ingesters_connections_send_through_a_wide_buffer(database_url, monkeypatch) -> None:
    """backfill's and follow's engines widen each connection's socket send buffer (a batch's
    COPY fits, so the server reads on while the writer thread waits for the GIL), up to what
    the kernel allows; another engine keeps the default."""
    import socket

    from ingest import commands, follow
    from mailtrail.database import sqlalchemy_url

    monkeypatch.setenv("DATABASE_URL", database_url)

    def send_buffer(engine: sa.Engine) -> int:
        with engine.connect() as conn:
            fd = conn.connection.driver_connection.pgconn.socket
            with socket.socket(fileno=os.dup(fd)) as sock:
                return sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)

    plain = sa.create_engine(sqlalchemy_url(database_url))
    try:
        default = send_buffer(plain)
    finally:
        plain.dispose()
    try:
        most = int(Path("/proc/sys/net/core/wmem_max").read_text()) * 2  # Linux doubles what it is given
    except OSError:
        most = None
    for make in (commands.make_engine, follow.make_engine):
        engine = make()
        try:
            got = send_buffer(engine)
        finally:
            engine.dispose()
        want = 2 * SEND_BUFFER if most is None else min(2 * SEND_BUFFER, most)
        assert got == want and (got > default or most is not None and most <= default), (got, default)
