"""The parser, shape by shape: exact fields for each wrapper, version and message."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from ingest.event import Event, Malformed
from ingest.parse import Parser

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
UTC = zoneinfo.ZoneInfo("UTC")
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=BERLIN)
REAL_LOGS = Path(__file__).parent / "data" / "dovecot-real"
S = "pxEb0r4OqN7LAAb5"  # a 2.3 session id (16 base64 characters for IPv4)


def parse(line: str, **kw: object) -> Event | Malformed | None:
    kw.setdefault("now", NOW)
    return Parser(kw.pop("tz", BERLIN), **kw).parse_line(line)  # type: ignore[arg-type]


def fields(event: Event | Malformed | None) -> dict[str, object]:
    """The event's non-null fields, ts as ISO text: compact to compare."""
    assert type(event) is Event, event
    out = {k: v for k, v in event._asdict().items() if v is not None}
    out["ts"] = event.ts.isoformat()
    return out


# (line, expected non-null fields) — one row per shape
SHAPES: list[tuple[str, dict[str, object]]] = [
    # --- logins
    (
        f"Nov 27 06:14:15 mx1 dovecot: imap-login: Login: user=<alice@example.edu>, method=PLAIN, "
        f"rip=203.0.113.9, lip=192.0.2.10, mpid=4242, TLS, session=<{S}>",
        dict(ts="2026-11-27T06:14:15+01:00", host="mx1", protocol="imap", kind="login",
             account="alice@example.edu", ip="203.0.113.9", session=S, pid=4242),
    ),
    (  # rsyslog RFC 3339: the offset is taken as written, not the parser's zone
        "2024-12-13T00:47:46.168990+03:00 mail dovecot: pop3-login: Login: user=<user2>, "
        "method=PLAIN, rip=192.168.1.27, lip=192.168.1.27, mpid=66140, secured, "
        "session=<EXAqqhkp4qnAqAEb>",
        dict(ts="2024-12-13T00:47:46.168990+03:00", host="mail", protocol="pop3", kind="login",
             account="user2", ip="192.168.1.27", session="EXAqqhkp4qnAqAEb", pid=66140),
    ),
    (  # journalctl -o short-iso: offset without a colon
        "2024-01-31T08:24:11+0100 mx1 dovecot[123]: imap-login: Login: user=<c>, method=PLAIN, "
        "rip=192.0.2.7, lip=192.0.2.10, mpid=9, TLS, session=<EXAqqhkp4qnAqAEb>",
        dict(ts="2024-01-31T08:24:11+01:00", host="mx1", protocol="imap", kind="login",
             account="c", ip="192.0.2.7", session="EXAqqhkp4qnAqAEb", pid=9),
    ),
    (  # Dovecot's own log file: no host (the parser's default), level after the service
        "Nov 26 09:40:43 imap-login: Info: Login: user=<n.spitsyna@medelle.net>, method=PLAIN, "
        "rip=::1, lip=::1, mpid=13643, secured",
        dict(ts="2026-11-26T09:40:43+01:00", host="", protocol="imap", kind="login",
             account="n.spitsyna@medelle.net", ip="::1", pid=13643),
    ),
    (  # `Logged in:` (reported for 2.4) and an IPv6 client with a 32-character session id
        "Nov 27 06:14:15 mx1 dovecot: imap-login: Logged in: user=<bob>, method=PLAIN, "
        "rip=2001:db8::77, lip=2001:db8::10, mpid=77, TLS, "
        "session=<RhzJEpH3UAAAAAAAAAAAAAAAAAAAAAAB>",
        dict(ts="2026-11-27T06:14:15+01:00", host="mx1", protocol="imap", kind="login",
             account="bob", ip="2001:db8::77", session="RhzJEpH3UAAAAAAAAAAAAAAAAAAAAAAB", pid=77),
    ),
    (  # IPv4-mapped IPv6 kept as written; Dovecot 1.x has neither mpid nor session
        "Jan 30 09:37:55 hostname dovecot: pop3-login: Login: user=<u>, method=PLAIN, "
        "rip=::ffff:1.2.3.4, lip=::ffff:1.2.3.5",
        dict(ts="2026-01-30T09:37:55+01:00", host="hostname", protocol="pop3", kind="login",
             account="u", ip="::ffff:1.2.3.4"),
    ),
    (  # journald's short view, localized month, syslog pid after the tag
        "févr. 25 08:43:16 hera dovecot[942]: imap-login: Login: user=<ma.zhang@eco.tssr>, "
        "method=LOGIN, rip=127.0.0.1, lip=127.0.0.1, mpid=5, TLS, session=<d3oaKKFLYNx/AAAB>",
        dict(ts="2026-02-25T08:43:16+01:00", host="hera", protocol="imap", kind="login",
             account="ma.zhang@eco.tssr", ip="127.0.0.1", session="d3oaKKFLYNx/AAAB", pid=5),
    ),
    (  # Dovecot 1.x log_path with log_timestamp "%Y-%m-%d %H:%M:%S "
        "dovecot: 2011-03-03 18:36:18 Info: imap-login: Login: user=<info@markisoft.com.ar>, "
        "method=PLAIN, rip=127.0.0.1, lip=127.0.0.1, secured",
        dict(ts="2011-03-03T18:36:18+01:00", host="", protocol="imap", kind="login",
             account="info@markisoft.com.ar", ip="127.0.0.1"),
    ),
    (  # Dovecot 1.x: level word where the host would be; unpadded day
        "Jun 3 15:04:05 Info: imap-login: Login: user=<username>, method=PLAIN, rip=1.2.3.4, "
        "lip=1.2.3.5",
        dict(ts="2026-06-03T15:04:05+02:00", host="", protocol="imap", kind="login",
             account="username", ip="1.2.3.4"),
    ),
    (  # daemontools multilog TAI64N
        "@400000004c91b044077a9e94 imap-login: Info: Login: user=<m>, method=PLAIN, "
        "rip=80.187.101.33, lip=80.254.129.240, TLS",
        dict(ts="2010-09-16T05:50:50.125476+00:00", host="", protocol="imap", kind="login",
             account="m", ip="80.187.101.33"),
    ),
    (  # docker compose prefix, FreeBSD `<mail.info>` and a managesieve login
        "dovecot-mailcow_1    | Jan 21 19:06:28 <mail.info> xyz dovecot: managesieve-login: "
        "Login: user=<user3>, method=PLAIN, rip=10.1.2.3, lip=10.2.3.3, mpid=51689, TLS, "
        "session=<tyio4fp/vgBVHf60>",
        dict(ts="2026-01-21T19:06:28+01:00", host="xyz", protocol="sieve", kind="login",
             account="user3", ip="10.1.2.3", session="tyio4fp/vgBVHf60", pid=51689),
    ),
    (  # grep -H over rotated files: the path is dropped
        "/var/log/maillog.9:Mar 13 02:33:19 mss1 dovecot: pop3-login: Login: user=<info@ise.mn>, "
        "method=PLAIN, rip=172.16.214.26, lip=172.16.214.16, mpid=9398",
        dict(ts="2026-03-13T02:33:19+01:00", host="mss1", protocol="pop3", kind="login",
             account="info@ise.mn", ip="172.16.214.26", pid=9398),
    ),
    (  # a log viewer's received-at column, then Splunk's: both dropped
        "» 5 Aug 2015 12:15:52.311 Aug 5 12:15:50 azure dovecot: pop3-login: Login: user=<e@s.mx>, "
        "method=PLAIN, rip=187.172.83.176, lip=104.171.119.11, mpid=4800, TLS, session=<VcbljZMcnQC7rFOw>",
        dict(ts="2026-08-05T12:15:50+02:00", host="azure", protocol="pop3", kind="login",
             account="e@s.mx", ip="187.172.83.176", session="VcbljZMcnQC7rFOw", pid=4800),
    ),
    (
        "3/25/12 10:53:39.000 AM Mar 25 10:53:39 host dovecot: imap-login: Login: user=<s>, "
        "method=PLAIN, rip=10.0.0.1, lip=10.0.0.2",
        dict(ts="2026-03-25T10:53:39+01:00", host="host", protocol="imap", kind="login",
             account="s", ip="10.0.0.1"),
    ),
    # --- logouts
    (
        f"Nov 27 06:20:00 mx1 dovecot: imap(alice@example.edu)<4242><{S}>: Disconnected: Logged "
        "out in=320 out=4567 deleted=2 expunged=1 trashed=1 hdr_count=3 hdr_bytes=2610 "
        "body_count=0 body_bytes=0",
        dict(ts="2026-11-27T06:20:00+01:00", host="mx1", protocol="imap", kind="logout",
             account="alice@example.edu", session=S, pid=4242, deleted=2, expunged=1,
             trashed=1, bytes_in=320, bytes_out=4567, reason="Logged out"),
    ),
    (  # early 2.3 without `Disconnected:`; a parenthesised detail is dropped from the reason
        f"Nov 27 06:20:00 mx1 dovecot: imap(a)<1><{S}>: Connection closed (LIST finished 2.250 "
        "secs ago) in=46 out=801 deleted=0 expunged=0 trashed=0",
        dict(ts="2026-11-27T06:20:00+01:00", host="mx1", protocol="imap", kind="logout",
             account="a", session=S, pid=1, deleted=0, expunged=0, trashed=0, bytes_in=46,
             bytes_out=801, reason="Connection closed"),
    ),
    (  # 1.x / 2.0: IMAP(user) in capitals, bytes=in/out
        "Apr  1 10:00:02 raptor dovecot: IMAP(trex): Disconnected: Logged out bytes=748/17264",
        dict(ts="2026-04-01T10:00:02+02:00", host="raptor", protocol="imap", kind="logout",
             account="trex", bytes_in=748, bytes_out=17264, reason="Logged out"),
    ),
    (  # 1.0: no statistics at all
        "Oct 21 03:33:37 host dovecot: IMAP(uuuuu): Disconnected for inactivity",
        dict(ts="2026-10-21T03:33:37+02:00", host="host", protocol="imap", kind="logout",
             account="uuuuu", reason="Disconnected for inactivity"),
    ),
    (  # POP3 2.3: del=D/M is D deleted of M messages; size is the mailbox before deletion
        f"Nov 27 06:20:00 mx1 dovecot: pop3(bob)<99><{S}>: Disconnected: Logged out top=0/0, "
        "retr=3/12345, del=3/5, size=23456",
        dict(ts="2026-11-27T06:20:00+01:00", host="mx1", protocol="pop3", kind="logout",
             account="bob", session=S, pid=99, deleted=3, messages=5, size=23456,
             reason="Logged out"),
    ),
    (  # del=D/B with D > B can only be 2.4's deleted bytes
        "Nov 27 06:20:00 mx1 dovecot: pop3(bob): Disconnected: Logged out top=0/0, "
        "retr=0/0, del=3/2, size=23456",
        dict(ts="2026-11-27T06:20:00+01:00", host="mx1", protocol="pop3", kind="logout",
             account="bob", deleted=3, deleted_bytes=2, size=23456, reason="Logged out"),
    ),
    (  # cPanel's `, bytes=in/out` after the default
        "Nov 14 09:11:41 eagle dovecot: pop3(t@n.com): Disconnected: Logged out top=0/0, "
        "retr=4/111830, del=4/4, size=111761, bytes=88/112153",
        dict(ts="2026-11-14T09:11:41+01:00", host="eagle", protocol="pop3", kind="logout",
             account="t@n.com", deleted=4, messages=4, size=111761, bytes_in=88,
             bytes_out=112153, reason="Logged out"),
    ),
    (  # a `%s(%u %p)` prefix and `total=in/out`
        "Mar 21 05:40:15 mss1 dovecot: pop3(info@ise.mn 28678): Disconnected: Logged out "
        "top=0/0, retr=22/37259382, del=38/38, size=38929268, total=555/37262335",
        dict(ts="2026-03-21T05:40:15+01:00", host="mss1", protocol="pop3", kind="logout",
             account="info@ise.mn", pid=28678, deleted=38, messages=38, size=38929268,
             bytes_in=555, bytes_out=37262335, reason="Logged out"),
    ),
    (  # froxlor #1363: a 2.3 format on 2.4 prints its variables literally — still a logout
        "Nov 27 06:20:00 mx1 dovecot: pop3(bob): Disconnected: Logged out in=%i out=%o "
        "top=%t/%p, retr=%r/%b, del=%d/%m, size=%s",
        dict(ts="2026-11-27T06:20:00+01:00", host="mx1", protocol="pop3", kind="logout",
             account="bob", reason="Logged out"),
    ),
    (  # Virtualmin's mail_log_prefix `service=%s, user=%u, ip=[%r]. ` and `rcvd=%i, sent=%o`
        "Feb 11 09:50:27 earth dovecot: service=imap, user=info@profortil.my, ip=[::1]. Logged out "
        "rcvd=214, sent=3328",
        dict(ts="2026-02-11T09:50:27+01:00", host="earth", protocol="imap", kind="logout",
             account="info@profortil.my", ip="::1", bytes_in=214, bytes_out=3328,
             reason="Logged out"),
    ),
    # --- failed sign-ins
    (
        f"Nov 27 06:30:00 mx1 dovecot: imap-login: Disconnected: Connection closed (auth failed, "
        f"3 attempts in 16 secs): user=<admin>, method=PLAIN, rip=198.51.100.7, lip=192.0.2.10, "
        f"TLS, session=<{S}>",
        dict(ts="2026-11-27T06:30:00+01:00", host="mx1", protocol="imap", kind="auth_fail",
             account="admin", ip="198.51.100.7", session=S, attempts=3, reason="auth failed"),
    ),
    (  # 2.4: `Login aborted: … (auth failed, …) (auth_failed)`
        f"Jun 12 20:02:23 kvm456 dovecot[996]: imap-login: Login aborted: Connection closed "
        f"(auth failed, 2 attempts in 14 secs) (auth_failed): user=<jose>, method=PLAIN, "
        f"rip=138.255.206.154, lip=5.135.93.75, TLS, session=<{S}>",
        dict(ts="2026-06-12T20:02:23+02:00", host="kvm456", protocol="imap", kind="auth_fail",
             account="jose", ip="138.255.206.154", session=S, attempts=2, reason="auth failed"),
    ),
    (  # 1.1/1.2: no seconds
        "Jun 13 16:30:54 platypus dovecot: imap-login: Disconnected (auth failed, 2 attempts): "
        "user=<username.bob>, method=PLAIN, rip=49.176.98.87, lip=113.212.99.194, TLS",
        dict(ts="2026-06-13T16:30:54+02:00", host="platypus", protocol="imap",
             kind="auth_fail", account="username.bob", ip="49.176.98.87", attempts=2,
             reason="auth failed"),
    ),
    (  # a disabled account counts as a failed sign-in
        "Nov 27 06:30:00 mx1 dovecot: pop3-login: Disconnected (user disabled): user=<old>, "
        "method=PLAIN, rip=198.51.100.8, lip=192.0.2.10",
        dict(ts="2026-11-27T06:30:00+01:00", host="mx1", protocol="pop3", kind="auth_fail",
             account="old", ip="198.51.100.8", reason="user disabled"),
    ),
    (  # the auth process's own per-check line (auth_verbose)
        f"Nov 27 07:56:32 auth: Info: passwd-file(alice@example.edu,127.0.0.4,<{S}>): "
        "Password mismatch",
        dict(ts="2026-11-27T07:56:32+01:00", host="", protocol="auth", kind="auth_fail",
             account="alice@example.edu", ip="127.0.0.4", session=S,
             reason="passwd-file: Password mismatch"),
    ),
    (  # 2.4 auth prefix; the debug password is not part of the reason
        "Jun 23 00:10:49 auth-worker(info@example.com,1.2.3.4)<4001084><CvN+E95Uf4e7eEnj>: "
        "request [12]: Info: sql: Password mismatch (given password: hunter2)",
        dict(ts="2026-06-23T00:10:49+02:00", host="", protocol="auth", kind="auth_fail",
             account="info@example.com", ip="1.2.3.4", session="CvN+E95Uf4e7eEnj",
             reason="sql: Password mismatch"),
    ),
    # --- mail_log
    (
        f"Nov 27 06:15:00 mx1 dovecot: imap(alice)<4242><{S}>: expunge: box=INBOX, uid=4711, "
        "msgid=<CA+1234@mail.gmail.com>, size=12345, from=Jane Doe <jane@gmail.com>",
        dict(ts="2026-11-27T06:15:00+01:00", host="mx1", protocol="imap", kind="message_delete",
             account="alice", session=S, pid=4242, size=12345, mailbox="INBOX",
             message_id="<CA+1234@mail.gmail.com>", uid=4711),
    ),
    (  # POP3 DELE committed at QUIT: a message_delete with protocol pop3
        f"Nov 27 06:15:00 mx1 dovecot: pop3(bob)<99><{S}>: expunge: box=INBOX, uid=7, "
        "msgid=<p@x>, size=100",
        dict(ts="2026-11-27T06:15:00+01:00", host="mx1", protocol="pop3", kind="message_delete",
             account="bob", session=S, pid=99, size=100, mailbox="INBOX", message_id="<p@x>",
             uid=7),
    ),
    (
        "Nov 27 06:15:00 mx1 dovecot: imap(alice): autoexpunge: box=Trash, uid=3, msgid=<t@x>, "
        "size=error",
        dict(ts="2026-11-27T06:15:00+01:00", host="mx1", protocol="imap", kind="message_delete",
             account="alice", mailbox="Trash", message_id="<t@x>", uid=3, reason="autoexpunge"),
    ),
    (  # empty Message-ID header: `msgid=,` is kept as the empty string it is
        "Nov 27 06:15:00 mx1 dovecot: imap(alice): delete: box=Drafts, uid=2942, msgid=, "
        "size=3122",
        dict(ts="2026-11-27T06:15:00+01:00", host="mx1", protocol="imap", kind="flag_delete",
             account="alice", size=3122, mailbox="Drafts", message_id="", uid=2942),
    ),
    (
        "Nov 27 06:15:00 mx1 dovecot: imap(alice): undelete: box=INBOX, uid=2, msgid=<b2@x>",
        dict(ts="2026-11-27T06:15:00+01:00", host="mx1", protocol="imap", kind="undelete",
             account="alice", mailbox="INBOX", message_id="<b2@x>", uid=2),
    ),
    (  # copy: from the named source into box=
        "Nov 27 06:15:00 mx1 dovecot: imap(alice): copy from INBOX: box=Trash, uid=9, "
        "msgid=<m@x>, size=141",
        dict(ts="2026-11-27T06:15:00+01:00", host="mx1", protocol="imap", kind="copy",
             account="alice", size=141, mailbox="INBOX", mailbox_to="Trash", message_id="<m@x>",
             uid=9),
    ),
    (
        "Nov 27 06:15:00 mx1 dovecot: imap(alice): Mailbox deleted: Old stuff",
        dict(ts="2026-11-27T06:15:00+01:00", host="mx1", protocol="imap",
             kind="mailbox_delete", account="alice", mailbox="Old stuff"),
    ),
    (
        "Nov 27 06:15:00 mx1 dovecot: imap(alice): Mailbox renamed: Drafts old -> Archiv für 2024",
        dict(ts="2026-11-27T06:15:00+01:00", host="mx1", protocol="imap",
             kind="mailbox_rename", account="alice", mailbox="Drafts old",
             mailbox_to="Archiv für 2024"),
    ),
    (
        "Nov 27 06:15:00 mx1 dovecot: imap(alice): Mailbox created: Projects",
        dict(ts="2026-11-27T06:15:00+01:00", host="mx1", protocol="imap",
             kind="mailbox_create", account="alice", mailbox="Projects"),
    ),
    (  # doveadm-originated
        "Nov 27 06:15:00 mx1 dovecot: doveadm(alice): expunge: box=Trash, uid=5, msgid=<d@x>, "
        "size=10",
        dict(ts="2026-11-27T06:15:00+01:00", host="mx1", protocol="doveadm",
             kind="message_delete", account="alice", size=10, mailbox="Trash",
             message_id="<d@x>", uid=5),
    ),
    (  # 1.x: `expunged: uid=…, msgid=…` (box= only when not INBOX)
        "Nov 27 06:15:00 mx1 dovecot: IMAP(alice): expunged: uid=908, msgid=<123.foo@bar>",
        dict(ts="2026-11-27T06:15:00+01:00", host="mx1", protocol="imap", kind="message_delete",
             account="alice", mailbox="INBOX", message_id="<123.foo@bar>", uid=908),
    ),
    (
        "Nov 27 06:15:00 mx1 dovecot: IMAP(alice): copy -> Trash: uid=908, msgid=<123.foo@bar>, "
        "box=Work",
        dict(ts="2026-11-27T06:15:00+01:00", host="mx1", protocol="imap", kind="copy",
             account="alice", mailbox="Work", mailbox_to="Trash", message_id="<123.foo@bar>",
             uid=908),
    ),
]  # fmt: skip


@pytest.mark.parametrize(("line", "want"), SHAPES, ids=[f"shape{i}" for i in range(len(SHAPES))])
def test_it_reads_each_shape_exactly(line: str, want: dict[str, object]) -> None:
    assert fields(parse(line)) == want


HOSTILE: list[tuple[str, dict[str, object]]] = [
    (  # the real 2.3.19 line (tests/data/dovecot-real): a Message-ID imitating fields and a
        # From imitating a size
        f"Nov 27 07:56:24 mx1 dovecot: pop3(alice@example.edu)<13000><{S}>: expunge: box=INBOX, "
        'uid=2, msgid=<x,y=z, msgid=<fake@evil>, size=1, box=INBOX@evil"><script>alert(1)'
        '</script>>, size=220, from="Evil, Inc. <x>, size=9" <evil@example.com>',
        dict(account="alice@example.edu", mailbox="INBOX", uid=2, size=220,
             message_id='<x,y=z, msgid=<fake@evil>, size=1, box=INBOX@evil"><script>alert(1)'
                        "</script>>"),
    ),
    (  # a Message-ID that imitates the rest of the line, on a line that has a From
        "Nov 27 07:56:24 mx1 dovecot: imap(bob): expunge: box=INBOX, uid=3, "
        "msgid=<fake>, size=1, from=<x@evil.example>, size=2000, from=Jane <j@x>",
        dict(account="bob", mailbox="INBOX", uid=3, size=2000,
             message_id="<fake>, size=1, from=<x@evil.example>"),
    ),
    (  # a Message-ID cut at 80 bytes has no closing `>`
        "Nov 14 14:38:47 d dovecot: imap(augie): expunge: box=INBOX.Graymail, uid=231, "
        "msgid=<52805BF0F147AC31D2BCDB147796854A-7044bc48ab194dae8373ec9b588cdef8@online.cos..., "
        "size=96553, from=Costco News <CostcoNews@online.costco.com>, flags=(\\Deleted \\Seen)",
        dict(account="augie", mailbox="INBOX.Graymail", uid=231, size=96553,
             message_id="<52805BF0F147AC31D2BCDB147796854A-7044bc48ab194dae8373ec9b588cdef8"
                        "@online.cos..."),
    ),
    (  # folder names with field-like text, markup and quotes
        "Nov 27 07:56:24 mx1 dovecot: imap(carol): delete: box=Old, box=INBOX, uid=4, "
        "msgid=<m@x>, size=5",
        dict(account="carol", mailbox="Old, box=INBOX", uid=4, size=5, message_id="<m@x>"),
    ),
    (
        "Nov 27 07:56:24 mx1 dovecot: imap(carol): Mailbox deleted: <script>alert(1)</script>",
        dict(account="carol", mailbox="<script>alert(1)</script>"),
    ),
    (
        'Nov 27 07:56:24 mx1 dovecot: imap(carol): expunge: box=Rechnungen "2024", uid=1, '
        "msgid=<überweisung.€.2024@例え.jp>, size=9",
        dict(account="carol", mailbox='Rechnungen "2024"', uid=1, size=9,
             message_id="<überweisung.€.2024@例え.jp>"),
    ),
    (  # a user name that imitates the login elements: the rip is the real one
        "Nov 27 07:56:29 imap-login: Info: Login: user=<mallory>, method=plain, rip=6.6.6.6, "
        "x=<y@example.edu>, method=PLAIN, rip=127.0.0.7, lip=127.0.0.1, mpid=13066, "
        "session=<xN/OZT1h7c5/AAAH>",
        dict(account="mallory>, method=plain, rip=6.6.6.6, x=<y@example.edu", ip="127.0.0.7",
             session="xN/OZT1h7c5/AAAH", pid=13066),
    ),
    (
        "Nov 27 07:56:29 imap-login: Info: Disconnected: Connection closed (auth failed, 1 "
        "attempts in 0 secs): user=<eve>, method=plain, rip=10.6.6.6, lip=10.0.0.1, "
        "session=<aaaaaaaaaaaaaaaa>, method=PLAIN, rip=127.0.0.9, lip=127.0.0.1, "
        "session=<ChjPZT1hiaN/AAAJ>",
        dict(account="eve>, method=plain, rip=10.6.6.6, lip=10.0.0.1, session=<aaaaaaaaaaaaaaaa",
             ip="127.0.0.9", session="ChjPZT1hiaN/AAAJ", attempts=1),
    ),
    (  # the mail process prefix of that user: the account is everything up to `)<pid>`
        "Nov 27 07:56:29 imap(mallory>, method=plain, rip=6.6.6.6, x=<y@example.edu)<13066>"
        "<xN/OZT1h7c5/AAAH>: Info: Disconnected: Logged out in=12 out=477",
        dict(account="mallory>, method=plain, rip=6.6.6.6, x=<y@example.edu", pid=13066,
             session="xN/OZT1h7c5/AAAH"),
    ),
    (  # a user name in an auth check that imitates the ip: the last `,IP):` is the real one
        "Nov 27 07:56:32 auth: Info: passwd-file(x,6.6.6.6): y,127.0.0.4): Password mismatch",
        dict(account="x,6.6.6.6): y", ip="127.0.0.4"),
    ),
]  # fmt: skip


@pytest.mark.parametrize(("line", "want"), HOSTILE, ids=[f"hostile{i}" for i in range(len(HOSTILE))])
def test_it_keeps_hostile_values_exactly_and_apart(line: str, want: dict[str, object]) -> None:
    got = fields(parse(line))
    assert {k: got.get(k) for k in want} == want


@pytest.mark.parametrize(
    "line",
    [
        # not Dovecot
        "Jan 31 09:50:08 raptor postfix/pipe[29598]: 4B80DE08044: to=<trex@dinos.test>, "
        "relay=dovecot, delay=0.13, dsn=2.0.0, status=sent (delivered via dovecot service)",
        "Jan 23 00:28:10 cyrus1 cyrus/imaplocal[105250]: Deleted mailbox ftp.com!user.10g",
        "May 29 15:21:53 gr auth.info sshd-session[25292]: Connection closed by invalid user root",
        "Jun  6 16:26:32 postfix auth: pam_unix(dovecot:auth): authentication failure; rhost=1.2.3.4",
        "Nov 15 14:07:42 d dovecot-postlogin[26352]: graymail spool missing for augie",
        "2025-11-12T06:03:58.783974+00:00 mail postfix/smtpd[1491]: lost connection after AUTH",
        "root@c1227771:~# tail -f /var/log/mail.log",
        # Dovecot, but nothing a mailbox owner did
        "Nov 27 07:56:32 master: Info: Dovecot v2.3.19.1 (9b53102964) starting up for imap",
        "Nov 27 06:14:15 mx1 dovecot: imap-login: Disconnected: Connection closed (no auth "
        "attempts in 0 secs): user=<>, rip=198.51.100.9, lip=192.0.2.10, TLS, session=<x>",
        "Nov 27 06:14:15 mx1 dovecot: imap-login: Aborted login (auth failed, 1 attempts in 2 "
        "secs): user=<>, method=PLAIN, rip=198.51.100.9, lip=192.0.2.10",
        "Nov 27 06:14:15 mx1 dovecot: lmtp(4242): Connect from local",
        "Nov 27 06:14:15 mx1 dovecot: imap(alice)<1><x>: Debug: Effective uid=5000, gid=5000",
        "Nov 27 06:14:15 mx1 dovecot: imap(alice): Error: Mailbox INBOX: read() failed",
        "Nov 27 06:14:15 mx1 dovecot: imap(alice): flag_change: box=INBOX, uid=1, msgid=<x>",
        "Nov 27 06:14:15 mx1 dovecot: auth-worker(3922): Debug: pam(john,::1): lookup",
        "Nov 27 06:14:15 mx1 dovecot: auth(default): userdb(a@b,1.2.3.4): user not found",
        "",
        "imap-login: Login: user=<no-timestamp>, method=PLAIN, rip=1.2.3.4, lip=1.2.3.5",
    ],
)
def test_it_skips_lines_that_are_not_dovecot_events(line: str) -> None:
    assert parse(line) is None


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (
            "Nov 27 06:14:15 mx1 dovecot: imap-login: Login: user=<u>, method=PLAIN, rip=y.y.y.y, "
            "lip=x.x.x.x",
            "rip= is not an IP address",
        ),
        (
            "Feb 30 06:14:15 mx1 dovecot: imap-login: Login: user=<u>, method=PLAIN, "
            "rip=1.2.3.4, lip=1.2.3.5",
            "timestamp is not a valid date",
        ),
        (
            "Nov 27 06:14:15 mx1 dovecot: imap-login: Login: method=PLAIN, rip=1.2.3.4",
            "login line without user=<…>",
        ),
        (
            "Nov 27 06:14:15 mx1 dovecot: imap(a): Disconnected: Logged out in=1 out=2 deleted=99999999999",
            "a counter is out of range",
        ),
    ],
)
def test_it_marks_unreadable_dovecot_lines_malformed(line: str, reason: str) -> None:
    assert parse(line) == Malformed(reason)


def test_it_never_raises_on_odd_input() -> None:
    p = Parser(BERLIN, now=NOW)
    for line in ["\x00", "Nov 27 06:14:15", "Nov 27 06:14:15 ", "@", "@4000", " " * 20, "x" * 100_000,
                 "Nov 27 06:14:15 mx1 dovecot: ", "Nov 27 06:14:15 mx1 dovecot: imap(",
                 "Nov 27 06:14:15 mx1 dovecot: imap-login: Login: user=<",
                 "Nov 27 06:14:15 mx1 dovecot: pop3(a): Disconnected: Logged out del=1/" + "9" * 5000,
                 "9999-12-31T23:59:59.999999-23:59 h dovecot: imap-login: Login: user=<a>, rip=1.1.1.1",
                 "\udcff\udcfe surrogates"]:  # fmt: skip
        result = p.parse_line(line)
        assert result is None or type(result) in (Event, Malformed)


# ------------------------------------------------------------------------------------- time

LOGIN = "{} mx1 dovecot: imap-login: Login: user=<a>, method=PLAIN, rip=1.2.3.4, lip=5.6.7.8"


def test_it_puts_a_yearless_line_in_the_latest_year_not_in_the_future() -> None:
    now = datetime(2026, 1, 5, 12, 0, tzinfo=BERLIN)
    assert parse(LOGIN.format("Jan  5 11:00:00"), now=now).ts == datetime(2026, 1, 5, 11, tzinfo=BERLIN)
    # tomorrow is allowed (clock skew, a zone east of the server), later is last year
    assert parse(LOGIN.format("Jan  6 11:00:00"), now=now).ts.year == 2026
    assert parse(LOGIN.format("Dec 31 23:00:00"), now=now).ts.year == 2025
    assert parse(LOGIN.format("Feb  1 00:00:00"), now=now).ts.year == 2025


def test_it_moves_to_the_next_year_on_a_december_to_january_step() -> None:
    p = Parser(BERLIN, now=datetime(2026, 1, 2, 12, 0, tzinfo=BERLIN))
    years = [p.parse_line(LOGIN.format(t)).ts.year for t in
             ("Dec 30 23:59:00", "Dec 31 23:59:59", "Jan  1 00:00:01", "Jan  2 08:00:00")]  # fmt: skip
    assert years == [2025, 2025, 2026, 2026]
    assert p.year_state == (2026, 1)


def test_a_december_line_just_after_new_year_stays_in_the_old_year() -> None:
    p = Parser(BERLIN, year=2025)
    stamps = ("Dec 31 23:59:59", "Jan  1 00:00:01", "Dec 31 23:59:58", "Jan  1 00:00:02")
    assert [p.parse_line(LOGIN.format(t)).ts.year for t in stamps] == [2025, 2026, 2025, 2026]


def test_a_given_year_is_the_first_lines_even_in_the_future() -> None:
    p = Parser(BERLIN, year=2030, now=NOW)
    assert p.parse_line(LOGIN.format("Mar  1 10:00:00")).ts == datetime(2030, 3, 1, 10, tzinfo=BERLIN)


def test_it_resumes_from_a_restored_year_state() -> None:
    p = Parser(BERLIN, now=NOW)
    p.restore_year_state(2019, 12)
    assert p.parse_line(LOGIN.format("Jan  3 10:00:00")).ts.year == 2020
    assert p.year_state == (2020, 1)


def test_it_reads_local_time_in_the_given_zone_with_its_daylight_saving_offset() -> None:
    summer = parse(LOGIN.format("Jul  1 12:00:00"))
    winter = parse(LOGIN.format("Nov  1 12:00:00"))
    assert summer.ts.utcoffset() == timedelta(hours=2)
    assert winter.ts.utcoffset() == timedelta(hours=1)
    assert parse(LOGIN.format("Jul  1 12:00:00"), tz=UTC).ts.utcoffset() == timedelta(0)


def test_iso_timestamps_keep_their_offset_and_take_the_zone_without_one() -> None:
    with_offset = parse(LOGIN.format("2026-07-01T12:00:00.5-04:00"))
    without = parse(LOGIN.format("2026-07-01T12:00:00"))
    assert with_offset.ts == datetime(2026, 7, 1, 12, 0, 0, 500000, tzinfo=timezone(timedelta(hours=-4)))
    assert without.ts == datetime(2026, 7, 1, 12, tzinfo=BERLIN)


# --------------------------------------------------------------------------- 2.4 POP3 rule


def test_after_a_dovecot_24_line_pop3_del_counts_bytes() -> None:
    p = Parser(BERLIN, now=NOW)
    logout = "Nov 27 06:20:00 mx1 dovecot: pop3(bob): Disconnected: Logged out top=0/0, retr=0/0, del=2/4000, size=9000"
    before = p.parse_line(logout)
    assert (before.deleted, before.messages, before.deleted_bytes) == (2, 4000, None)
    p.parse_line(
        "Nov 27 06:21:00 mx1 dovecot: imap-login: Login aborted: Connection closed (no auth attempts in 0 secs) "
        "(no_auth_attempts): user=<>, rip=1.2.3.4, lip=5.6.7.8, session=<x>"
    )
    after = p.parse_line(logout)
    assert (after.deleted, after.messages, after.deleted_bytes, after.size) == (2, None, 4000, 9000)


# ------------------------------------------------------------------------- real Dovecot


def test_every_line_of_the_real_dovecot_captures_reads_cleanly() -> None:
    logs = sorted(REAL_LOGS.glob("*.log"))
    assert logs, "tests/data/dovecot-real/*.log is missing"
    kinds: set[str] = set()
    for log in logs:
        p = Parser(BERLIN, now=NOW)
        for number, line in enumerate(log.read_text(encoding="utf-8").splitlines(), 1):
            result = p.parse_line(line)
            assert type(result) is not Malformed, f"{log.name}:{number}: {result}"
            if " Login: " in line:
                assert type(result) is Event and result.kind == "login", f"{log.name}:{number}"
                rip = line[line.rfind(", rip=") + 6 :].split(",")[0]
                assert result.ip == rip
            if ": expunge: " in line:
                assert type(result) is Event and result.kind == "message_delete", f"{log.name}:{number}"
            if type(result) is Event:
                kinds.add(result.kind)
                assert result.account in line
    assert {"login", "logout", "auth_fail", "message_delete", "flag_delete"} <= kinds


def test_the_fast_paths_answer_as_the_general_path_on_a_generated_day() -> None:
    from ingest.generate import generate_lines
    from tests.test_parse_hostile import general_parse

    fast, general = Parser(BERLIN, now=NOW), Parser(BERLIN, now=NOW)
    general._shortcuts = False
    general.parse_line = lambda line: general_parse(general, line)  # type: ignore[method-assign]
    events = 0
    for line in generate_lines(20_000, days=1, end=NOW, tz=BERLIN, seed=7):
        a, b = fast.parse_line(line), general.parse_line(line)
        assert a == b, line
        assert type(a) is not Malformed, line
        events += type(a) is Event
    assert events > 5_000


def test_a_number_too_long_for_its_column_is_never_cut_short() -> None:
    line = (
        "Nov 27 06:20:00 mx1 dovecot: pop3(bob): Disconnected: Logged out top=0/0, retr=0/0, del=0/1, size="
    )
    assert parse(line + "12").size == 12
    assert parse(line + "1" * 25).size is None
    imap = "Nov 27 06:20:00 mx1 dovecot: imap(a): Disconnected: Logged out in=1 out=" + "2" * 30
    assert parse(imap).bytes_out is None
