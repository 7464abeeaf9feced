"""End to end: real POP3 and IMAP clients, a real Dovecot's log, `ingest backfill`, PostgreSQL."""

from __future__ import annotations

import imaplib
import os
import poplib
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.dovecot_server import (
    ALICE,
    BOB,
    MALLORY,
    DovecotServer,
    running_dovecot,
)

pytestmark = pytest.mark.dovecot

PROJECT_DIR = Path(__file__).resolve().parent.parent
CAPTURE = Path(__file__).parent / "data" / "dovecot-real" / "dovecot-2.3.19-e2e-scenario.log"

# Each client comes from its own loopback address, so every event's ip says who did it.
ALICE_POP3_IP = "127.0.0.2"
ALICE_IMAP_IP = "127.0.0.3"
WRONG_PASSWORD_IP = "127.0.0.4"
BOB_IMAP_IP = "127.0.0.5"
BOB_POP3_IP = "127.0.0.6"
MALLORY_IP = "127.0.0.7"
FORGER_IP = "127.0.0.9"

# Written raw into mail_log's `msgid=`: it imitates the fields that follow it and carries
# markup, so it tests both the parser's anchoring and the web page's escaping.
HOSTILE_ID = '<x,y=z, msgid=<fake@evil>, size=1, box=INBOX@evil"><script>alert(1)</script>>'
UTF8_ID = "<größe.ünïcode@exämple.edu>"
LONG_ID = "<" + "long" * 25 + "@example.edu>"
# mail_log cuts header values to 80 bytes: 77 of the value and "..." (no closing ">")
LONG_ID_LOGGED = LONG_ID[:77] + "..."
# A user that does not exist, named to forge the rest of a failed-login line: whatever a
# remote client types as its user name lands in `user=<…>` unescaped.
FORGED_USER = "eve>, method=PLAIN, rip=10.6.6.6, lip=10.0.0.1, session=<AAAAAAAAAAAAAAAA"

COLUMNS = (
    "protocol", "kind", "account", "ip", "mailbox", "mailbox_to", "message_id", "uid",
    "size", "deleted", "messages", "expunged", "trashed", "attempts",
)  # fmt: skip


def message(message_id: str, n: int, sender: str = "Carol <carol@example.org>") -> bytes:
    """A small RFC 5322 message with CRLF line ends, as a client or MTA would hand it over."""
    return (
        f"From: {sender}\r\n"
        f"To: someone@example.edu\r\n"
        f"Subject: test message {n} – grüße\r\n"
        f"Message-ID: {message_id}\r\n"
        f"\r\n"
        f"Body of message {n}.\r\n"
    ).encode()


def stored_size(raw: bytes) -> int:
    # mail_log's size= is the physical size: Dovecot's maildir keeps LF line ends
    return len(raw.replace(b"\r\n", b"\n"))


def row(protocol: str, kind: str, account: str, ip: str | None, **values: Any) -> tuple:
    unknown = set(values) - set(COLUMNS)
    assert not unknown, unknown
    values.update(protocol=protocol, kind=kind, account=account, ip=ip)
    return tuple(values.get(c) for c in COLUMNS)


@dataclass
class Scenario:
    """What the clients did, as the rows the event table must hold afterwards."""

    expected: list[tuple] = field(default_factory=list)
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished: datetime | None = None

    def expect(self, protocol: str, kind: str, account: str, ip: str | None, **values: Any):
        self.expected.append(row(protocol, kind, account, ip, **values))


def play_scenario(server: DovecotServer) -> Scenario:
    """Drive the clients against a fresh server; return the events they must have caused."""
    alice_ids = ["<a1@example.edu>", HOSTILE_ID, UTF8_ID, LONG_ID, "<a5@example.edu>"]
    alice_raw = [message(mid, i) for i, mid in enumerate(alice_ids, start=1)]
    # mail_log's from= is written raw too, after msgid= and size=
    alice_raw[1] = message(HOSTILE_ID, 2, sender='"Evil, Inc. <x>, size=9" <evil@example.com>')
    bob_raw = [message("<b1@example.edu>", 1), message("<b2@example.edu>", 2)]
    for raw in alice_raw:
        server.deliver(ALICE, raw)
    for raw in bob_raw:
        server.deliver(BOB, raw)
    sc = Scenario()

    # Alice's POP3 client takes two messages: RETR 2, DELE 2, DELE 3, QUIT.
    pop = server.pop3(ALICE, source_ip=ALICE_POP3_IP)
    count, total = pop.stat()
    assert count == 5
    pop.retr(2)
    pop.dele(2)
    pop.dele(3)
    pop.quit()
    sc.expect("pop3", "login", ALICE, ALICE_POP3_IP)
    for uid in (2, 3):
        sc.expect(
            "pop3", "message_delete", ALICE, ALICE_POP3_IP, mailbox="INBOX",
            message_id=alice_ids[uid - 1], uid=uid, size=stored_size(alice_raw[uid - 1]),
        )  # fmt: skip
    sc.expect("pop3", "logout", ALICE, ALICE_POP3_IP, deleted=2, messages=5, size=total)

    # Alice's IMAP client files message 1 in a new folder, deletes messages 1 and 4 from
    # INBOX, then deletes the folder (which expunges the copy in it).
    imap = server.imap(ALICE, source_ip=ALICE_IMAP_IP)
    imap.select("INBOX")
    _, data = imap.uid("SEARCH", "ALL")
    assert data[0].split() == [b"1", b"4", b"5"], "POP3 QUIT should have removed uids 2 and 3"
    imap.create("Old")
    imap.copy("1", "Old")
    imap.store("1:2", "+FLAGS", r"(\Deleted)")
    imap.expunge()
    imap.delete("Old")
    # names with a space and a non-ASCII letter, which IMAP sends in modified UTF-7
    imap.create('"Drafts old"')
    imap.rename('"Drafts old"', '"Archiv f&APw-r 2024"')
    imap.logout()
    sc.expect("imap", "login", ALICE, ALICE_IMAP_IP)
    sc.expect(
        "imap", "mailbox_rename", ALICE, ALICE_IMAP_IP, mailbox="Drafts old",
        mailbox_to="Archiv für 2024",
    )  # fmt: skip
    sc.expect(
        "imap", "copy", ALICE, ALICE_IMAP_IP, mailbox="INBOX", mailbox_to="Old",
        message_id=alice_ids[0], uid=1, size=stored_size(alice_raw[0]),
    )  # fmt: skip
    for uid, logged_id in ((1, alice_ids[0]), (4, LONG_ID_LOGGED)):
        for kind in ("flag_delete", "message_delete"):
            sc.expect(
                "imap", kind, ALICE, ALICE_IMAP_IP, mailbox="INBOX", message_id=logged_id,
                uid=uid, size=stored_size(alice_raw[uid - 1]),
            )  # fmt: skip
    # the copy got uid 1 in the new folder; deleting a maildir folder expunges its messages
    sc.expect(
        "imap", "message_delete", ALICE, ALICE_IMAP_IP, mailbox="Old",
        message_id=alice_ids[0], uid=1, size=stored_size(alice_raw[0]),
    )  # fmt: skip
    sc.expect("imap", "mailbox_delete", ALICE, ALICE_IMAP_IP, mailbox="Old")
    sc.expect("imap", "logout", ALICE, ALICE_IMAP_IP, deleted=2, expunged=2, trashed=0)

    # Someone tries Alice's mailbox with a wrong password, over IMAP and over POP3.
    with pytest.raises(imaplib.IMAP4.error):
        server.imap(ALICE, "guess-1", source_ip=WRONG_PASSWORD_IP)
    with pytest.raises(poplib.error_proto):
        server.pop3(ALICE, "guess-2", source_ip=WRONG_PASSWORD_IP)
    sc.expect("imap", "auth_fail", ALICE, WRONG_PASSWORD_IP, attempts=1)
    sc.expect("pop3", "auth_fail", ALICE, WRONG_PASSWORD_IP, attempts=1)

    # Bob deletes one message over IMAP and thinks better of deleting the other; then he
    # DELEs that one over POP3 but hangs up without QUIT: Dovecot rolls the deletion back
    # (del=0/1, no expunge line).
    imap = server.imap(BOB, source_ip=BOB_IMAP_IP)
    imap.select("INBOX")
    imap.store("1:2", "+FLAGS", r"(\Deleted)")
    imap.store("2", "-FLAGS", r"(\Deleted)")
    imap.expunge()
    imap.logout()
    sc.expect("imap", "login", BOB, BOB_IMAP_IP)
    bob_ids = ["<b1@example.edu>", "<b2@example.edu>"]
    for kind, uid in (("flag_delete", 1), ("flag_delete", 2), ("undelete", 2)):
        sc.expect(
            "imap", kind, BOB, BOB_IMAP_IP, mailbox="INBOX", message_id=bob_ids[uid - 1],
            uid=uid, size=stored_size(bob_raw[uid - 1]),
        )  # fmt: skip
    sc.expect(
        "imap", "message_delete", BOB, BOB_IMAP_IP, mailbox="INBOX", message_id=bob_ids[0],
        uid=1, size=stored_size(bob_raw[0]),
    )  # fmt: skip
    sc.expect("imap", "logout", BOB, BOB_IMAP_IP, deleted=2, expunged=1, trashed=0)
    pop = server.pop3(BOB, source_ip=BOB_POP3_IP)
    count, total = pop.stat()
    pop.dele(1)
    pop.close()  # no QUIT
    sc.expect("pop3", "login", BOB, BOB_POP3_IP)
    sc.expect("pop3", "logout", BOB, BOB_POP3_IP, deleted=0, messages=count, size=total)

    # Mallory's real user name imitates the fields of a login line.
    server.imap(MALLORY, source_ip=MALLORY_IP).logout()
    sc.expect("imap", "login", MALLORY, MALLORY_IP)
    sc.expect("imap", "logout", MALLORY, MALLORY_IP, deleted=0, expunged=0, trashed=0)

    # A user name that does not exist, forging a whole other login in user=<…>.
    with pytest.raises(imaplib.IMAP4.error):
        server.imap(FORGED_USER, "any password", source_ip=FORGER_IP)
    # auth_username_format (%Lu) lowercases the name before the login line is written
    sc.expect("imap", "auth_fail", FORGED_USER.lower(), FORGER_IP, attempts=1)

    # Dovecot's log process writes a moment after the clients see their replies.
    server.wait_for_log("(auth failed, ", count=3)
    server.wait_for_log("Info: Login: ", count=5)
    server.wait_for_log("Disconnected: Logged out ", count=4)
    server.wait_for_log("Disconnected: Connection closed top=")
    sc.finished = datetime.now(UTC)
    return sc


@pytest.fixture(scope="module")
def server() -> Iterator[DovecotServer]:
    """A Dovecot of this module's own: its log holds this scenario and nothing else."""
    with running_dovecot() as srv:
        yield srv


@pytest.fixture(scope="module")
def scenario(server: DovecotServer) -> Scenario:
    return play_scenario(server)


def test_the_shared_server_logs_each_client_from_its_own_source_address(
    dovecot: DovecotServer,
) -> None:
    since = dovecot.mark()
    ip = dovecot.next_ip()

    dovecot.imap(BOB, source_ip=ip).logout()

    log = dovecot.wait_for_log("Logged out ", since=since).decode()
    assert f"imap-login: Info: Login: user=<{BOB}>, method=PLAIN, rip={ip}, lip=" in log
    assert f"imap({BOB})<" in log


def test_the_shared_server_refuses_a_wrong_password_without_delay(dovecot: DovecotServer) -> None:
    since = dovecot.mark()
    started = time.monotonic()

    for _ in range(2):
        with pytest.raises(poplib.error_proto):
            dovecot.pop3(ALICE, "wrong", source_ip=dovecot.next_ip())

    assert time.monotonic() - started < 2
    dovecot.wait_for_log("(auth failed, 1 attempts in ", since=since, count=2)


def test_a_delivered_message_reaches_the_mailbox(dovecot: DovecotServer) -> None:
    dovecot.add_user("carol@example.edu", "carol-secret")
    dovecot.deliver("carol@example.edu", message("<c1@example.edu>", 1))

    pop = dovecot.pop3("carol@example.edu", source_ip=dovecot.next_ip())
    count, total = pop.stat()
    pop.quit()

    assert (count, total) == (1, len(message("<c1@example.edu>", 1)))


def backfill(log: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ingest", "backfill", "--host", "mx-test", str(log)],
        cwd=PROJECT_DIR,
        env=os.environ,  # DATABASE_URL: the test session's database (tests/conftest.py)
        capture_output=True,
        text=True,
        timeout=120,
    )


def select_events(engine: sa.Engine) -> list[dict[str, Any]]:
    columns = ", ".join("host(ip) AS ip" if c == "ip" else c for c in COLUMNS)
    with engine.connect() as conn:
        result = conn.execute(sa.text(f"SELECT {columns}, ts, host, session, pid FROM event"))
        return [dict(r._mapping) for r in result]


def test_it_stores_exactly_what_the_pop3_and_imap_clients_did(
    server: DovecotServer, scenario: Scenario, clean_db: sa.Engine, tmp_path: Path
) -> None:
    log = server.save_log(tmp_path / "dovecot.log")

    done = backfill(log)

    assert done.returncode == 0, done.stderr
    rows = select_events(clean_db)
    got = Counter(tuple(r[c] for c in COLUMNS) for r in rows)
    want = Counter(scenario.expected)
    missing, extra = want - got, got - want

    def show(rows: Counter) -> str:
        return "".join(f"\n  {dict(zip(COLUMNS, r, strict=True))}" for r in sorted(rows, key=repr))

    assert not missing and not extra, (
        f"expected but not stored:{show(missing)}\nstored but not expected:{show(extra)}"
    )


def test_it_stamps_every_event_with_the_host_and_the_time_it_happened(
    server: DovecotServer, scenario: Scenario, clean_db: sa.Engine, tmp_path: Path
) -> None:
    assert backfill(server.save_log(tmp_path / "dovecot.log")).returncode == 0

    rows = select_events(clean_db)

    assert rows
    assert {r["host"] for r in rows} == {"mx-test"}
    assert scenario.finished is not None
    # Dovecot's file has whole seconds in the machine's zone and no year
    earliest = scenario.started.replace(microsecond=0) - timedelta(seconds=1)
    latest = scenario.finished + timedelta(seconds=1)
    assert all(earliest <= r["ts"] <= latest for r in rows), sorted(r["ts"] for r in rows)


def test_it_ties_each_session_event_to_its_login(
    server: DovecotServer, scenario: Scenario, clean_db: sa.Engine, tmp_path: Path
) -> None:
    assert backfill(server.save_log(tmp_path / "dovecot.log")).returncode == 0

    rows = [r for r in select_events(clean_db) if r["kind"] != "auth_fail"]

    # a session id is set on every login, logout and mail_log event, and one session is one
    # client: the same account, ip and mail process throughout
    assert all(r["session"] for r in rows)
    by_session: dict[str, set[tuple]] = {}
    for r in rows:
        by_session.setdefault(r["session"], set()).add((r["account"], r["ip"], r["pid"]))
    assert all(len(v) == 1 for v in by_session.values()), by_session
    assert len(by_session) == sum(1 for r in rows if r["kind"] == "login")


def test_a_second_backfill_of_the_same_log_adds_nothing(
    server: DovecotServer, scenario: Scenario, clean_db: sa.Engine, tmp_path: Path
) -> None:
    log = server.save_log(tmp_path / "dovecot.log")
    assert backfill(log).returncode == 0
    first = sorted(map(repr, select_events(clean_db)))

    again = backfill(log)

    assert again.returncode == 0, again.stderr
    assert sorted(map(repr, select_events(clean_db))) == first
    assert len(first) == len(scenario.expected)


def test_it_keeps_no_bad_lines_from_a_stock_dovecot(
    server: DovecotServer, scenario: Scenario, clean_db: sa.Engine, tmp_path: Path
) -> None:
    assert backfill(server.save_log(tmp_path / "dovecot.log")).returncode == 0

    with clean_db.connect() as conn:
        bad = conn.execute(sa.text("SELECT reason, raw FROM bad_line")).all()

    assert bad == []


def test_the_live_follower_stores_a_real_pop3_session_within_seconds(
    clean_db: sa.Engine, tmp_path: Path
) -> None:
    from tests.test_follow import FollowProcess, wait_until

    with running_dovecot() as srv:
        srv.deliver(ALICE, message("<live1@example.edu>", 1))
        srv.deliver(ALICE, message("<live2@example.edu>", 2))
        follower = FollowProcess(tmp_path, ["--host", "mx-live", str(srv.log_path)])
        try:
            follower.wait_ready()
            pop = srv.pop3(ALICE, source_ip=ALICE_POP3_IP)
            pop.dele(2)
            quit_at = time.monotonic()
            pop.quit()

            def stored() -> set[tuple]:
                with clean_db.connect() as conn:
                    return set(conn.execute(sa.text(
                        "SELECT kind, host(ip), message_id, deleted FROM event"
                        " WHERE host = 'mx-live' AND protocol = 'pop3'"
                    )).all())  # fmt: skip

            want = {
                ("login", ALICE_POP3_IP, None, None),
                ("message_delete", ALICE_POP3_IP, "<live2@example.edu>", None),
                ("logout", ALICE_POP3_IP, None, 1),
            }
            assert wait_until(lambda: stored() == want, 10), (stored(), follower.output())
            took = time.monotonic() - quit_at
            assert follower.terminate() == 0, follower.output()
        finally:
            follower.stop()
    assert took < 3


# Clients that say what they are (imap_id_log = *): one before login, as Thunderbird does,
# one after, as iOS Mail does; one that says nothing (Outlook); a hostile one whose name
# spells the elements Dovecot writes after it.
THUNDERBIRD = b'("name" "Thunderbird" "version" "115.3" "os" "Windows" "vendor" "Mozilla")'
IOS_MAIL = b'("name" "iOS Mail" "version" "16.1" "os" "iOS" "vendor" "Apple Inc.")'
FAKE_TRAILER = (
    b'("name" "X: user=<>, rip=10.6.6.6, lip=1.1.1.1, session=<AAAAAAAAAAAAAAAA>" "os" "\xe5\x8f\xb0")'
)


def play_client_ids(server: DovecotServer) -> dict[str, tuple]:
    """IMAP sessions that send ID before and after login; returns ip → expected client."""
    imap = server.imap_connection(ALICE_IMAP_IP)
    assert imap.id(THUNDERBIRD) == "OK"
    imap.login(ALICE, server.users[ALICE])
    imap.select("INBOX")
    imap.logout()
    imap = server.imap(BOB, source_ip=BOB_IMAP_IP)
    assert imap.id(IOS_MAIL) == "OK"
    imap.logout()
    server.imap(BOB, source_ip=MALLORY_IP).logout()
    imap = server.imap_connection(FORGER_IP)
    imap.id(FAKE_TRAILER)
    imap.login(ALICE, server.users[ALICE])
    imap.logout()
    server.wait_for_log("Logged out ", count=4)
    return {
        ALICE_IMAP_IP: ("Thunderbird", "115.3", "Windows", "Mozilla"),
        BOB_IMAP_IP: ("iOS Mail", "16.1", "iOS", "Apple Inc."),
        MALLORY_IP: (None, None, None, None),
        FORGER_IP: ("X: user=<>", None, "台", None),
    }


def test_it_stores_the_client_an_imap_session_said_it_was_before_and_after_login(
    clean_db: sa.Engine, tmp_path: Path
) -> None:
    with running_dovecot(settings="imap_id_log = *\n") as srv:
        want = play_client_ids(srv)
        log = srv.save_log(tmp_path / "dovecot.log")

    done = backfill(log)

    assert done.returncode == 0, done.stderr
    with clean_db.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT kind, host(ip), client_name, client_version, client_os, client_vendor FROM event "
                "WHERE protocol = 'imap' ORDER BY ts, kind"
            )
        ).all()
    assert {(kind, ip) for kind, ip, *_ in rows} == {(k, ip) for k in ("login", "logout") for ip in want}
    for kind, ip, *client in rows:
        assert tuple(client) == want[ip], (kind, ip)
    assert "10.6.6.6" not in {ip for _, ip, *_ in rows}
    assert "0 bad" in done.stderr


def play_auth_verbose(server: DovecotServer) -> None:
    """Failed logins with auth_verbose on: the auth process adds a line per password check."""
    with pytest.raises(imaplib.IMAP4.error):
        server.imap(ALICE, "guess", source_ip=WRONG_PASSWORD_IP)
    with pytest.raises(poplib.error_proto):
        server.pop3("nobody-here@example.edu", "guess", source_ip=server.next_ip())
    server.imap(BOB, source_ip=BOB_IMAP_IP).logout()
    server.wait_for_log("unknown user")
    server.wait_for_log("Logged out ")


def capture(directory: Path = CAPTURE.parent) -> None:
    """Play the scenarios on fresh servers and keep their whole logs, start to shutdown."""
    for name, settings, play in (
        (CAPTURE.name, "", play_scenario),
        ("dovecot-2.3.19-auth-verbose.log", "auth_verbose = yes\n", play_auth_verbose),
    ):
        with running_dovecot(settings=settings) as srv:
            play(srv)
            srv.stop()
            directory.mkdir(parents=True, exist_ok=True)
            (directory / name).write_bytes(srv.read_log())
        print(f"wrote {directory / name}")


if __name__ == "__main__":
    # .venv/bin/python -m tests.test_e2e_dovecot  → regenerates the committed capture
    capture()
