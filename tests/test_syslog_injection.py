"""Any local user can write a `dovecot` line into a syslog-fed mail.log: `logger -t dovecot …`.

The lines here go through the real util-linux `logger` into a unix datagram socket, as into
/dev/log. No syslog daemon runs in the test: `SyslogFile` does what Debian's rsyslog does
with a local message (imuxsock, default file format): the time of reception in RFC 3339,
the host name, the tag and message as sent, control characters escaped as `#ooo`, a message
cut at 8 KiB. The follower reads the file live. What it guarantees, tested here: a forged
line cannot stop it, cannot move fields (ip, session) out of the user name, cannot split
into two lines, cannot date itself (rsyslog writes the time of reception; a forged 1970 inside makes no
event and no partition), and its oversized values
land in bad_line; the valid line after all of them is stored. What no reader of a syslog
file can tell is a well-formed forged line from Dovecot's own (docs/follow.md, "Syslog").
"""

import os
import re
import socket
import subprocess
import threading
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from tests.test_follow import (
    follow,  # noqa: F401 - the fixture
    wait_until,
)

MAX_MESSAGE = 8096  # rsyslog's default $MaxMessageSize (8k), less its header


class SyslogFile:
    """A unix datagram socket read into a log file the way rsyslog writes local messages."""

    def __init__(self, sock_path: Path, log_path: Path, host: str = "mx1") -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(sock_path))
        self.sock.settimeout(0.2)
        self.path, self.host, self.received = log_path, host, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with open(self.path, "ab", buffering=0) as out:
            while not self._stop.is_set():
                try:
                    data = self.sock.recv(65536)
                except TimeoutError:
                    continue
                # "<22>Dec  5 10:51:08 dovecot: msg": priority, the client's time, tag: message
                m = re.match(rb"<\d+>(?:\w{3} [ \d]\d \d\d:\d\d:\d\d )?(.*)", data, re.S)
                body = re.sub(
                    rb"[\x00-\x1f\x7f]", lambda c: b"#%03o" % c.group()[0], m.group(1)[:MAX_MESSAGE]
                )
                now = datetime.now(UTC).isoformat(timespec="microseconds").encode()
                out.write(now + b" " + self.host.encode() + b" " + body + b"\n")
                self.received += 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


def logger(sock: Path, message: str, *options: str) -> None:
    subprocess.run(
        ["logger", "-u", str(sock), "-t", "dovecot", "-p", "mail.info", *options, message], check=True
    )


def test_forged_dovecot_lines_through_syslog_stop_nothing_and_shift_no_field(tmp_path, follow, clean_db):  # noqa: F811
    log = tmp_path / "mail.log"
    syslog = SyslogFile(tmp_path / "dev-log", log)
    sock = tmp_path / "dev-log"
    try:
        logger(sock, "imap-login: Login: user=<first@example.edu>, method=PLAIN, rip=192.0.2.1, "
               "lip=192.0.2.254, mpid=1, session=<AAAAAAAAAAAAAAAA>")  # fmt: skip
        assert wait_until(lambda: syslog.received == 1, 5)
        follower = follow(str(log), env={"MAILTRAIL_TZ": "UTC", "MAILTRAIL_RETENTION_DAYS": "180"})
        forged = [
            # a user name spelling the fields after it: rip and session stay Dovecot's (the last)
            "imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<x>, method=PLAIN, "
            "rip=6.6.6.6, lip=6.6.6.6, session=<FORGEDFORGEDFORG>, method=PLAIN, rip=203.0.113.9, "
            "lip=192.0.2.254, session=<BBBBBBBBBBBBBBBB>",
            # a newline to start a second, forged line: rsyslog escapes it (#012), one line
            "imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<y\n"
            "Dec  5 10:00:00 mx1 dovecot: imap-login: Login: user=<alice@example.edu>, method=PLAIN, "
            "rip=6.6.6.6, lip=6.6.6.6, mpid=6, session=<CCCCCCCCCCCCCCCC>>, method=PLAIN, rip=203.0.113.9, "
            "lip=192.0.2.254, session=<DDDDDDDDDDDDDDDD>",
            # a 4,000-character user name (Dovecot cuts at 80): a bad line, not a stopped batch
            "imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<"
            + "q" * 4000
            + ">, method=PLAIN, rip=203.0.113.9, lip=192.0.2.254, session=<EEEEEEEEEEEEEEEE>",
            # a Dovecot 1.x line carrying its own time: rsyslog's time of reception leads the
            # line, so this is no line of ours (skipped); never an event dated 1970
            "1970-01-01 00:00:00 Info: imap-login: Login: user=<alice@example.edu>, method=PLAIN, "
            "rip=6.6.6.6, lip=6.6.6.6",
            # a control character in a folder name is escaped, not cut at
            "imap(alice@example.edu)<7><FFFFFFFFFFFFFFFF>: Mailbox deleted: Trash\x07bell",
        ]
        for message in forged:
            logger(sock, message, "-S", "9000")
        # raw bytes need no logger: anyone may send a datagram to /dev/log
        raw = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        raw.sendto(b"<22>dovecot: imap-login: Login: user=<al\x00ice\xff>, method=PLAIN", str(sock))
        raw.close()
        logger(sock, "imap-login: Login: user=<last@example.edu>, method=PLAIN, rip=192.0.2.2, "
               "lip=192.0.2.254, mpid=2, session=<ZZZZZZZZZZZZZZZZ>")  # fmt: skip

        def stored_last() -> bool:
            with clean_db.connect() as conn:
                return bool(
                    conn.execute(sa.text("SELECT 1 FROM event WHERE session = 'ZZZZZZZZZZZZZZZZ'")).first()
                )

        assert wait_until(stored_last, 20), follower.output()
        assert follower.proc.poll() is None, follower.output()
        assert follower.terminate() == 0
    finally:
        syslog.close()
    assert len(log.read_bytes().splitlines()) == 2 + len(forged) + 1
    with clean_db.connect() as conn:
        events = conn.execute(
            sa.text("SELECT kind, account, host(ip), session, mailbox FROM event ORDER BY line_offset")
        ).all()
        bad = conn.execute(sa.text("SELECT reason FROM bad_line ORDER BY line_offset")).scalars().all()
        months = conn.execute(
            sa.text(
                "SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'event'::regclass AND c.relname LIKE 'event_y1970%'"
            )  # fmt: skip
        ).scalar()
    sessions = {e.session: e for e in events}
    assert sessions["BBBBBBBBBBBBBBBB"].host == "203.0.113.9"
    assert sessions["BBBBBBBBBBBBBBBB"].account.startswith("x>, method=PLAIN, rip=6.6.6.6")
    assert (
        sessions["DDDDDDDDDDDDDDDD"].host == "203.0.113.9" and "#012" in sessions["DDDDDDDDDDDDDDDD"].account
    )
    assert "CCCCCCCCCCCCCCCC" not in sessions and "EEEEEEEEEEEEEEEE" not in sessions
    assert sessions["FFFFFFFFFFFFFFFF"].mailbox == "Trash#007bell"
    assert {"AAAAAAAAAAAAAAAA", "ZZZZZZZZZZZZZZZZ"} <= set(sessions)
    assert "6.6.6.6" not in {e.host for e in events}
    assert any("account is 4,000 characters" in why for why in bad)
    assert any(why.startswith("invalid UTF-8") for why in bad)
    assert months == 0
    assert os.path.getsize(log) > 4000
