"""A real Dovecot's log followed live: each event is queryable while its session is still open."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.dovecot_server import ALICE, BOB, DovecotServer
from tests.test_follow import follow_processes, wait_until

pytestmark = pytest.mark.dovecot


@pytest.fixture
def follow(tmp_path, clean_db):
    yield from follow_processes(tmp_path)


def _events(engine: sa.Engine, ip: str) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT host, protocol, kind, account, host(ip) AS ip, mailbox, message_id "
                "FROM event WHERE ip = CAST(:ip AS inet) ORDER BY id"
            ),
            {"ip": ip},
        )
        return [dict(r._mapping) for r in rows]


def _has(engine: sa.Engine, ip: str, protocol: str, kind: str) -> bool:
    return any(e["protocol"] == protocol and e["kind"] == kind for e in _events(engine, ip))


def test_it_stores_a_live_dovecot_session_while_it_happens(dovecot: DovecotServer, follow, clean_db):
    proc = follow("--host", "mx-live", str(dovecot.log_path))
    dovecot.deliver(ALICE, b"From: c@example.org\r\nMessage-ID: <live-1@example.edu>\r\n\r\nhello\r\n")

    ip = dovecot.next_ip()
    imap = dovecot.imap(ALICE, source_ip=ip)
    try:
        # the login is in the database while the client is still connected
        assert wait_until(lambda: _has(clean_db, ip, "imap", "login"), 5), proc.output()
        imap.select("INBOX")
        imap.store("1", "+FLAGS", "\\Deleted")
        imap.expunge()
        # the deletion, with the Message-ID and the IP of its session, before the logout
        assert wait_until(lambda: _has(clean_db, ip, "imap", "message_delete"), 5), dovecot.diagnostics()
        assert not _has(clean_db, ip, "imap", "logout")
    finally:
        imap.logout()
    assert wait_until(lambda: _has(clean_db, ip, "imap", "logout"), 5), dovecot.diagnostics()
    deleted = [e for e in _events(clean_db, ip) if e["kind"] == "message_delete"]
    assert deleted[0]["message_id"] == "<live-1@example.edu>" and deleted[0]["account"] == ALICE
    assert {e["host"] for e in _events(clean_db, ip)} == {"mx-live"}

    # a POP3 session and a failed sign-in, from other addresses, as they happen
    ip2 = dovecot.next_ip()
    pop = dovecot.pop3(BOB, source_ip=ip2)
    assert wait_until(lambda: _has(clean_db, ip2, "pop3", "login"), 5), proc.output()
    pop.quit()
    assert wait_until(lambda: _has(clean_db, ip2, "pop3", "logout"), 5)
    ip3 = dovecot.next_ip()
    with pytest.raises(Exception):  # noqa: B017 - imaplib's error class varies by step
        dovecot.imap(BOB, "wrong password", source_ip=ip3)
    assert wait_until(lambda: any(e["kind"] == "auth_fail" for e in _events(clean_db, ip3)), 5)
