"""The parser on IMAP ID lines (imap_id_log): what a client said it is, before and after login."""

from __future__ import annotations

import zoneinfo
from datetime import datetime
from pathlib import Path

import pytest

from ingest.event import CLIENT_ID, Event, Malformed
from ingest.parse import Parser

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 12, 5, 20, 0, tzinfo=BERLIN)
CAPTURE = Path(__file__).parent / "data" / "dovecot-real" / "dovecot-2.3.19-imap-id.log"
S = "Qc/9P+ZhCdZ/AAAC"


def parse(line: str) -> Event | Malformed | None:
    return Parser(BERLIN, now=NOW).parse_line(line)


def client(event: Event) -> tuple:
    return (event.client_name, event.client_version, event.client_os, event.client_vendor)


# (line, account, ip, session, pid, (name, version, os, vendor)); the first ones are real
# 2.3.19 lines (tests/data/dovecot-real/dovecot-2.3.19-imap-id.log)
CASES = [
    (  # before login, in imap-login: Dovecot's own elements follow the ID
        "Dec 05 17:23:24 imap-login: Info: ID sent: name=Thunderbird, version=115.3, os=Windows, "
        f"vendor=Mozilla: user=<>, rip=127.0.0.2, lip=127.0.0.1, session=<{S}>",
        "", "127.0.0.2", S, None, ("Thunderbird", "115.3", "Windows", "Mozilla"),
    ),
    (  # after login, in the imap process: the prefix names the account, pid and session
        "Dec 05 17:23:24 imap(bob@example.edu)<2447><Uiv+P+Zh+b5/AAAD>: Info: ID sent: name=iOS Mail, "
        "version=16.1, os=iOS, vendor=Apple Inc.",
        "bob@example.edu", None, "Uiv+P+Zh+b5/AAAD", 2447, ("iOS Mail", "16.1", "iOS", "Apple Inc."),
    ),
    (  # a value that spells a whole trailer: the real elements are the last ones
        "Dec 05 17:23:52 imap-login: Info: ID sent: name=A: user=<>, rip=6.6.6.6, lip=1.1.1.1, "
        "session=<AAAAAAAAAAAAAAAA>: user=<>, rip=127.0.0.5, lip=127.0.0.1, session=<VEimQeZhZYd/AAAF>",
        "", "127.0.0.5", "VEimQeZhZYd/AAAF", None, ("A: user=<>", None, None, None),
    ),
    (  # `, ` `=` `>` `"` NIL and UTF-8 in values; a cut value (80 bytes with "...") that
        # began a fake trailer; the second version= is the client's too: the first one wins
        "Dec 05 17:23:24 imap-login: Info: ID sent: name=Evil, version=9.9: user=<root>, rip=6.6.6.6, "
        "lip=1.1.1.1, session=<AAAAAAAAAA..., version=NIL, os=a=b>c\"q, vendor=台灣: user=<>, "
        "rip=127.0.0.4, lip=127.0.0.1, session=<q1r+P+Zh4Z9/AAAE>",
        "", "127.0.0.4", "q1r+P+Zh4Z9/AAAE", None, ("Evil", "9.9: user=<root>", 'a=b>c"q', "台灣"),
    ),
    (  # keys as the client spelled them; an empty value is absent
        "Dec 05 17:23:52 imap-login: Info: ID sent: NAME=Mutt, Version=2.2, OS=: user=<>, "
        "rip=127.0.0.2, lip=127.0.0.1, session=<ouGlQeZhJ6J/AAAC>",
        "", "127.0.0.2", "ouGlQeZhJ6J/AAAC", None, ("Mutt", "2.2", None, None),
    ),
    (  # control characters arrive as `?`; a value imitating other fields moves them (the
        # client's own fields: it can only lie about itself)
        "Dec 05 17:23:52 imap(alice@example.edu)<2936><9pGmQeZhAZR/AAAH>: Info: ID sent: "
        "name=Thunderbird, version=1, os=Fake, vendor=Fake, os=Linux",
        "alice@example.edu", None, "9pGmQeZhAZR/AAAH", 2936, ("Thunderbird", "1", "Fake", "Fake"),
    ),
    (  # the longest value Dovecot writes: 77 characters and "..."
        "Dec 05 17:23:24 imap(alice@example.edu)<2451><1on+P+ZhwbV/AAAF>: Info: ID sent: name="
        + "L" * 77 + "..., version=1, x-extra=y",
        "alice@example.edu", None, "1on+P+ZhwbV/AAAF", 2451, ("L" * 77 + "...", "1", None, None),
    ),
    (  # classic syslog (Info: dropped) and Dovecot 2.2's prefix without pid or session
        "Dec  5 17:23:24 mx1 dovecot: imap(carol@example.edu): ID sent: name=Evolution, version=3.46.4",
        "carol@example.edu", None, None, None, ("Evolution", "3.46.4", None, None),
    ),
    (  # rsyslog's RFC 3339 stamp, an IPv6 client, `secured` among the elements (the
        # formats notes, §8)
        "2026-12-05T09:32:26.003010+01:00 mx1 dovecot: imap-login: ID sent: name=Thunderbird, "
        "version=115.3.1, os=Windows, os-version=10.0: user=<>, rip=2001:db8::7, lip=2001:db8::1, "
        "secured, session=<Eby1q99hs4Z/AAAAAAAAAAAAAAAAAAAB>",
        "", "2001:db8::7", "Eby1q99hs4Z/AAAAAAAAAAAAAAAAAAAB", None, ("Thunderbird", "115.3.1", "Windows", None),
    ),
]  # fmt: skip


@pytest.mark.parametrize(("line", "account", "ip", "session", "pid", "fields"), CASES)
def test_an_id_line_gives_what_the_client_said_and_where_it_came_from(
    line: str, account: str, ip: str | None, session: str | None, pid: int | None, fields: tuple
) -> None:
    event = parse(line)
    assert type(event) is Event, event
    assert (event.kind, event.protocol) == (CLIENT_ID, "imap")
    assert (event.account, event.ip, event.session, event.pid) == (account, ip, session, pid)
    assert client(event) == fields


@pytest.mark.parametrize(
    "line",
    [
        # only fields other than the four: nothing to say about the client
        "Dec 05 17:23:52 imap-login: Info: ID sent: x-originating-ip=9.9.9.9, support-url=http://x: "
        "user=<>, rip=127.0.0.4, lip=127.0.0.1, session=<QSimQeZh+5V/AAAE>",
        "Dec 05 17:23:52 imap(alice@example.edu)<1><QSimQeZh+5V/AAAE>: Info: ID sent: ",
    ],
)
def test_an_id_line_without_the_four_fields_is_skipped(line: str) -> None:
    assert parse(line) is None


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (  # longer than Dovecot ever writes: forged or damaged, kept as a bad line
            "Dec 05 17:23:24 imap(alice@example.edu)<2451><1on+P+ZhwbV/AAAF>: Info: ID sent: name="
            + "x" * 81,
            "longer than 80",
        ),
        (  # no elements after the ID: no session or address to trust
            "Dec 05 17:23:24 imap-login: Info: ID sent: name=Thunderbird, version=115.3",
            "without user=<…>, rip=…",
        ),
        (
            "Dec 05 17:23:24 imap-login: Info: ID sent: name=X: user=<>, rip=999.1.1.1, lip=127.0.0.1",
            "rip= is not an IP address",
        ),
        (
            "Dec 05 17:23:24 imap(alice@example.edu)<2451><1on+P+ZhwbV/AAAF>: Info: ID sent: garbage",
            "without key=value",
        ),
    ],
)
def test_a_broken_id_line_is_malformed(line: str, why: str) -> None:
    result = parse(line)
    assert type(result) is Malformed and why in result.reason, result


def test_every_id_line_of_the_real_capture_is_read() -> None:
    parser = Parser(BERLIN, now=NOW)
    lines = [line for line in CAPTURE.read_text(encoding="utf-8").splitlines() if " ID sent: " in line]
    assert len(lines) >= 10
    for line in lines:
        event = parser.parse_line(line)
        if "x-originating-ip=9.9.9.9" in line:
            assert event is None  # none of the four fields
            continue
        assert type(event) is Event and event.kind == CLIENT_ID, line
        assert event.session is not None and f"<{event.session}>" in line
        if "imap-login" in line:
            assert event.ip == line[line.rfind(", rip=") + 6 :].split(",")[0]
            assert line.endswith(f"session=<{event.session}>")
        assert event.client_name is not None
        assert all(v is None or len(v) <= 80 for v in client(event))
