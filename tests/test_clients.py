"""Client identity through the pipeline: an ID line lands on its session's rows, never a row."""

from __future__ import annotations

import zoneinfo
from datetime import datetime

import sqlalchemy as sa

from ingest.correlate import Correlator
from ingest.parse import Parser
from ingest.pipeline import fill_batch
from ingest.sink import Batch, Sink
from ingest.source import RawLine

TZ = zoneinfo.ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 12, 5, 20, 0, tzinfo=TZ)

# real 2.3.19 lines (tests/data/dovecot-real/dovecot-2.3.19-imap-id.log)
PRE = [  # ID before login: imap-login writes it, then the Login
    "Dec 05 17:23:24 imap-login: Info: ID sent: name=Thunderbird, version=115.3, os=Windows, vendor=Mozilla: "
    "user=<>, rip=127.0.0.2, lip=127.0.0.1, session=<Qc/9P+ZhCdZ/AAAC>",
    "Dec 05 17:23:24 imap-login: Info: Login: user=<alice@example.edu>, method=PLAIN, rip=127.0.0.2, "
    "lip=127.0.0.1, mpid=2445, session=<Qc/9P+ZhCdZ/AAAC>",
    "Dec 05 17:23:24 imap(alice@example.edu)<2445><Qc/9P+ZhCdZ/AAAC>: Info: expunge: box=INBOX, uid=3, "
    "msgid=<a@x>, size=157",
    "Dec 05 17:23:24 imap(alice@example.edu)<2445><Qc/9P+ZhCdZ/AAAC>: Info: Disconnected: Logged out in=32 "
    "out=788 deleted=0 expunged=1 trashed=0 hdr_count=0 hdr_bytes=0 body_count=0 body_bytes=0",
]
POST = [  # ID after login: the imap process writes it after the Login
    "Dec 05 17:23:24 imap-login: Info: Login: user=<bob@example.edu>, method=PLAIN, rip=127.0.0.3, "
    "lip=127.0.0.1, mpid=2447, session=<Uiv+P+Zh+b5/AAAD>",
    "Dec 05 17:23:24 imap(bob@example.edu)<2447><Uiv+P+Zh+b5/AAAD>: Info: ID sent: name=iOS Mail, "
    "version=16.1, os=iOS, vendor=Apple Inc.",
    "Dec 05 17:23:24 imap(bob@example.edu)<2447><Uiv+P+Zh+b5/AAAD>: Info: Disconnected: Logged out in=92 "
    "out=547 deleted=0 expunged=0 trashed=0 hdr_count=0 hdr_bytes=0 body_count=0 body_bytes=0",
]
FAILED = [  # a failed sign-in whose connection sent ID first
    "Dec 05 17:23:24 imap-login: Info: ID sent: name=K-9 Mail, version=6.7: user=<>, rip=127.1.0.2, "
    "lip=127.0.0.1, session=<jbn+P+ZhT9B/AQAC>",
    "Dec 05 17:23:24 imap-login: Info: Disconnected: Connection closed (auth failed, 1 attempts in 0 secs): "
    "user=<alice@example.edu>, method=PLAIN, rip=127.1.0.2, lip=127.0.0.1, session=<jbn+P+ZhT9B/AQAC>",
]
POP3 = [
    "Dec 05 17:23:24 pop3-login: Info: Login: user=<alice@example.edu>, method=PLAIN, rip=127.0.0.6, "
    "lip=127.0.0.1, mpid=2471, session=<HHcGQOZhV7l/AAAG>",
]
ORPHAN = [  # an ID after login whose session left no other line (2.2 prefix: no session)
    "Dec 05 17:23:24 imap(carol@example.edu): Info: ID sent: name=Evolution, version=3.46.4",
]


def raw(lines: list[str]) -> list[RawLine]:
    out, at = [], 0
    for line in lines:
        data = line.encode()
        out.append(RawLine(at, data, at + len(data) + 1, 0))
        at += len(data) + 1
    return out


def batches(lines: list[str], size: int) -> list[Batch]:
    """The lines read as the backfill reads them, `size` lines a batch."""
    parser, correlator, it = Parser(TZ, now=NOW), Correlator(), iter(raw(lines))
    out, start, done = [], 0, False
    while not done:
        batch = Batch(start=start)
        done = fill_batch(it, batch, parser, correlator, 1, size)
        if batch.lines:
            out.append(batch)
            start = batch.end
    return out


def clients(rows: list[tuple]) -> list[tuple]:
    return [(row[3], row[4], row[22], row[23], row[24], row[25]) for row in rows]


def test_an_id_before_login_lands_on_the_login_and_every_later_row() -> None:
    (batch,) = batches(PRE, 100)
    tb = ("Thunderbird", "115.3", "Windows", "Mozilla")
    assert clients(batch.events) == [
        (kind, "alice@example.edu", *tb) for kind in ("login", "message_delete", "logout")
    ]
    assert (batch.lines, len(batch.events), batch.skipped) == (4, 3, 1)  # the ID line: skipped


def test_an_id_after_login_lands_on_the_login_before_it_in_the_batch() -> None:
    (batch,) = batches(POST, 100)
    ios = ("iOS Mail", "16.1", "iOS", "Apple Inc.")
    assert clients(batch.events) == [("login", "bob@example.edu", *ios), ("logout", "bob@example.edu", *ios)]
    assert batch.client_ids == []


def test_a_failed_sign_in_carries_the_id_its_connection_sent() -> None:
    (batch,) = batches(FAILED, 100)
    assert clients(batch.events) == [("auth_fail", "alice@example.edu", "K-9 Mail", "6.7", None, None)]


def test_lines_of_other_sessions_and_pop3_carry_no_client() -> None:
    (batch,) = batches(PRE + POP3 + POST, 100)
    assert [row[22] for row in batch.events] == [
        "Thunderbird", "Thunderbird", "Thunderbird", None, "iOS Mail", "iOS Mail",
    ]  # fmt: skip


def test_an_id_before_login_in_one_batch_reaches_its_login_in_the_next() -> None:
    first, second, *_ = batches(PRE, 1)
    assert first.events == [] and first.skipped == 1
    assert second.events[0][22] == "Thunderbird"


def test_an_id_after_a_committed_login_fills_it_in_the_database(clean_db: sa.Engine) -> None:
    sink = Sink(clean_db)
    state = sink.open_source("fp-client", "/var/log/dovecot.log", "")
    parts = batches(POST + ORPHAN, 1)  # the login, the ID, the logout, an ID with no session
    for batch in parts:
        sink.commit(state, batch)
    assert parts[1].client_ids and not parts[3].client_ids  # no session: nothing to look for
    with clean_db.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT kind, client_name, client_version, client_os, client_vendor FROM event ORDER BY kind"
            )
        ).all()
        counts = conn.execute(sa.text("SELECT lines, events, skipped, bad_lines FROM source")).one()
    ios = ("iOS Mail", "16.1", "iOS", "Apple Inc.")
    assert [tuple(r) for r in rows] == [("login", *ios), ("logout", *ios)]
    assert tuple(counts) == (4, 2, 2, 0)  # both ID lines counted as skipped, none stored


def test_an_id_does_not_overwrite_what_another_row_already_says(clean_db: sa.Engine) -> None:
    # a second ID line of one session (Dovecot logs only the first; a forged one) leaves the
    # committed rows as the first ID made them
    sink = Sink(clean_db)
    state = sink.open_source("fp-client-2", "/var/log/dovecot.log", "")
    forged = POST[1].replace("iOS Mail", "Forged")
    for batch in batches([*POST[:2], forged], 1):
        sink.commit(state, batch)
    with clean_db.connect() as conn:
        assert conn.execute(sa.text("SELECT client_name FROM event")).scalars().all() == ["iOS Mail"]
