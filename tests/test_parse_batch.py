"""Parser.parse_lines (a chunk of lines at a time) against Parser.parse_line, the reference.

Every answer must be the same — Event, Malformed or None — and so must the state the parser
carries to the next line (year, month, Dovecot 2.4 evidence), on the corpus, the real logs,
the generated mix, the hostile log and generated lines. fill_batch, which uses it, must end a
batch at the same line as before.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.correlate import Correlator
from ingest.generate import generate_lines
from ingest.parse import Parser
from ingest.pipeline import MAX_BAD_BYTES, fill_batch
from ingest.sink import Batch
from ingest.source import MAX_LINE, RawLine
from ingest.speedups import summary
from tests.hostile_log import write_hostile_log
from tests.test_parse_hostile import HOSTILE_BITS, NOW, REAL, SAMPLES, SETTINGS, TZ, change


def assert_same(lines: list[str], chunk: int = 97, **kw: object) -> None:
    """The three readings of `lines` — parse_line, parse_lines in C (ingest/_fastparse.pyx)
    and parse_lines' regex path — fed in chunks of `chunk`, agree line by line and in state."""
    one = Parser(TZ, now=NOW, **kw)  # type: ignore[arg-type]
    readers = [Parser(TZ, now=NOW, **kw), Parser(TZ, now=NOW, **kw)]  # type: ignore[arg-type]
    assert readers[0]._compiled is not None, f"the compiled parser is not in use: {summary()}"
    readers[1]._compiled = None
    for start in range(0, len(lines), chunk):
        part = lines[start : start + chunk]
        want = [one.parse_line(line) for line in part]
        for batch in readers:
            got = batch.parse_lines(part)
            for line, a, b in zip(part, want, got, strict=True):
                assert b == a, (line, batch._compiled)
                assert type(b) is type(a), (line, batch._compiled)
            assert batch.year_state == one.year_state
            assert batch.dovecot24 == one.dovecot24


def _parser(compiled: bool) -> Parser:
    parser = Parser(TZ, now=NOW)
    if not compiled:
        parser._compiled = None
    assert (parser._compiled is not None) == compiled, summary()
    return parser


# Lines at the edges of what parse_lines reads itself or turns away as noise.
EDGES = [
    "Nov 27 06:14:15 mx1 dovecot: imap-login: Login: user=<a (auth failed, 1 attempts in 2 secs): x>, "
    "method=PLAIN, rip=192.0.2.1, lip=192.0.2.2, mpid=1, session=<abc>",
    "Nov 27 06:14:15 mx1 dovecot: imap-login: Login: user=<a>, method=PLAIN, rip=999.1.1.1, lip=1.2.3.4, mpid=1",
    "Nov 27 06:14:15 mx1 dovecot: imap-login: Login: user=<a>, method=PLAIN, rip=::ffff:1.2.3.4, lip=::1, mpid=7",
    "Nov 27 06:14:15 mx1 dovecot: pop3-login: Disconnected (auth failed, 2 attempts in 4 secs): user=<b>, "
    "method=PLAIN, rip=192.0.2.9, lip=192.0.2.2, TLS, session=<x+y/z>",
    "Nov 27 06:14:15 mx1 dovecot: imap(u)<12><s>: Disconnected: Logged out in=1 out=2 deleted=0 expunged=0 trashed=0",
    "Nov 27 06:14:15 mx1 dovecot: imap()<12><s>: Disconnected: Logged out in=1 out=2 deleted=0 expunged=0 trashed=0",
    "Nov 27 06:14:15 mx1 dovecot: pop3(u)<12><s>: Disconnected: Logged out top=0/0, retr=0/0, del=5/1, size=9",
    "Nov 27 06:14:15 mx1 dovecot: imap(u)<12><s>: copy from A: box=B, uid=3, msgid=<m>, size=error",
    "Nov 27 06:14:15 mx1 dovecot: imap(u)<12><s>: expunge: box=INBOX, uid=3, msgid=<m>, size=5\n",
    "Feb 30 06:14:15 mx1 dovecot: imap(u)<12><s>: expunge: box=INBOX, uid=3, msgid=<m>, size=5",
    "Nov 27 25:14:15 mx1 dovecot: imap-login: Login: user=<a>, method=PLAIN, rip=192.0.2.1, lip=1.2.3.4, mpid=1",
    "Nov 27 06:14:15 mx1 dovecot: lmtp(u)<1><s>: Connect from local",
    "Nov 27 06:14:15 mx1 dovecot: lmtp(u: x)<1><s>: Disconnect from local",
    "Nov 27 06:14:15 mx1 dovecot: lmtp(u)<1><s>: msgid=<m>: saved mail to INBOX",
    "Nov 27 06:14:15 mx1 dovecot: lmtp(): Connect from local",
    "Nov 27 06:14:15 mx1 dovecot-postlogin: imap(u): whatever",
    "Nov 27 06:14:15 mx1 dovecot[12]: imap-login: Login: user=<a>, method=PLAIN, rip=192.0.2.1, lip=1.2.3.4",
    "Nov 27 06:14:15 mx1 postfix/smtpd[1]: connect from x",
    "Nov 27 06:14:15 <mail.info> mx1 dovecot: imap-login: Login: user=<a>, rip=192.0.2.1, lip=1.2.3.4",
    "Nov 27 06:14:15 imap-login: Info: Login: user=<a>, method=PLAIN, rip=192.0.2.1, lip=1.2.3.4, mpid=2",
    "Nov 27 06:14:15 imap(u)<1><s>: Info: expunge: box=INBOX, uid=3, msgid=<m>, size=5",
    "Nov 27 06:14:15  mx1 dovecot: imap(u)<1><s>: expunge: box=INBOX, uid=3, msgid=<m>, size=5",
    "Nov 27 06:14:15 m(x dovecot: imap(u)<1><s>: expunge: box=INBOX, uid=3, msgid=<m>, size=5",
    "Nov 27 06:14:15 mx: postfix: x",
    "Nov 27 06:14:15 mx1\tpostfix: x",
    "Nov 27 06:14:15 mx1 postfix",
    "дек 27 06:14:15 mx1 dovecot: imap-login: Login: user=<a>, method=PLAIN, rip=192.0.2.1, lip=1.2.3.4, mpid=2",
    "Nov ٢7 06:14:15 mx1 dovecot: imap-login: Login: user=<a>, method=PLAIN, rip=192.0.2.1, lip=1.2.3.4, mpid=2",
    "2026-11-27T06:14:15.003010+00:00 mx1 dovecot: imap-login: Login: user=<a>, method=PLAIN, rip=192.0.2.1, "
    "lip=1.2.3.4, mpid=2, session=<q>",
    "2026-11-27T06:14:15.003010+00:00 mx1 postfix/qmgr[2]: removed",
    "2026-11-27T06:14:15.003010+00:00 mx1 imap(: x",
    "2026-11-27T06:14:15.003010+00:00 mx1 <x postfix: y",
    "2026-11-27 06:14:15 auth-worker(default): Info: passwd-file(a,192.0.2.1): Password mismatch",
    "@400000004c91b044077a9e94 imap-login: Login: user=<a>, method=PLAIN, rip=192.0.2.1, lip=1.2.3.4",
    "dovecot: 2011-03-03 18:36:18 Info: imap-login: Login: user=<a>, method=PLAIN, rip=192.0.2.1, lip=1.2.3.4",
    "mx | Nov 27 06:14:15 mx1 dovecot: imap-login: Login: user=<a>, method=PLAIN, rip=192.0.2.1, lip=1.2.3.4",
    "Nov 27 06:14:15 mx1 dovecot: imap-login: Login aborted: Connection closed (auth failed, 1 attempts in 2 secs) "
    "(auth_failed): user=<a>, method=PLAIN, rip=192.0.2.1, lip=1.2.3.4, session=<z>",
    "Nov 27 06:14:16 mx1 dovecot: pop3(u)<12><s>: Disconnected: Logged out top=0/0, retr=0/0, del=0/7, size=9",
    "Nov 27 06:14:15 mx1 dovecot: imap-login: Disconnected: Connection closed (no auth attempts in 8 secs): "
    "user=<>, rip=192.0.2.1, lip=192.0.2.2, TLS, session=<s>",
    "Nov 27 06:14:15 mx1 dovecot: pop3-login: Info: Aborted login (no auth attempts in 0 secs): user=<a>, "
    "rip=192.0.2.1, lip=192.0.2.2",
    "Nov 27 06:14:15 mx1 dovecot: imap-login: Disconnected (no auth attempts in 1 secs) (auth failed, 1 attempts "
    "in 2 secs): user=<a>, method=PLAIN, rip=192.0.2.1, lip=192.0.2.2",
    "Nov 27 06:14:15 mx1 dovecot: imap-login: Disconnected (auth failed, 1 attempts in 2 secs) (no auth attempts"
    "): user=<a>, method=PLAIN, rip=192.0.2.1, lip=192.0.2.2",
    "Nov 27 06:14:15 mx1 dovecot: imap-login: Disconnected: user=<(no auth attempts>, rip=192.0.2.1, lip=1.2.3.4",
    "Nov 27 06:14:15 mx1 dovecot: imap-login: Disconnected (no auth attempts in 1 secs)",
    "Nov 27 06:14:15 mx1 dovecot: imap-login: Login aborted: Connection closed (no auth attempts in 0 secs) "
    "(no_auth_attempts): user=<>, rip=192.0.2.1, lip=192.0.2.2",
    "",
    "x",
    "Nov 27 06:14:15 ",
    "\x00Nov 27 06:14:15 mx1 dovecot: imap-login: Login: user=<a>, method=PLAIN, rip=192.0.2.1, lip=1.2.3.4",
    # where the compiled reading (ingest/_fastparse.pyx) stops reading and defers
    "Nov 27 06:14:15 mx1 dovecot: imap-login: Logged in: user=<a>, method=PLAIN, rip=192.0.2.1, lip=1.2.3.4, mpid=9",
    "Nov 27 06:14:15 mx1 dovecot: imap-login: Info: Info: Login: user=<a>, method=PLAIN, rip=192.0.2.1, "
    "lip=1.2.3.4, mpid=9",
    "Nov 27 06:14:15 mx1 dovecot: imap-login: Login: user=<a>b>, method=PLAIN, rip=192.0.2.1, lip=1.2.3.4, mpid=9",
    "Nov 27 06:14:15 mx1 dovecot: imap-login: Login: user=<a>, method=PLAIN, rip=6.6.6.6, lip=1.2.3.4, mpid=9>, "
    "method=PLAIN, rip=192.0.2.1, lip=1.2.3.4, mpid=9",
    "Nov 27 06:14:15 mx1 dovecot: imap-login: Login: user=<a\rb>, method=PLAIN, rip=192.0.2.1, lip=1.2.3.4, mpid=9",
    "Nov 27 06:14:15 mx1 dovecot: imap-login: Login: user=<李>, method=PLAIN, rip=192.0.2.1, lip=1.2.3.4, mpid=9, "
    "TLS, session=<>",
    "Nov 27 06:14:15 mx1 dovecot: imap-login: Login: user=<a>, method=PLAIN, rip=192.0.2.1, lip=1.2.3.4, mpid=12345678"
    "9, secured, session=<s>",
    "Nov 27 06:14:15 mx1 dovecot: imap-login: Login: user=<a>, method=PLAIN, rip=192.0.2.1, lip=1.2.3.4, mpid=1234567"
    "890",
    "Nov 27 06:14:15 mx1 dovecot: imap-login: Login: user=<a>, method=PLAIN, rip=192.0.2.1, lip=1.2.3.4, mpid=12٣",
    "Nov 27 06:14:15 mx1 dovecot: imap-login: Login: user=<a>, method=PLAIN, rip=192.0.2.1, lip=1.2.3.4, mpid=1²",
    "Nov 27 06:14:15 mx1 dovecot: imap-login: Login: user=<a>, method=PLAIN, rip=192.0.2.1, lip=1.2.3.4, mpid=1, TLSx",
    "Nov 27 06:14:15 mx1 dovecot: imap-login: Login: user=<a>, method=PLAIN, rip=192.0.2.1, lip=1.2.3.4, mpid=1, "
    "session=<a b>",
    "Nov 27 06:14:15 mx1 dovecot: imap-login: Login: user=<a>, method=PLAIN, rip="
    + "1" * 46
    + ", lip=1.2.3.4, mpid=1",
    "Nov 27 06:14:15 mx1 dovecot: imap-login: Login: user=<a>, method=PL AIN, rip=192.0.2.1, lip=1.2.3.4, mpid=1",
    "Nov 27 06:14:15 mx1 dovecot: imap-login: Disconnected: Inactivity during authentication (auth failed, 1 "
    "attempts in 2 secs): user=<a>, method=PLAIN, rip=192.0.2.1, lip=1.2.3.4, TLS: Disconnected, session=<s>",
    "Nov 27 06:14:15 mx1 dovecot: imap-login: Disconnected: Too Many (auth failed, 1 attempts in 2 secs): user=<a>, "
    "method=PLAIN, rip=192.0.2.1, lip=1.2.3.4",
    "Nov 27 06:14:15 mx1 dovecot: imap-login: Aborted login (auth failed, 1234567890 attempts in 2 secs): user=<a>, "
    "method=PLAIN, rip=192.0.2.1, lip=1.2.3.4",
    "Nov 27 06:14:15 mx1 dovecot: imap-login: Disconnected: (no auth attempts in 0 secs): user=<>, rip=192.0.2.1",
    "Nov 27 06:14:15 mx1 dovecot: imap-login: Disconnected (no auth attempts in 0 secs): user=<> (auth failed, 1 x",
    "Nov 27 06:14:15 mx1 dovecot: imap-login: Disconnected (no auth attempts in 0 secs) (auth failed, 1): user=<>",
    "Nov 27 06:14:15 mx1 dovecot: imap(u)<12><s>: Disconnected: Logged out (idle) in=1 out=2 deleted=0 expunged=0 "
    "trashed=0 hdr_count=1 hdr_bytes=2 body_count=3 body_bytes=4",
    "Nov 27 06:14:15 mx1 dovecot: imap(u)<12><s>: Disconnected: Connection closed (x(y)) in=1 out=2 deleted=0 "
    "expunged=0 trashed=0",
    "Nov 27 06:14:15 mx1 dovecot: imap(u)<12><s>: Disconnected: Logged out in=1 out=2 deleted=0 expunged=0 trashed=0 "
    "hdr_count=1",
    "Nov 27 06:14:15 mx1 dovecot: imap(u)<12><s>: Disconnected: Logged out in=1 out=2 deleted=1234567890 expunged=0 "
    "trashed=0",
    "Nov 27 06:14:15 mx1 dovecot: imap(u)<12><s>: Disconnected: Logged out in=1 out=2 deleted=0 expunged=0 trashed=0 ",
    "Nov 27 06:14:15 mx1 dovecot: pop3(u)<12><s>: Disconnected: Logged out top=1/2, retr=3/4, del=9/9, size="
    + "9" * 19,
    "Nov 27 06:14:15 mx1 dovecot: imap(u(v)<12><s>: expunge: box=INBOX, uid=3, msgid=<m>, size=5",
    "Nov 27 06:14:15 mx1 dovecot: imap(u)<1234567890><s>: expunge: box=INBOX, uid=3, msgid=<m>, size=5",
    "Nov 27 06:14:15 mx1 dovecot: imap(u)<12><s>: expunge: box=" + "b" * 64 + ", uid=3, msgid=" + "m" * 80,
    "Nov 27 06:14:15 mx1 dovecot: imap(u)<12><s>: expunge: box=" + "b" * 65 + ", uid=3, msgid=<m>",
    "Nov 27 06:14:15 mx1 dovecot: imap(u)<12><s>: expunge: box=INBOX, uid=3, msgid=" + "m" * 81,
    "Nov 27 06:14:15 mx1 dovecot: imap(u)<12><s>: delete: box=收件匣, uid=3, msgid=<m@x>, size=error, vsize=9, "
    "from=a <b@c>, subject=hi (there), flags=(\\Deleted \\Seen)",
    "Nov 27 06:14:15 mx1 dovecot: imap(u)<12><s>: undelete: box=A, uid=3, msgid=, vsize=error, flags=()",
    "Nov 27 06:14:15 mx1 dovecot: imap(u)<12><s>: delete: box=A, uid=3, msgid=<m>, flags=(a(b))",
    "Nov 27 06:14:15 mx1 dovecot: imap(u)<12><s>: delete: box=A, uid=3, msgid=<m>, subject=x, from=y",
    "Nov 27 06:14:15 mx1 dovecot: imap(u)<12><s>: delete: box=A, uid=3, msgid=<m>, size=12x",
    "Nov 27 06:14:15 mx1 dovecot: imap(u)<12><s>: copy from Sent:x: box=B, uid=3, msgid=<m>",
    "Nov 27 06:14:15 mx1 dovecot: imap(u)<12><s>: copy from : box=B, uid=3, msgid=<m>",
    "Nov 27 06:14:15 mx1 dovecot: imap(u)<12><s>: save: box=B, uid=3, msgid=<m>",
    "Nov 27 06:14:15 mx1 dovecot: imap(u)<12><s>: ID sent: name=a\rb",
    "Nov 27 06:14:15 mx1 dovecot: lmtp(u)x)<1><s>: msgid=<m>: saved mail to INBOX",
    "Nov 27 06:14:15 mx1 dovecot: lmtp(u)<1>: msgid=<m>: saved mail to INBOX",
    "Nov 27 06:14:15 mx1 dovecot: lmtp(u)<1><s>: msgid =<m>",
    "Nov 27 06:14:15 mx1 dovecot: lmtp(u)<1><s>: Error: msgid=<m>: failed",
    "2026-11-27T06:14:15.1234567890Z mx1 dovecot: imap-login: Login: user=<a>, method=PLAIN, rip=192.0.2.1, "
    "lip=1.2.3.4, mpid=2",
    "2026-11-27T06:14:15.Z mx1 dovecot: imap-login: Login: user=<a>, method=PLAIN, rip=192.0.2.1, lip=1.2.3.4, mpid=2",
    "2026-11-27T06:14:15+0800 mx1 dovecot: imap(u)<12><s>: expunge: box=INBOX, uid=3, msgid=<m>",
    "2026-11-27T06:14:15+08 mx1 dovecot: imap(u)<12><s>: expunge: box=INBOX, uid=3, msgid=<m>",
    "2026-11-27T06:14:15 mx1 dovecot: imap(u)<12><s>: expunge: box=INBOX, uid=3, msgid=<m>",
    "2026-13-45T06:14:15Z mx1 dovecot: imap(u)<12><s>: expunge: box=INBOX, uid=3, msgid=<m>",
    "Nov 27 06:14:15 mx1 dovecot: submission-login: Login: user=<a>, method=PLAIN, rip=192.0.2.1, lip=1.2.3.4, mpid=9",
    "Nov 27 06:14:15 mx1 dovecot: managesieve-login: Login: user=<a>, method=PLAIN, rip=192.0.2.1, lip=1.2.3.4, "
    "mpid=9",
    "Nov 27 06:14:15 mx1 dovecot: imap-login: Login: user=<a>, method=PLAIN, rip=192.0.2.1, lip=1.2.3.4, mpid=9\x00",
]
# IMAP ID lines (before login: imap-login with its elements; after login: the imap process):
# the stock ones parse_lines reads itself, and the ones it must leave to parse_line.
IDS = [
    "Nov 27 06:14:15 mx1 dovecot: imap-login: ID sent: name=Thunderbird, version=115.3.1: user=<>, "
    "rip=192.0.2.1, lip=192.0.2.2, TLS, session=<mJjSfihhWSgKGCS7>",
    "Nov 27 06:14:15 mx1 dovecot: imap-login: Info: ID sent: name=iPhone Mail, version=21E236, os=iOS, "
    "os-version=17.4.1 (21E236): user=<>, rip=2001:db8::7, lip=::1, secured, session=<a+b/c>",
    "Nov 27 06:14:15 mx1 dovecot: imap-login: ID sent: name=x: user=<>, rip=192.0.2.1, lip=192.0.2.2, session=<>",
    "Nov 27 06:14:15 mx1 dovecot: pop3-login: ID sent: name=x: user=<>, rip=192.0.2.1, lip=192.0.2.2, session=<s>",
    "Nov 27 06:14:15 mx1 dovecot: imap(u@example.edu)<12><s+/1>: ID sent: name=com.google.android.gm, "
    "os=android, os-version=13; SM-G991B, vendor=Google, Inc.",
    "Nov 27 06:14:15 mx1 dovecot: imap(u)<12><s>: Info: ID sent: NAME=Mutt, Version=2.2, OS=, vendor=NIL",
    "Nov 27 06:14:15 mx1 dovecot: pop3(u)<12><>: ID sent: name=a, name=b, version=: user=<>, rip=6.6.6.6",
    "2026-11-27T06:14:15.003010+00:00 mx1 dovecot: imap-login: ID sent: name=Evolution, version=3.46.4, "
    "vendor=GNOME: user=<>, rip=192.0.2.1, lip=192.0.2.2, TLS, session=<q>",
    "2026-11-27T06:14:15+01:00 mx1 dovecot: imap(u)<12><s>: ID sent: name=K-9 Mail, version=6.712",
    # left to parse_line: hostile, unusual or not an event
    "Nov 27 06:14:15 mx1 dovecot: imap-login: ID sent: name=A: user=<>, rip=6.6.6.6, lip=1.1.1.1, "
    "session=<AAAA>: user=<>, rip=192.0.2.5, lip=192.0.2.2, session=<VEim>",
    "Nov 27 06:14:15 mx1 dovecot: imap-login: ID sent: name=A, os=: user=<>, rip=6.6.6.6: user=<>, "
    "rip=192.0.2.5, lip=192.0.2.2, session=<VEim>",
    "Nov 27 06:14:15 mx1 dovecot: imap-login: ID sent: name=A: user=<root>, rip=192.0.2.1, lip=192.0.2.2, session=<s>",
    "Nov 27 06:14:15 mx1 dovecot: imap-login: ID sent: name=A: user=<>, rip=999.0.2.1, lip=192.0.2.2, session=<s>",
    "Nov 27 06:14:15 mx1 dovecot: imap-login: ID sent: name=(auth failed, 1 attempts in 2 secs): user=<>, "
    "rip=192.0.2.1, lip=192.0.2.2, session=<s>",
    "Nov 27 06:14:15 mx1 dovecot: imap-login: ID sent: x-originating-ip=9.9.9.9: user=<>, rip=192.0.2.1, "
    "lip=192.0.2.2, session=<s>",
    "Nov 27 06:14:15 mx1 dovecot: imap-login: ID sent: : user=<>, rip=192.0.2.1, lip=192.0.2.2, session=<s>",
    "Nov 27 06:14:15 mx1 dovecot: imap-login: ID sent: name=" + "L" * 81 + ": user=<>, rip=192.0.2.1, "
    "lip=192.0.2.2, session=<s>",
    "Nov 27 06:14:15 mx1 dovecot: imap(u)<12><s>: ID sent: name=" + "L" * 81,
    "Nov 27 06:14:15 mx1 dovecot: imap(u)<12><s>: ID sent: name=" + "é" * 80 + ", os=x" * 100,
    "Nov 27 06:14:15 mx1 dovecot: imap(u)<12><s>: ID sent: x-originating-ip=9.9.9.9",
    "Nov 27 06:14:15 mx1 dovecot: imap(u)<12><s>: ID sent: ",
    "Nov 27 06:14:15 mx1 dovecot: imap(u)<12><s>: ID sent: garbage",
    "Nov 27 06:14:15 mx1 dovecot: imap()<12><s>: ID sent: name=a",
    "Nov 27 06:14:15 mx1 dovecot: imap(u)<1234567890><s>: ID sent: name=a",
    "Nov 27 06:14:15 mx1 dovecot: imap(u)<12><s!>: ID sent: name=a",
    "Nov 27 06:14:15 mx1 dovecot: imap(u): ID sent: name=a",
    "Nov 27 06:14:15 mx1 dovecot: imap(u)<12><s>: Info: Info: ID sent: name=a",
    "Nov 27 06:14:15 mx1 dovecot: imap(u)<12><s>: Debug: ID sent: name=a",
    "Nov 27 06:14:15 mx1 dovecot: submission(u)<12><s>: ID sent: name=a",
    "Nov 27 06:14:15 mx1 dovecot: imap(u)<12><s>: ID sent: name=a\nb",
    "Feb 30 06:14:15 mx1 dovecot: imap(u)<12><s>: ID sent: name=a",
    "Nov 26 16:59:40 mx1 dovecot: imap-login: ID sent: >name=iPhone Mail: user=<>, rip=192.0.2.1, lip=192.0.2.2, "
    "session=<s>",  # no fields: Malformed before the time is read, so the year is not set
    "Nov 26 16:59:40 mx1 dovecot: imap(u)<12><s>: ID sent: x-originating-ip=9.9.9.9",
    "Feb 30 06:14:15 mx1 dovecot: imap-login: ID sent: name=x: user=<>, rip=192.0.2.1, lip=192.0.2.2, session=<s>",
]


def _syslog(line: str) -> str:
    """A line of Dovecot's own log file (tests/data/dovecot-real) as syslog writes it."""
    return line[:4] + f"{int(line[4:6]):2d}" + line[6:16] + "mx1 dovecot: " + line[16:]


REAL_IDS = [_syslog(line) for line in REAL if " ID sent: " in line and line[:3] == "Dec" and line[15] == " "]
NOISE = [line for line in generate_lines(2000, end=NOW, tz=TZ, seed=3) if " dovecot" not in line][:200]


def test_the_edges_read_the_same_one_by_one_and_in_one_chunk() -> None:
    assert_same(EDGES, chunk=len(EDGES))
    assert_same(EDGES + EDGES, chunk=1)


def test_imap_id_lines_read_the_same() -> None:
    assert len(REAL_IDS) >= 10
    for lines in (IDS, REAL_IDS):
        assert_same(lines, chunk=len(lines))
        assert_same(lines + lines, chunk=1)
    for line in IDS:  # each first of its chunk, the year still unknown
        assert_same([line, line], chunk=2)


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "regex"])
def test_the_stock_id_lines_take_the_batch_path(monkeypatch, compiled: bool) -> None:
    """parse_lines reads the stock ID lines itself: parse_line's general path is never asked
    (a fast path that fell back to it on every line would still answer the same)."""
    asked: list[str] = []
    monkeypatch.setattr(Parser, "_message", lambda self, msg, host: asked.append(msg))
    got = _parser(compiled).parse_lines(IDS[:9] + REAL_IDS[:2])
    assert asked == []
    assert [e.kind for e in got] == ["client_id"] * 11
    assert got[0][-4:] == ("Thunderbird", "115.3.1", None, None) and got[0].ip == "192.0.2.1"
    assert (got[4].account, got[4].client_name, got[4].client_vendor) == (
        "u@example.edu",
        "com.google.android.gm",
        "Google, Inc.",
    )
    assert (got[4].session, got[4].pid, got[4].ip, got[2].session) == ("s+/1", 12, None, None)


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "regex"])
def test_the_generated_mix_takes_the_batch_path_but_for_a_few_lines(monkeypatch, compiled: bool) -> None:
    """Of a generated day (stock Dovecot 2.3, ID lines in both shapes), parse_line's general
    path reads only the lines parse_lines has no branch for: no ID line and under 1.5 %."""
    asked: list[str] = []
    general = Parser._message
    monkeypatch.setattr(
        Parser, "_message", lambda self, msg, host: asked.append(msg) or general(self, msg, host)
    )
    for style in ("rfc3164", "rfc3339"):
        asked.clear()
        lines = list(generate_lines(20_000, days=1, end=NOW, tz=TZ, seed=5, style=style))
        got = _parser(compiled).parse_lines(lines)
        assert sum(1 for e in got if e is not None and e.kind == "client_id") > 500
        assert not [msg for msg in asked if " ID sent: " in msg]
        assert len(asked) < 0.015 * len(lines), asked[:20]


def test_the_corpus_and_the_real_logs_read_the_same() -> None:
    assert_same(REAL)
    assert_same(REAL, chunk=512, host="h")


def test_the_generated_mix_reads_the_same_in_both_styles() -> None:
    for style in ("rfc3164", "rfc3339"):
        assert_same(list(generate_lines(30_000, days=2, end=NOW, tz=TZ, seed=11, style=style)), chunk=512)


def test_the_year_turns_in_the_middle_of_a_chunk_as_one_line_at_a_time() -> None:
    login = "{} mx1 dovecot: imap-login: Login: user=<a>, method=PLAIN, rip=192.0.2.1, lip=192.0.2.2, mpid=1"
    stamps = ["Dec 31 23:59:58", "Dec 31 23:59:59", "Jan  1 00:00:00", "Dec 31 23:59:59", "Jan  1 00:00:01"]
    lines = [login.format(s) for s in stamps]
    assert_same(lines, chunk=len(lines))
    assert_same(lines, chunk=len(lines), year=2025)
    parser = Parser(TZ, year=2025)
    years = [e.ts.year for e in parser.parse_lines(lines)]
    assert years == [2025, 2025, 2026, 2025, 2026]


def test_the_hostile_log_reads_the_same(tmp_path) -> None:
    log = write_hostile_log(tmp_path / "hostile.log", valid=3000, random_bytes=300_000, latin1=2000, now=NOW)
    lines = [raw.decode(errors="replace") for raw in log.path.read_bytes().split(b"\n")]
    assert len(lines) > 5000
    assert_same(lines, chunk=512)


@st.composite
def chunks_of_lines(draw: st.DrawFn) -> list[str]:
    """Lines from the samples and the noise, each changed a little where it matters most:
    the head (positions 9, 12 and 15, the host, the tag) or anywhere."""
    out = []
    for _ in range(draw(st.integers(1, 12))):
        line = draw(st.sampled_from(SAMPLES + NOISE + EDGES + IDS + REAL_IDS))
        for _ in range(draw(st.integers(0, 3))):
            at = draw(st.one_of(st.integers(0, 40), st.integers(0, len(line))))
            bit = draw(
                st.one_of(
                    st.sampled_from(HOSTILE_BITS),
                    st.sampled_from([" ", ":", "(", "<", "dovecot", "dovecot: ", ": ", "\n", "T", "-", "٣"]),
                    st.text(max_size=3),
                )
            )
            how = draw(st.sampled_from(("insert", "delete", "replace")))
            line = change(line, at, bit, how, draw(st.integers(1, 6)) if how == "delete" else 0)
        out.append(line)
    return out


@SETTINGS
@given(chunks_of_lines())
def test_changed_lines_read_the_same_one_by_one_and_in_one_chunk(lines: list[str]) -> None:
    assert_same(lines, chunk=len(lines))


def test_a_batch_of_bad_lines_ends_at_the_same_line_and_reads_no_further() -> None:
    """Overlong lines fill MAX_BAD_BYTES: the batch ends at the line that passes it (as one line
    at a time did), and the lines after it are neither taken from the reader nor parsed."""
    good = b"Nov 27 06:14:15 mx1 postfix/qmgr[1]: removed"
    raw: list[RawLine] = []
    offset = 0
    for n in range(200):
        data = b"x" * MAX_LINE if n % 3 == 0 else good
        overlong = 10 if n % 3 == 0 else 0
        raw.append(RawLine(offset, data, offset + len(data) + 1 + overlong, overlong))
        offset = raw[-1].end
    held, stop = 0, None
    for n, line in enumerate(raw, 1):
        if line.overlong:
            held += len(line.data)
        if held > MAX_BAD_BYTES:
            stop = n
            break
    assert stop is not None and stop < len(raw)
    lines = iter(raw)
    batch = Batch(start=0)
    assert not fill_batch(
        lines, batch, Parser(UTC, now=datetime(2026, 11, 27, tzinfo=UTC)), Correlator(), 1, 50_000
    )
    assert batch.lines == stop
    assert batch.end == raw[stop - 1].end
    assert next(lines) is raw[stop]  # the reader is where the batch ended
    assert len(batch.bad) == (stop + 2) // 3
    assert batch.skipped == stop - len(batch.bad)


def _batches(path, chunk_lines: int, monkeypatch) -> list[tuple]:
    """Every batch fill_batch makes of the file, with CHUNK_LINES = chunk_lines."""
    from ingest import pipeline
    from ingest.source import ReadResult, read_lines

    monkeypatch.setattr(pipeline, "CHUNK_LINES", chunk_lines)
    parser, correlator = Parser(TZ, now=NOW), Correlator()
    window = (datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 11, 27, 11, tzinfo=UTC))
    out = []
    with open(path, "rb") as fh:
        lines = read_lines(fh, 0, ReadResult(), final=True)
        done = False
        while not done:
            batch = Batch(start=out[-1][1] if out else 0)
            done = fill_batch(lines, batch, parser, correlator, 1, 3000, window)
            out.append((batch.start, batch.end, batch.lines, batch.skipped, batch.repaired, batch.events,
                        batch.bad, batch.first_ts, batch.last_ts, batch.year, batch.month, done))  # fmt: skip
    return out


def test_fill_batch_gives_the_same_batches_whatever_its_chunk(tmp_path, monkeypatch) -> None:
    """Chunks of one line against chunks of 512 (and 7) on the hostile log with a generated
    day around it: the same events, bad lines, counts, times and year state in each batch."""
    path = tmp_path / "mixed.log"
    log = write_hostile_log(tmp_path / "hostile.log", valid=2000, random_bytes=200_000, latin1=1000, now=NOW)
    day = "\n".join(generate_lines(6000, days=8, end=NOW, tz=TZ, seed=4)).encode()
    path.write_bytes(day + b"\n" + log.path.read_bytes() + day[: len(day) // 2])
    one = _batches(path, 1, monkeypatch)
    assert len(one) > 4
    assert sum(b[2] for b in one) > 10_000 and any(b[6] for b in one)
    assert _batches(path, 512, monkeypatch) == one
    assert _batches(path, 7, monkeypatch) == one
