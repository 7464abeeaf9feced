"""ingest/refusals.py and the limits before it: a refused line is set aside, an outage is waited out, nothing stops."""

import base64
import hashlib
import imaplib
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import sqlalchemy as sa

from ingest.event import MAX_LENGTH, Event, over_limit
from ingest.pipeline import implausible
from ingest.refusals import FATAL, OUTAGE, REFUSED, classify, store
from ingest.retention import plausible_window
from ingest.sink import Batch, Sink
from tests.conftest import PROJECT_DIR

NOW = datetime.now(UTC).replace(microsecond=0)


def row(n: int, account: str = "alice@example.edu", ts: datetime = NOW) -> tuple:
    event = Event(ts + timedelta(seconds=n), "mx1", "imap", "login", account, "192.0.2.7", f"S{n:015d}")
    return (*event, 1, n * 100)


def batch_of(rows: list[tuple], end: int) -> Batch:
    b = Batch(start=0, end=end, events=rows, lines=len(rows))
    b.first_ts, b.last_ts = min(r[0] for r in rows), max(r[0] for r in rows)
    return b


def stored(engine, sql: str):
    with engine.connect() as conn:
        return conn.execute(sa.text(sql)).all()


def test_a_row_the_database_will_always_refuse_is_set_aside_and_the_rest_commits(clean_db):
    sink = Sink(clean_db)
    state = sink.open_source("fp-refused", "/var/log/mail.log", "mx1")
    rows = [row(n) for n in range(40)]
    # past a btree entry's 2,704 bytes even compressed: SQLSTATE 54000
    noise = base64.b64encode(b"".join(hashlib.sha512(bytes([i])).digest() for i in range(50)))
    rows[17] = row(17, account=noise[:4000].decode())
    lines = {n * 100: f"line {n}".encode() for n in range(40)}
    refused = store(sink, state, batch_of(rows, 4000), None, lines.__getitem__)
    assert refused == 1
    assert len(stored(clean_db, "SELECT 1 FROM event")) == 39
    ((offset, raw, reason),) = stored(clean_db, "SELECT line_offset, raw, reason FROM bad_line")
    assert (offset, bytes(raw)) == (1700, b"line 17")
    assert reason.startswith("refused by the database: ") and "54000" in reason and "index row" in reason
    (src,) = stored(clean_db, "SELECT byte_offset, lines, events, bad_lines FROM source")
    assert tuple(src) == (4000, 40, 39, 1)


def test_any_number_of_bad_lines_fits_in_one_commit(clean_db):
    sink = Sink(clean_db)
    state = sink.open_source("fp-many-bad", "/var/log/mail.log", "mx1")
    many = [(n * 10, bytes([n % 256]) * 9, "invalid UTF-8 at byte 0") for n in range(40_000)]
    sink.commit(state, Batch(start=0, end=400_000, bad=many, lines=40_000))  # 3 parameters a line: > 65,535
    (src,) = stored(clean_db, "SELECT count(*) FROM bad_line")
    assert src[0] == 40_000


def test_a_reason_with_a_nul_is_stored_with_it_spelt_out(clean_db):
    sink = Sink(clean_db)
    state = sink.open_source("fp-nul-reason", "/var/log/mail.log", "mx1")
    sink.commit(state, Batch(start=0, end=10, bad=[(0, b"x\x00y", "quotes x\x00y")], lines=1))
    assert stored(clean_db, "SELECT reason FROM bad_line")[0][0] == "quotes x\\0y"


def test_errors_are_sorted_by_sqlstate_not_by_class(engine):
    with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError) as too_big:
        conn.execute(sa.text("SELECT CAST('x' AS varchar(0))::int"))
    assert classify(too_big.value) == REFUSED  # 22P02 invalid text representation
    with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError) as missing:
        conn.execute(sa.text("SELECT * FROM no_such_table"))
    assert classify(missing.value) == FATAL  # 42P01: the schema, not a row, is at fault
    with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError) as timeout:
        conn.execute(sa.text("SET LOCAL statement_timeout = 10; SELECT pg_sleep(1)"))
    assert classify(timeout.value) == OUTAGE  # 57014
    # a connection the server ends: "terminating connection" (57P01) or no answer at all
    url = engine.url.render_as_string(hide_password=False).replace("+psycopg", "")
    with psycopg.connect(url) as victim, psycopg.connect(url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [victim.info.backend_pid])
        with pytest.raises(psycopg.OperationalError) as lost:
            victim.execute("SELECT 1")
    assert classify(lost.value) == OUTAGE
    assert classify(psycopg.OperationalError("server closed the connection unexpectedly")) == OUTAGE


def test_an_outage_during_a_commit_is_waited_out_and_nothing_is_stored_twice(clean_db):
    engine = sa.create_engine(clean_db.url, pool_size=1)  # one pooled connection, killed below
    try:
        sink = Sink(engine)
        state = sink.open_source("fp-outage", "/var/log/mail.log", "mx1")
        sink.commit(state, batch_of([row(0)], 100))
        with engine.connect() as conn:
            pid = conn.connection.driver_connection.info.backend_pid
        with clean_db.connect() as admin:
            admin.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        waits: list[str] = []
        second = batch_of([row(1), row(2)], 300)
        second.start = 100
        assert store(sink, state, second, None, lambda _: b"", lambda exc: waits.append(classify(exc))) == 0
    finally:
        engine.dispose()
    assert waits == [OUTAGE]
    assert len(stored(clean_db, "SELECT 1 FROM event")) == 3
    assert stored(clean_db, "SELECT byte_offset FROM source")[0][0] == 300


@pytest.mark.parametrize(
    ("field", "value", "fits"),
    [
        ("account", "b" * 77 + "...", True),  # what Dovecot writes for a long failed user name
        ("account", "a" * MAX_LENGTH["account"], True),
        ("account", "a" * (MAX_LENGTH["account"] + 1), False),
        ("host", "h" * 256, False),
        ("session", "s" * 256, False),
        ("mailbox", "m" * 1001, False),
        ("mailbox_to", "m" * 1001, False),
        ("message_id", "<" + "i" * 997 + ">", False),
        ("reason", "r" * 1001, False),
        ("ip", "1" * 46, False),
    ],
)
def test_every_text_value_has_a_limit(field, value, fits):
    event = Event(NOW, "mx1", "imap", "login", "alice@example.edu")._replace(**{field: value})
    why = over_limit(event)
    assert (why is None) == fits
    if not fits:
        assert why.startswith(f"{field} is {len(value):,} characters, longer than")


def test_every_text_column_of_the_event_table_has_a_limit():
    from ingest.schema import event

    text = {c.name for c in event.columns if isinstance(c.type, sa.Text)} | {"ip"}
    assert text - {"protocol", "kind"} == set(MAX_LENGTH)  # protocol and kind: fixed lists


@pytest.mark.parametrize(
    ("when", "plausible"),
    [
        (NOW, True),
        (NOW + timedelta(hours=23), True),
        (NOW + timedelta(days=3), False),  # a clock that jumped ahead
        (NOW - timedelta(days=179), True),
        (NOW - timedelta(days=182), False),
        (datetime(1970, 1, 1, tzinfo=UTC), False),  # a reset clock
        (datetime(1, 1, 1, tzinfo=UTC), False),
        (datetime.fromisoformat("0001-01-01T00:00:00+08:00"), False),  # before datetime.min in UTC
        (datetime(9999, 12, 31, tzinfo=UTC), False),
        (datetime.fromisoformat("9999-12-31T23:59:59-05:00"), False),  # after datetime.max in UTC
    ],
)
def test_only_times_between_the_retention_cutoff_and_a_day_ahead_are_events(when, plausible):
    oldest, newest = plausible_window(180, None, NOW)
    assert (implausible(when, oldest, newest) is None) == plausible


def test_a_source_ahead_of_this_clock_moves_the_window_with_it():
    ahead = NOW + timedelta(days=2)  # the mail host's clock runs ahead of ours
    oldest, newest = plausible_window(180, ahead, NOW)
    assert implausible(ahead + timedelta(hours=12), oldest, newest) is None
    assert implausible(ahead + timedelta(days=2), oldest, newest) is not None


def test_parse_and_backfill_agree_on_overlong_lines_and_invalid_utf8(tmp_path, clean_db):
    log = tmp_path / "mail.log"
    ts = NOW.isoformat(timespec="microseconds").encode()
    login = ts + b" mx1 dovecot: imap-login: Login: user=<alice@example.edu>, method=PLAIN, rip=192.0.2.7, "
    log.write_bytes(
        login + b"lip=192.0.2.1, session=<AAAAAAAAAAAAAAAA>\n"
        + ts + b" mx1 dovecot: imap-login: " + b"A" * 70_000 + b"\n"
        + login.replace(b"alice", b"j\xf6rg") + b"lip=192.0.2.1, session=<BBBBBBBBBBBBBBBB>\n"
        + ts + b" mx1 postfix/smtpd[9]: connect from h\xe9te\n"
    )  # fmt: skip
    env = {**os.environ, "MAILTRAIL_TZ": "UTC"}
    run = [sys.executable, "-m", "ingest"]
    parse = subprocess.run(
        [*run, "parse", str(log)], cwd=PROJECT_DIR, env=env, capture_output=True, text=True
    )
    backfill = subprocess.run(
        [*run, "backfill", "--progress", "never", str(log)],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
    )
    assert parse.returncode == backfill.returncode == 0, parse.stderr + backfill.stderr
    assert "4 lines: 2 events (1 of them repaired), 0 skipped, 2 malformed" in parse.stderr
    assert (
        "4 lines, 2 events (1 of them repaired, raw bytes kept in bad_line), 0 skipped, 2 bad"
        in backfill.stderr
    )
    assert len(parse.stdout.splitlines()) == 2


def test_dovecot_cuts_a_long_user_name_and_the_name_it_writes_is_stored(dovecot, tmp_path, clean_db):
    since = dovecot.mark()
    with pytest.raises(imaplib.IMAP4.error):
        dovecot.imap("b" * 500, "a wrong password", source_ip=dovecot.next_ip())
    dovecot.wait_for_log("(auth failed, ", since=since)
    log = dovecot.save_log(tmp_path / "dovecot.log", since)
    # 80 characters with its "..." (the formats notes, section 8, say "80 + ...")
    assert b"user=<" + b"b" * 77 + b"...>, method=" in log.read_bytes()
    done = subprocess.run(
        [sys.executable, "-m", "ingest", "backfill", "--progress", "never", str(log)],
        cwd=PROJECT_DIR, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert stored(clean_db, "SELECT account FROM event WHERE kind = 'auth_fail'") == [("b" * 77 + "...",)]
    assert stored(clean_db, "SELECT 1 FROM bad_line") == []
