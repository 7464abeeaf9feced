"""The command line: `parse` prints the JSON contract of design.md; every command has honest --help."""

import gzip
import json
import subprocess
import sys

import pytest

from tests.conftest import PROJECT_DIR

LOGIN = (
    "Nov 27 06:11:11 mx1 dovecot: imap-login: Login: user=<alice@example.edu>, method=PLAIN, "
    "rip=2001:db8::7, lip=2001:db8::1, mpid=4242, TLS, session=<AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB>"
)
EXPUNGE = (
    "Nov 27 06:11:12 mx1 dovecot: imap(alice@example.edu)<4242><AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB>: "
    'expunge: box=INBOX, uid=9, msgid=<a,b=c, msgid=<fake@x>, size=1, box=Trash@evil">, size=512'
)
NOISE = "Nov 27 06:11:12 mx1 postfix/smtpd[991]: connect from unknown[198.51.100.9]"
BROKEN = "Nov 27 06:11:13 mx1 dovecot: imap-login: Login: user=<"


def ingest(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "ingest", *args], cwd=PROJECT_DIR, input=stdin,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def test_parse_prints_one_json_object_per_event_with_the_contracts_keys(tmp_path):
    log = tmp_path / "mail.log"
    log.write_text("\n".join([LOGIN, NOISE, EXPUNGE, BROKEN]) + "\n")
    proc = ingest("parse", "--tz", "Asia/Taipei", "--year", "2026", str(log))
    assert proc.returncode == 0
    login, expunge = (json.loads(line) for line in proc.stdout.splitlines())
    assert login["ts"] == "2026-11-27T06:11:11+08:00"
    assert (login["kind"], login["protocol"], login["account"], login["ip"]) == (
        "login", "imap", "alice@example.edu", "2001:db8::7")  # fmt: skip
    assert login["session"] == "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB"
    assert login["deleted"] is None and "message_id" in login  # absent values are null
    assert expunge["kind"] == "message_delete" and expunge["mailbox"] == "INBOX"
    assert expunge["message_id"] == '<a,b=c, msgid=<fake@x>, size=1, box=Trash@evil">'
    assert expunge["size"] == 512 and expunge["uid"] == 9
    assert expunge["ip"] == "2001:db8::7"  # the ip of its session's login
    assert "4 lines: 2 events, 1 skipped, 1 malformed" in proc.stderr


def test_parse_prints_what_the_imap_client_said_on_its_sessions_rows_and_no_row_of_its_own():
    id_after_login = (
        "Nov 27 06:11:11 mx1 dovecot: imap(alice@example.edu)<4242><AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB>: "
        "ID sent: name=Thunderbird, version=115.3.1"
    )
    proc = ingest(
        "parse", "--tz", "UTC", "--year", "2026", "-", stdin=f"{LOGIN}\n{id_after_login}\n{EXPUNGE}\n"
    )
    assert proc.returncode == 0
    login, expunge = (json.loads(line) for line in proc.stdout.splitlines())
    for event in (login, expunge):
        assert (event["client_name"], event["client_version"]) == ("Thunderbird", "115.3.1")
        assert event["client_os"] is None and event["client_vendor"] is None
    assert "3 lines: 2 events, 1 skipped, 0 malformed" in proc.stderr


def test_parse_reads_standard_input_and_gzip(tmp_path):
    piped = ingest("parse", "--tz", "UTC", "-", stdin=LOGIN + "\n")
    assert piped.returncode == 0 and json.loads(piped.stdout)["account"] == "alice@example.edu"
    gz = tmp_path / "mail.log.2.gz"
    gz.write_bytes(gzip.compress((LOGIN + "\n").encode()))
    proc = ingest("parse", "--tz", "UTC", str(gz))
    assert proc.returncode == 0 and json.loads(proc.stdout)["kind"] == "login"


def test_a_bad_time_zone_is_a_clear_error_naming_the_option():
    proc = ingest("parse", "--tz", "Mars/Olympus", "-", stdin="")
    assert proc.returncode == 2 and "--tz" in proc.stderr and "Traceback" not in proc.stderr


def test_a_malformed_environment_variable_stops_it_with_the_variables_name():
    proc = subprocess.run([sys.executable, "-m", "ingest", "parse", "-"], cwd=PROJECT_DIR, input="",
                          env={"PATH": "/usr/bin:/bin", "MAILTRAIL_TZ": "Nowhere/Land"},
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 2 and "MAILTRAIL_TZ" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("command", ["parse", "backfill", "follow", "status", "retention", "generate"])
def test_every_command_has_help(command):
    proc = ingest(command, "--help")
    assert proc.returncode == 0 and "usage: python -m ingest " + command in proc.stdout
