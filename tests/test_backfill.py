"""`python -m ingest backfill`: idempotent over reruns and rotated copies; bad input is counted and kept."""

import gzip
import os
import shutil
import subprocess
import sys

import pytest
import sqlalchemy as sa

from tests.conftest import PROJECT_DIR

pytestmark = pytest.mark.usefixtures("clean_db")

SESSION = "AbCd+/Ef12345678"
LINES = [
    "Nov 27 06:11:11 mx1 dovecot: pop3-login: Login: user=<alice@example.edu>, method=PLAIN, rip=192.0.2.7, "
    f"lip=192.0.2.1, mpid=4242, session=<{SESSION}>",
    "Nov 27 06:11:12 mx1 postfix/smtpd[991]: connect from unknown[198.51.100.9]",
    f"Nov 27 06:11:12 mx1 dovecot: pop3(alice@example.edu)<4242><{SESSION}>: expunge: box=INBOX, uid=11, "
    "msgid=<one@example.org>, size=1200",
    f"Nov 27 06:11:12 mx1 dovecot: pop3(alice@example.edu)<4242><{SESSION}>: expunge: box=INBOX, uid=12, "
    "msgid=<two@example.org>, size=3400",
    f"Nov 27 06:11:12 mx1 dovecot: pop3(alice@example.edu)<4242><{SESSION}>: Disconnected: Logged out "
    "top=0/0, retr=2/4600, del=2/5, size=9000",
    "Nov 27 06:12:00 mx1 dovecot: imap-login: Disconnected (auth failed, 1 attempts in 2 secs): "
    "user=<bob@example.edu>, method=PLAIN, rip=203.0.113.4, lip=192.0.2.1, session=<ZzZz+/Ef12345678>",
]


def backfill(*paths, extra=()):
    env = {**os.environ, "MAILTRAIL_TZ": "Asia/Taipei"}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "ingest",
            "backfill",
            "--progress",
            "never",
            "--year",
            "2026",
            *extra,
            *map(str, paths),
        ],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def rows(
    engine,
    sql="SELECT kind, account, host(ip), message_id, deleted, messages, size FROM event ORDER BY ts, id",
):
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql))]


def write(path, lines, end="\n"):
    path.write_bytes(("\n".join(lines) + end).encode())


def test_it_loads_every_event_of_a_file_with_the_session_ip(tmp_path, engine):
    log = tmp_path / "mail.log"
    write(log, LINES)
    proc = backfill(log)
    assert proc.returncode == 0, proc.stderr
    assert rows(engine) == [
        ("login", "alice@example.edu", "192.0.2.7", None, None, None, None),
        ("message_delete", "alice@example.edu", "192.0.2.7", "<one@example.org>", None, None, 1200),
        ("message_delete", "alice@example.edu", "192.0.2.7", "<two@example.org>", None, None, 3400),
        ("logout", "alice@example.edu", "192.0.2.7", None, 2, 5, 9000),
        ("auth_fail", "bob@example.edu", "203.0.113.4", None, None, None, None),
    ]
    assert "6 lines, 5 events, 1 skipped, 0 bad" in proc.stderr


def test_running_it_twice_adds_nothing(tmp_path, engine):
    log = tmp_path / "mail.log"
    write(log, LINES)
    assert backfill(log).returncode == 0
    again = backfill(log)
    assert again.returncode == 0 and "0 lines" in again.stderr
    assert len(rows(engine)) == 5


def test_a_rotated_and_compressed_copy_of_a_partly_loaded_file_adds_only_the_rest(tmp_path, engine):
    log = tmp_path / "mail.log"
    write(log, LINES[:3])  # the file as it was when first loaded
    assert backfill(log).returncode == 0
    write(log, LINES)  # it grew, then logrotate renamed and compressed it
    rotated = tmp_path / "mail.log.1.gz"
    with open(log, "rb") as src, gzip.open(rotated, "wb") as dst:
        shutil.copyfileobj(src, dst)
    log.unlink()
    proc = backfill(rotated)
    assert proc.returncode == 0, proc.stderr
    assert "resumed at byte" in proc.stderr
    assert [r[0] for r in rows(engine)] == [
        "login",
        "message_delete",
        "message_delete",
        "logout",
        "auth_fail",
    ]
    assert backfill(rotated).returncode == 0
    assert len(rows(engine)) == 5


def test_malformed_lines_are_counted_and_kept_and_good_lines_around_them_survive(tmp_path, engine):
    log = tmp_path / "mail.log"
    bad_utf8 = LINES[2].encode().replace(b"one@example.org", b"on\xff\xfe@example.org")
    nul_run = b"\x00" * 64 + LINES[3].encode()
    huge = b"Nov 27 06:11:12 mx1 dovecot: imap-login: " + b"A" * (10 * 1024 * 1024)
    broken = b"Nov 27 06:11:12 mx1 dovecot: imap-login: Login: user=<"
    log.write_bytes(
        b"\n".join([LINES[0].encode(), bad_utf8, nul_run, huge, broken, LINES[4].encode()]) + b"\n"
    )
    proc = backfill(log)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    kinds = [r[0] for r in rows(engine)]
    assert kinds == ["login", "message_delete", "message_delete", "logout"]
    with engine.connect() as conn:
        reasons = [r for (r,) in conn.execute(sa.text("SELECT reason FROM bad_line ORDER BY line_offset"))]
        kept = conn.execute(sa.text("SELECT raw FROM bad_line ORDER BY line_offset LIMIT 1")).scalar_one()
    assert len(reasons) == 4
    assert (
        reasons[0].startswith("repaired: invalid UTF-8")
        and "NUL" in reasons[1]
        and "longer than" in reasons[2]
    )
    assert bytes(kept) == bad_utf8
    # the two repaired lines are events; their raw bytes are kept, but they count only once
    assert "4 events (2 of them repaired, raw bytes kept in bad_line)" in proc.stderr
    assert "2 bad (kept in bad_line)" in proc.stderr


def test_a_truncated_last_line_waits_and_is_read_once_it_is_complete(tmp_path, engine):
    log = tmp_path / "mail.log"
    log.write_bytes(("\n".join(LINES[:5]) + "\n" + LINES[5][:40]).encode())
    proc = backfill(log)
    assert proc.returncode == 0 and "unterminated last line" in proc.stderr
    assert len(rows(engine)) == 4
    with open(log, "ab") as fh:
        fh.write(LINES[5][40:].encode() + b"\n")
    assert backfill(log).returncode == 0
    assert [r[0] for r in rows(engine)][-1] == "auth_fail"


def test_a_binary_file_is_refused_with_a_clear_message(tmp_path, engine):
    junk = tmp_path / "core.dump"
    junk.write_bytes(bytes(range(256)) * 64)
    log = tmp_path / "mail.log"
    write(log, LINES)
    proc = backfill(junk, log)
    assert proc.returncode == 1
    assert "looks binary" in proc.stderr and "Traceback" not in proc.stderr
    assert len(rows(engine)) == 5


def test_a_missing_file_is_reported_and_the_others_still_load(tmp_path, engine):
    log = tmp_path / "mail.log"
    write(log, LINES)
    proc = backfill(tmp_path / "nope.log", log)
    assert proc.returncode == 1 and "nope.log" in proc.stderr and "Traceback" not in proc.stderr
    assert len(rows(engine)) == 5


def test_the_progress_bar_shows_on_request(tmp_path):
    log = tmp_path / "mail.log"
    write(log, LINES)
    proc = backfill(log, extra=["--progress", "always"])
    assert proc.returncode == 0 and "mail.log:" in proc.stderr and "B/s" in proc.stderr


def test_rotated_files_given_in_any_order_load_oldest_first_so_a_session_keeps_its_ip(tmp_path, engine):
    older = tmp_path / "mail.log.1.gz"
    with gzip.open(older, "wb") as fh:
        fh.write(("\n".join(LINES[:2]) + "\n").encode())
    current = tmp_path / "mail.log"
    write(current, LINES[2:5])
    os.utime(older, (1_800_000_000, 1_800_000_000))
    os.utime(current, (1_800_000_000, 1_800_000_000))  # equal times, as after a copy
    proc = backfill(current, older)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.index("mail.log.1.gz") < proc.stderr.index("mail.log:")
    assert {r[2] for r in rows(engine)} == {"192.0.2.7"}


def test_a_session_whose_login_line_is_written_after_its_other_lines_still_gets_its_ip(tmp_path, engine):
    # Dovecot's log process interleaves its processes' pipes: the mail process's expunges and
    # logout can reach the file before imap-login's "Login:" line (seen in CI with a real
    # Dovecot). Here a rotation falls between them, so the login lands in a later transaction.
    older, current = tmp_path / "mail.log.1", tmp_path / "mail.log"
    write(older, LINES[1:5])
    write(current, LINES[:1])
    os.utime(older, (1_800_000_000, 1_800_000_000))
    os.utime(current, (1_800_000_060, 1_800_000_060))
    proc = backfill(current, older)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.index("mail.log.1") < proc.stderr.index("mail.log:")
    assert rows(engine, "SELECT kind, host(ip) FROM event ORDER BY ts, id") == [
        ("login", "192.0.2.7"),
        ("message_delete", "192.0.2.7"),
        ("message_delete", "192.0.2.7"),
        ("logout", "192.0.2.7"),
    ]


def test_it_leaves_the_planner_statistics_of_the_months_it_loaded_up_to_date(tmp_path, engine):
    log = tmp_path / "mail.log"
    write(log, LINES)
    proc = backfill(log)
    assert proc.returncode == 0, proc.stderr
    assert "statistics updated (ANALYZE) for event_y2026m11" in proc.stderr
    # reltuples is -1 until a partition is first analyzed
    assert rows(engine, "SELECT reltuples FROM pg_class WHERE relname = 'event_y2026m11'") == [(5,)]
