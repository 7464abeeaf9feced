"""A generator of realistic mail logs: stock Dovecot 2.3 syslog lines among postfix noise."""

from __future__ import annotations

import argparse
import base64
import gzip
import ipaddress
import sys
import time
from bisect import bisect_right
from collections.abc import Callable, Iterator
from datetime import datetime, tzinfo
from heapq import heappop, heappush
from pathlib import Path
from random import Random
from typing import TextIO

from ingest.event import (
    AUTH_FAIL,
    COPY,
    FLAG_DELETE,
    LOGIN,
    LOGOUT,
    MAILBOX_DELETE,
    MAILBOX_RENAME,
    MESSAGE_DELETE,
    UNDELETE,
    Event,
)

# What the lines imitate (design.md, "What real Dovecot writes"; corpus/dovecot-formats.md):
# Debian 12, rsyslog's classic file format (`Nov 27 06:14:15 mx1 dovecot: …`, day
# space-padded, `Info: ` dropped), stock Dovecot 2.3.19 with the test fixture's
#   mail_plugins = $mail_plugins notify mail_log   (imap and pop3)
#   mail_log_events = delete undelete expunge copy mailbox_delete mailbox_rename
#   mail_log_fields = uid box msgid size from      (printed as box, uid, msgid, size, from)
# and postfix 3.7 + amavis delivering over LMTP to Dovecot. docs/testing-dovecot.md lists
# what a real 2.3.19 wrote for the same settings; the shapes here follow it.
#
# How it stays fast and streaming: a scenario (one IMAP session, one delivery through
# postfix, one brute-force burst, …) writes all its lines at once into per-second buckets;
# scenarios start in time order, so every second before the newest start is final and is
# flushed. Memory holds only the seconds still open (sessions in progress), never the log.
# The timestamp is formatted once per second, not once per line.

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
PID_MAX = 4_194_304  # Debian 12's kernel.pid_max
LIP4 = "192.0.2.10"
LIP6 = "2001:db8::10"
DOMAINS = ("example.edu", "example.edu", "example.edu", "staff.example.edu", "example.org")
FIRST = (
    "alice bob carol dave erin frank grace heidi ivan judy mallory nina oscar peggy quentin "
    "rupert sybil trent uma victor wendy xavier yara zoe amir bea chen dora emil fatima goran "
    "hana igor jun kofi lena mehmet noor olga pablo rina sven tariq ulla vera wei ximena yusuf"
).split()
LAST = (
    "smith chen garcia muller rossi kim nguyen silva novak ivanova sato khan lopez meyer "
    "dubois kowalski jensen haddad okafor tanaka"
).split()
FOLDERS = ("Archive", "Projects", "Old", "Receipts", "Lists", "Travel", "Archive.2023",
           "Archive.2024", "Projects.Thesis", "Newsletters")  # fmt: skip
SENDER_DOMAINS = ("gmail.com", "outlook.com", "yahoo.com", "gmx.de", "web.de", "uni-x.example",
                  "lists.example.net", "github.com", "mailchimpapp.net", "amazon.com")  # fmt: skip
SENDER_NAMES = ("Jane Doe", "GitHub", "Amazon.com", "Mailing List", "Prof. B. Okafor",
                "Registrar", "Library", "IT Service Desk", "Dr. Müller", "小林 さくら")  # fmt: skip
MX_HOSTS = (
    ("mail-wr1-f54.google.com", "209.85.221.54"),
    ("mail-ed1-f43.google.com", "209.85.208.43"),
    ("mail-db8eur05on2070.outbound.protection.outlook.com", "40.107.20.70"),
    ("sonic302-21.consmr.mail.ir2.yahoo.com", "77.238.176.140"),
    ("mout.gmx.net", "212.227.17.20"),
    ("out-2.smtp.github.com", "192.30.252.193"),
    ("mail180-5.suw21.mandrillapp.com", "198.2.180.5"),
    ("a8-30.smtp-out.amazonses.com", "54.240.8.30"),
)
RELAYS_OUT = (
    ("gmail-smtp-in.l.google.com", "142.250.102.27", "250 2.0.0 OK  {n} a640c23a62f3a-{h}.{k} - gsmtp"),
    ("example-com.mail.protection.outlook.com", "52.101.68.9",
     "250 2.6.0 <{m}> [InternalId={n}, Hostname=AM9P190MB1234.EURP190.PROD.OUTLOOK.COM] Queued mail for delivery"),  # noqa: E501
    ("mx00.emig.gmx.net", "212.227.15.9", "250 Requested mail action okay, completed: id={h}"),
)  # fmt: skip
# Untrusted text that real logs carry raw (design.md): markup, commas, imitated fields, UTF-8.
HOSTILE_MSGIDS = (
    '<<script>alert("x")</script>@evil.example>',
    "<a,b=c, msgid=<fake@x>, size=1, box=INBOX@evil.example>",
    "<überweisung.€.2024@例え.jp>",
    '<"quoted, with comma"@example.net>',
    "<fake>, size=1, from=<x@evil.example>",
    "",  # an empty header logs as `msgid=,`
)
HOSTILE_FOLDERS = ("Old, box=INBOX", "<script>alert(1)</script>", "Übersicht", "收件匣.2024",
                   "a -> b", 'Rechnungen "2024"')  # fmt: skip
HOSTILE_USERS = ("<script>alert(1)</script>", 'admin"', "a>b@example.edu", "müller@example.edu",
                 "o'brien@example.edu", "x, method=PLAIN")  # fmt: skip
HOSTILE_FROMS = ('"Evil, Inc." <ceo@evil.example>', "<script>alert(2)</script> <x@evil.example>",
                 "Jürgen Müller <j@example.de>", "msgid=<fake@x>, size=1 <y@evil.example>")  # fmt: skip
BOT_USERS = ("admin", "test", "info", "support", "root", "office", "sales", "contact", "user",
             "postmaster", "webmaster", "mail", "backup", "guest", "demo")  # fmt: skip
AUTH_FAIL_FORMS = (
    "Disconnected (auth failed, {n} attempts in {s} secs)",
    "Disconnected: Connection closed (auth failed, {n} attempts in {s} secs)",
    "Disconnected: Connection closed (auth failed, {n} attempts in {s} secs)",
    "Disconnected: Inactivity (auth failed, {n} attempts in {s} secs)",
    "Aborted login (auth failed, {n} attempts in {s} secs)",
    "Disconnected: Aborted login by logging out (auth failed, {n} attempts in {s} secs)",
)
IMAP_CLOSED = (
    "Connection closed (IDLE running for 0.001 + waiting input for {w}.{ms:03d} secs, "
    "2 B in + 10 B out, state=wait-input)",
    "Connection closed (UID FETCH finished 0.{ms:03d} secs ago)",
    "Connection closed (LIST finished {w}.{ms:03d} secs ago)",
    "Connection closed (NOOP finished {w}.{ms:03d} secs ago)",
)
# Scenario mix (per 1000 scenarios), tuned so that postfix/amavis noise is about half the lines.
MIX = (("imap", 440), ("pop3", 150), ("delivery", 150), ("outbound", 40), ("reject", 70),
       ("sasl_fail", 35), ("auth_fail", 85), ("burst", 10), ("no_auth", 20))  # fmt: skip
# Relative traffic per local hour of day: quiet nights, busy office hours.
HOURLY = (0.25, 0.2, 0.15, 0.15, 0.2, 0.3, 0.5, 0.9, 1.4, 1.7, 1.8, 1.7,
          1.5, 1.6, 1.7, 1.6, 1.4, 1.1, 0.9, 0.8, 0.7, 0.6, 0.45, 0.35)  # fmt: skip

# The demo's story (story=True; scripts/demo.py). alice@example.edu thinks her mail vanishes:
# her old office PC, still on the campus network, fetches it over POP3 every few minutes and
# deletes it from the server, while her phone reads over IMAP from a mobile network whose
# address changes every few hours; now and then someone abroad tries her password. The story
# is timed by the clock, not by the seed (slot k of STORY_OLD_PC seconds has one poll, at a
# time drawn from k alone), so that the demo's week of log and each few seconds its live writer
# appends tell one story; an episode is written by the call whose period holds its end.
STORY_ACCOUNT = "alice@example.edu"
STORY_OLD_PC_IP = "10.20.3.47"  # campus (the generator's campus is 10.16.0.0/12)
STORY_OLD_PC = 600  # seconds between the old PC's polls
STORY_PHONE = 900  # a slot in which the phone may open a session
STORY_PHONE_IP_HOURS = 3  # the carrier gives the phone another address about this often
STORY_PHONE_IPS = 6  # from this many
STORY_ABROAD = 4 * 3600  # a slot in which a guesser abroad may try
STORY_ABROAD_IPS = ("203.0.113.45", "198.51.100.182", "203.0.113.201", "198.51.100.23")
STORY_PEOPLE_SEED = 20261205  # every story call builds the same accounts, with the same addresses

# What IMAP clients say they are (IMAP ID, logged with `imap_id_log = *`): (share of devices,
# ID fields as the client sends them, True when it sends ID before login). There are no
# published figures for IMAP clients on a campus server: the shares of email-client
# statistics (Litmus's monthly market share: Apple's clients first, then Gmail, Outlook a
# few per cent) are for opened messages, not IMAP connections. So this is an assumption for
# a university mailbox: phones mostly Apple's and Gmail's apps, desktops Thunderbird,
# Outlook and Apple Mail; Outlook sends no ID at all, nor do mutt and fetchmail. Which
# client a device runs is drawn from (account, address) alone, so a device keeps its client
# and the seed's other draws are not moved.
CLIENTS = (
    (30, (("name", "iPhone Mail"), ("version", "21E236"), ("os", "iOS"), ("os-version", "17.4.1 (21E236)")), True),
    (10, (("name", "Mac OS X Mail"), ("version", "16.0 (3731.700.6)"), ("os", "Mac OS X"),
          ("os-version", "13.4 (22F66)"), ("vendor", "Apple Inc.")), True),
    (20, (("name", "Thunderbird"), ("version", "115.3.1")), False),
    (15, None, False),  # Outlook: no ID
    (7, (("name", "K-9 Mail"), ("version", "6.712")), False),
    (8, (("name", "com.google.android.gm"), ("os", "android"), ("os-version", "13; SM-G991B"),
         ("vendor", "Google, Inc.")), True),
    (4, (("name", "Evolution"), ("version", "3.46.4"), ("vendor", "GNOME")), False),
    (6, None, False),  # mutt, fetchmail: no ID
)  # fmt: skip
WEBMAIL_CLIENT = ((("name", "Roundcube"), ("version", "1.6.6"), ("os", "Linux")), True)
STORY_PHONE_CLIENT = CLIENTS[0][1:]  # alice's phone is an iPhone
_CLIENT_CUTS = tuple(sum(c[0] for c in CLIENTS[: i + 1]) for i in range(len(CLIENTS)))

# The kinds of event the generated Dovecot lines stand for (imap has all; pop3 the first four).
EVENT_KINDS = (LOGIN, LOGOUT, AUTH_FAIL, MESSAGE_DELETE, FLAG_DELETE, UNDELETE, COPY,
               MAILBOX_DELETE, MAILBOX_RENAME)  # fmt: skip


def sanitize(value: str, max_bytes: int) -> str:
    """Dovecot's str_sanitize(): longer values are cut to max_bytes, ending in `...`."""
    raw = value.encode()
    if len(raw) <= max_bytes:
        return value
    return raw[: max_bytes - 3].decode("utf-8", "ignore") + "..."


# Events are built before their second is formatted; the time is filled in when it is written.
_UNSET: datetime = None  # type: ignore[assignment]


def _plan(kind: str, k: int, every: int) -> tuple[float, Random]:
    """Episode k of a story thread: its start, and the dice that decide the rest of it."""
    plan = Random(f"{kind}-{k}")  # a str seed is hashed with SHA-512: the same in every process
    return k * every + plan.random() * every * 0.8, plan


class _Session:
    """A logged-in mail process: what its lines repeat and what its events carry."""

    __slots__ = ("host", "proto", "account", "ip", "session", "pid", "prefix", "client")

    def __init__(self, host: str, proto: str, account: str, ip: str, session: str, pid: int):
        self.host, self.proto, self.account = host, proto, account
        self.ip, self.session, self.pid = ip, session, pid
        self.prefix = f"dovecot: {proto}({account})<{pid}><{session}>: "
        self.client: dict[str, str] = {}  # what its IMAP ID said (name, version, os, vendor)

    def event(self, kind: str, **fields: object) -> Event:
        return Event(_UNSET, self.host, self.proto, kind, self.account, self.ip, self.session,
                     self.pid, **fields, **self.client)  # type: ignore[arg-type]  # fmt: skip


class _Account:
    """A mailbox: where its owner connects from, how, and what its INBOX holds."""

    __slots__ = ("name", "ips", "pop3", "webmail", "inbox", "uid_next", "old_uid", "other_uid")

    def __init__(self, name: str, ips: list[str], pop3: bool, webmail: bool, uid: int) -> None:
        self.name = name
        self.ips = ips
        self.pop3 = pop3
        self.webmail = webmail
        self.inbox: list[tuple[int, str, int, str]] = []  # newest last: (uid, msgid, size, from)
        self.uid_next = uid  # mailboxes have a history: uids did not start today
        self.old_uid = uid - 1  # messages from before the log began, taken newest first
        self.other_uid = 1 + uid // 3


class _World:
    """The simulated server: accounts, their mailboxes, pids, and the open seconds."""

    def __init__(self, lines: int, days: float, accounts: int, seed: int, end: datetime | None,
                 host: str, *, truth: bool = False, hostile: bool = True, tz: tzinfo | None = None,
                 auth_verbose: bool = False, story: bool = False) -> None:  # fmt: skip
        if lines < 0 or days <= 0 or accounts < 1:
            raise ValueError("lines must be >= 0, days > 0 and accounts >= 1")
        self.rng = Random(seed)
        self.n = lines
        self.host = host
        self.hostile = hostile
        self.truth = truth
        self.tz = tz
        self.auth_verbose = auth_verbose
        end_ts = (end or datetime.now().astimezone()).timestamp()
        self.end_sec = int(end_ts)
        self.start = end_ts - days * 86400.0
        self._count = [0]
        self.buckets: dict[int, list] = {}
        self._keys: list[int] = []
        self.pid = 1000 + self.rng.randrange(200_000)
        self.qmgr_pid = self._next_pid()
        self.amavis_pids = [self._next_pid() for _ in range(3)]
        self.story = story
        people = Random(STORY_PEOPLE_SEED) if story else self.rng
        self.accounts = [self._account(i, people) for i in range(accounts)]
        self.attackers = [f"198.18.{self.rng.randrange(256)}.{self.rng.randrange(1, 255)}"
                          for _ in range(max(8, accounts // 10))]  # fmt: skip
        self._ipbytes: dict[str, bytes] = {}
        self._build_clock()
        self.put, self.put_many = self._make_put()
        mix = [(getattr(self, "_" + name), w) for name, w in MIX]
        self.scenarios = [f for f, w in mix for _ in range(w)]

    # --- world building -------------------------------------------------------------------

    def _account(self, i: int, r: Random) -> _Account:
        if i < 2:
            name = ("alice", "bob")[i] + "@example.edu"  # the personas of the demo and tests
        else:
            f, rest = FIRST[i % len(FIRST)], i // len(FIRST)
            last = LAST[rest % len(LAST)]
            suffix = str(rest // len(LAST)) if rest >= len(LAST) else ""
            name = f"{f}.{last}{suffix}@{DOMAINS[i % len(DOMAINS)]}"
        ips = []
        for _ in range(1 + int(r.random() * 3)):
            k = r.random()
            if k < 0.15:  # an IPv6 home or campus network
                ips.append(str(ipaddress.IPv6Address((0x20010DB8 << 96) | r.getrandbits(80))))
            elif k < 0.45:  # campus
                ips.append(f"10.{r.randrange(16, 32)}.{r.randrange(256)}.{r.randrange(1, 255)}")
            elif k < 0.65:  # mobile carrier NAT
                ips.append(f"100.{r.randrange(64, 128)}.{r.randrange(256)}.{r.randrange(1, 255)}")
            else:
                ips.append(f"{r.choice(('192.0.2', '198.51.100', '203.0.113'))}.{r.randrange(1, 255)}")
        return _Account(name, ips, r.random() < 0.25, r.random() < 0.3, 2000 + r.randrange(40_000))

    def _build_clock(self) -> None:
        # Cumulative traffic weight at each hour boundary, to place scenario starts.
        self.bounds: list[float] = []
        self.cum: list[float] = []
        t, total = self.start, 0.0
        end = float(self.end_sec) + 0.999
        while t < end:
            nxt = min(end, (int(t) // 3600 + 1) * 3600.0)
            self.bounds.append(t)
            self.cum.append(total)
            total += (nxt - t) * HOURLY[self._local(int(t)).tm_hour]
            t = nxt
        self.bounds.append(end)
        self.cum.append(total)
        self.total_weight = total

    def _local(self, sec: int) -> time.struct_time:
        if self.tz is None:
            return time.localtime(sec)
        return datetime.fromtimestamp(sec, self.tz).timetuple()

    def _time_at(self, fraction: float) -> float:
        x = min(fraction, 1.0) * self.total_weight
        i = bisect_right(self.cum, x) - 1
        if i >= len(self.cum) - 1:
            return self.bounds[-1]
        lo, hi = self.cum[i], self.cum[i + 1]
        return self.bounds[i] + (self.bounds[i + 1] - self.bounds[i]) * (x - lo) / (hi - lo)

    def _next_pid(self) -> int:
        self.pid += 1 + int(self.rng.random() * 6)
        if self.pid >= PID_MAX:
            self.pid = 300 + self.pid % PID_MAX
        return self.pid

    def _session_id(self, t: float, ip: str) -> str:
        # login-common: base64(48-bit µs timestamp LE, 16-bit remote port LE, IP bytes)
        raw = self._ipbytes.get(ip)
        if raw is None:
            raw = self._ipbytes[ip] = ipaddress.ip_address(ip).packed
        stamp = int(t * 1e6) & 0xFFFFFFFFFFFF
        port = 1024 + int(self.rng.random() * 64511)
        return base64.b64encode(stamp.to_bytes(6, "little") + port.to_bytes(2, "little") + raw).decode()

    def _pick_account(self) -> _Account:
        # skewed: a few accounts are very busy, most are quiet
        acc = self.accounts
        if self.story and len(acc) > 1:  # alice does only what her story says
            return acc[1 + int((len(acc) - 1) * self.rng.random() ** 2)]
        return acc[int(len(acc) * self.rng.random() ** 2)]

    def _message(self, acct: _Account, inbox: bool = True) -> tuple[int, str, int, str]:
        """A message of the account: the oldest delivered to INBOX, else one from before."""
        if inbox and acct.inbox:
            return acct.inbox.pop(0)
        uid = acct.old_uid
        acct.old_uid = max(1, uid - 1 - int(self.rng.random() * 3))
        return uid, self._msgid(), 2000 + int(self.rng.random() ** 3 * 2_000_000), self._from()

    def _msgid(self) -> str:
        r = self.rng.random
        k = r()
        if self.hostile and k < 0.01:
            return HOSTILE_MSGIDS[int(r() * len(HOSTILE_MSGIDS))]
        if k < 0.03:  # Java mailers write IDs long enough to be cut at 80 bytes
            return (f"<{int(r() * 1e9)}.{int(r() * 1e6)}.{int(r() * 1e13)}.JavaMail."
                    f"s{int(r() * 1e6)}@s{int(r() * 1e6)}nj3cu23.uspswy6.savvis.example.net>")  # fmt: skip
        n = int(r() * 1e15)
        dom = SENDER_DOMAINS[int(r() * len(SENDER_DOMAINS))]
        if k < 0.5:
            return f"<CA+{n:x}Q{int(r() * 1e9)}@mail.{dom}>"
        return f"<{n:016x}.{int(r() * 1e6)}@{dom}>"

    def _from(self) -> str:
        r = self.rng.random
        if self.hostile and r() < 0.01:
            return HOSTILE_FROMS[int(r() * len(HOSTILE_FROMS))]
        name = SENDER_NAMES[int(r() * len(SENDER_NAMES))]
        dom = SENDER_DOMAINS[int(r() * len(SENDER_DOMAINS))]
        return f"{name} <{name.split()[0].lower().rstrip('.')}@{dom}>"

    def _folder(self) -> str:
        r = self.rng.random
        if self.hostile and r() < 0.05:
            return HOSTILE_FOLDERS[int(r() * len(HOSTILE_FOLDERS))]
        return FOLDERS[int(r() * len(FOLDERS))]

    # --- buckets --------------------------------------------------------------------------

    def _make_put(self) -> tuple[Callable[..., None], Callable[..., None]]:
        """put(t, body, truth=None): file a line under its second. A closure, not a method:
        it runs once per line, and local names are the cheapest lookups Python has."""
        buckets, keys, end_sec, count, truth = self.buckets, self._keys, self.end_sec, self._count, self.truth

        def put(t: float, body: str, event: Event | None = None) -> None:
            sec = int(t)
            if sec > end_sec:
                return  # after the end of the log: the session is still open when it stops
            bucket = buckets.get(sec)
            if bucket is None:
                bucket = buckets[sec] = []
                heappush(keys, sec)
            bucket.append((body, event) if truth else body)
            count[0] += 1

        def put_many(t: float, *bodies: str) -> None:
            """Several lines without events in one second (postfix's bursts)."""
            sec = int(t)
            if sec > end_sec:
                return
            bucket = buckets.get(sec)
            if bucket is None:
                bucket = buckets[sec] = []
                heappush(keys, sec)
            bucket.extend([(body, None) for body in bodies] if truth else bodies)
            count[0] += len(bodies)

        return put, put_many

    @property
    def committed(self) -> int:
        """Lines filed so far (flushed or still in an open second)."""
        return self._count[0]

    def seconds(self) -> Iterator[tuple[int, list]]:
        """(second, bodies) in time order; bodies are str, or (str, Event | None) with truth."""
        r = self.rng.random
        scenarios = self.scenarios
        count = len(scenarios)
        buckets, keys, filed, n = self.buckets, self._keys, self._count, self.n
        episodes = self._story_episodes() if self.story else []
        stalled = 0
        while filed[0] < n:
            before = filed[0]
            t = self._time_at(before / n)
            sec = int(t)
            while episodes and episodes[-1][0] <= t:
                start, write = episodes.pop()
                write(start)
            while keys and keys[0] < sec:
                s = heappop(keys)
                yield s, buckets.pop(s)
            scenarios[int(r() * count)](t)
            stalled = stalled + 1 if filed[0] == before else 0
            if stalled > 10_000:
                break  # nothing fits before the end any more
        while episodes:
            start, write = episodes.pop()
            write(start)
        while keys:
            s = heappop(keys)
            yield s, buckets.pop(s)

    # --- the demo's story -----------------------------------------------------------------

    def _story_episodes(self) -> list[tuple[float, Callable[[float], None]]]:
        """alice's episodes that end in this period, latest first: (start, writer)."""
        alice = next((a for a in self.accounts if a.name == STORY_ACCOUNT), None)
        if alice is None:
            return []
        first, last = self.start, float(self.end_sec)
        found: list[tuple[float, Callable[[float], None]]] = []
        for every, kind, writer in (
            (STORY_OLD_PC, "old-pc", self._story_old_pc),
            (STORY_PHONE, "phone", self._story_phone),
            (STORY_ABROAD, "abroad", self._story_abroad),
        ):
            # an episode lasts at most an hour: look that far back for one that ends here
            for k in range(int((first - 3600) // every), int(last // every) + 1):
                start, plan = _plan(kind, k, every)
                length = writer(start, plan, alice, dry=True)
                if length is not None and first < start + length <= last:
                    found.append(
                        (
                            start,
                            lambda t, w=writer, k=k, kind=kind, every=every: w(
                                t, _plan(kind, k, every)[1], alice
                            ),
                        )
                    )
        found.sort(key=lambda e: e[0], reverse=True)
        return found

    def _story_old_pc(self, t: float, plan: Random, alice: _Account, dry: bool = False) -> float | None:
        """The old PC: POP3 from one campus address, takes every message and deletes it (QUIT)."""
        messages = int(plan.random() ** 2 * 5)  # mostly none or one new message since last time
        length = 0.8 + plan.random() * 2 + messages * 0.4
        if dry:
            return length
        s = self._login(t, "pop3", alice, STORY_OLD_PC_IP)
        end = t + length
        msgs = [self._message(alice) for _ in range(messages)]
        size = sum(m[2] for m in msgs)
        for msg in msgs:
            self._mail_log(end, s, MESSAGE_DELETE, "expunge", "INBOX", msg)
        self.put(
            end,
            f"{s.prefix}Disconnected: Logged out top=0/0, retr={messages}/{size}, del={messages}/{messages}, size={size}",
            self.truth
            and s.event(LOGOUT, deleted=messages, messages=messages, size=size, reason="Logged out"),
        )
        return length

    def _story_phone_ip(self, t: float) -> str:
        # the carrier's NAT (100.64.0.0/10) hands out a few addresses again and again: after a
        # week most of them are known, so that a day does not look like an attack
        slot = int(t // (STORY_PHONE_IP_HOURS * 3600))
        r = Random(f"phone-ip-{Random(f'phone-slot-{slot}').randrange(STORY_PHONE_IPS)}")
        return f"100.{64 + r.randrange(64)}.{r.randrange(256)}.{r.randrange(1, 255)}"

    def _story_phone(self, t: float, plan: Random, alice: _Account, dry: bool = False) -> float | None:
        """The phone: a short IMAP session, more often by day; now and then a message to Trash."""
        if plan.random() > 0.35 * HOURLY[self._local(int(t)).tm_hour]:
            return None
        length = 3 + plan.random() ** 3 * 120  # a look at new mail (written when it ends: keep it short)
        tidy = plan.random() < 0.15
        quits = plan.random() < 0.7
        if dry:
            return length
        s = self._login(t, "imap", alice, self._story_phone_ip(t), STORY_PHONE_CLIENT)
        trashed = 0
        if tidy:
            msg = self._message(alice)
            copied = (alice.other_uid, *msg[1:])
            alice.other_uid += 1
            self._mail_log(t + 2, s, COPY, "copy from INBOX", "Trash", copied, source="INBOX")
            self._mail_log(t + 2, s, MESSAGE_DELETE, "expunge", "INBOX", msg)
            trashed = 1
        reason = "Logged out" if quits else "Connection closed"
        self.put(
            t + length,
            f"{s.prefix}Disconnected: {reason} in={120 + trashed * 90} out={900 + int(length) * 40} "
            f"deleted=0 expunged={trashed} trashed={trashed} hdr_count=12 hdr_bytes=10440 body_count=1 "
            f"body_bytes=38000",
            self.truth
            and s.event(
                LOGOUT,
                deleted=0,
                expunged=trashed,
                trashed=trashed,
                bytes_in=120 + trashed * 90,
                bytes_out=900 + int(length) * 40,
                reason=reason,
            ),  # fmt: skip
        )
        return length

    def _story_abroad(self, t: float, plan: Random, alice: _Account, dry: bool = False) -> float | None:
        """Someone abroad tries alice's password a few times."""
        if plan.random() > 0.5:
            return None
        tries = 1 + int(plan.random() * 3)
        ip = STORY_ABROAD_IPS[int(plan.random() * len(STORY_ABROAD_IPS))]
        gaps = [5 + plan.random() * 40 for _ in range(tries)]
        if dry:
            return sum(gaps)
        for gap in gaps:
            t += gap
            self._auth_fail(t, ip, STORY_ACCOUNT, known=True)
        return sum(gaps)

    # --- Dovecot scenarios ----------------------------------------------------------------

    def _client_ip(self, acct: _Account) -> str:
        r = self.rng.random()
        if r < 0.03:  # travelling: somewhere new
            return f"203.0.113.{int(self.rng.random() * 254) + 1}"
        return acct.ips[int(r * len(acct.ips))]

    def _login(self, t: float, proto: str, acct: _Account, ip: str, client: tuple | None = None) -> _Session:
        pid = self._next_pid()
        sess = self._session_id(t - self.rng.random() * 0.5, ip)
        if ip in ("127.0.0.1", "::1"):
            lip, secured = ip, "secured"
        else:
            lip, secured = (LIP6 if ":" in ip else LIP4), "TLS"
        method = "PLAIN" if self.rng.random() < 0.85 else "LOGIN"
        s = _Session(self.host, proto, acct.name, ip, sess, pid)
        fields, before = client if client is not None else self._client_of(proto, acct, ip)
        if fields is not None:
            s.client = {f"client_{k}": v for k, v in fields if k in ("name", "version", "os", "vendor")}
            said = "ID sent: " + ", ".join(f"{k}={v}" for k, v in fields)
            if before:  # imap-login logs it with its elements, before the Login line
                self.put(
                    t,
                    f"dovecot: imap-login: {said}: user=<>, rip={ip}, lip={lip}, {secured}, session=<{sess}>",
                )
        self.put(
            t,
            f"dovecot: {proto}-login: Login: user=<{acct.name}>, method={method}, rip={ip}, "
            f"lip={lip}, mpid={pid}, {secured}, session=<{sess}>",
            self.truth and s.event(LOGIN),
        )
        if fields is not None and not before:  # the imap process logs it, after the Login
            self.put(t + 0.02, f"{s.prefix}{said}")
        return s

    @staticmethod
    def _client_of(proto: str, acct: _Account, ip: str) -> tuple:
        """(ID fields or None, sent before login) of the client on this device (CLIENTS)."""
        if proto != "imap":
            return None, False
        if ip in ("127.0.0.1", "::1"):
            return WEBMAIL_CLIENT
        pick = Random(f"client-{acct.name}-{ip}").randrange(_CLIENT_CUTS[-1])
        return CLIENTS[bisect_right(_CLIENT_CUTS, pick)][1:]

    def _mail_log(self, t: float, s: _Session, kind: str, action: str, box: str,
                  msg: tuple[int, str, int, str], source: str | None = None) -> None:  # fmt: skip
        """One mail_log line: `<action>: box=, uid=, msgid=, size=, from=` as the fixture sets.

        2.3.19 logs size= on delete and undelete too (docs/testing-dovecot.md). A copy's
        event is from `source` (mailbox) into box= (mailbox_to).
        """
        uid, mid, size, frm = msg
        box, mid = sanitize(box, 64), sanitize(mid, 80)
        mailbox, mailbox_to = (box, None) if source is None else (source, box)
        self.put(
            t,
            f"{s.prefix}{action}: box={box}, uid={uid}, msgid={mid}, size={size}, from={sanitize(frm, 80)}",
            self.truth
            and s.event(kind, mailbox=mailbox, mailbox_to=mailbox_to, message_id=mid, uid=uid, size=size),
        )

    def _imap(self, t: float) -> None:
        r = self.rng.random
        acct = self._pick_account()
        if acct.webmail and r() < 0.5:
            ip = "127.0.0.1" if r() < 0.7 else "::1"  # webmail on the same host
            duration = 0.2 + r() * 3
        else:
            ip = self._client_ip(acct)
            duration = 1 + r() * 20 if r() < 0.4 else 30 + r() ** 2 * 3600
        s = self._login(t, "imap", acct, ip)
        deleted = expunged = trashed = 0
        now = t + 0.05 + r() * duration * 0.5
        latest = now  # the session's last mail_log line: its logout comes after it
        k = r()
        if k < 0.16:  # move to Trash: copy, then (with COPY, not MOVE) \Deleted, then expunge
            flag = r() < 0.5
            for _ in range(1 + int(r() ** 3 * 6)):
                msg = self._message(acct)
                copied = (acct.other_uid, *msg[1:])
                acct.other_uid += 1
                # `copy from INBOX: box=Trash, uid=<new uid>`: box= is the destination
                self._mail_log(now, s, COPY, "copy from INBOX", "Trash", copied, source="INBOX")
                if flag:
                    self._mail_log(now, s, FLAG_DELETE, "delete", "INBOX", msg)
                    deleted += 1
                self._mail_log(now, s, MESSAGE_DELETE, "expunge", "INBOX", msg)
                trashed += 1
                expunged += 1
        elif k < 0.28:  # flag \Deleted now, expunge a little later (Outlook, empty Trash)
            box = "INBOX" if r() < 0.6 else ("Trash" if r() < 0.7 else self._folder())
            msgs = [self._message(acct, box == "INBOX") for _ in range(1 + int(r() ** 3 * 10))]
            for msg in msgs:
                self._mail_log(now, s, FLAG_DELETE, "delete", box, msg)
                deleted += 1
            if r() < 0.05:  # changed their mind about one
                latest = now + 2
                self._mail_log(latest, s, UNDELETE, "undelete", box, msgs.pop())
            if r() < 0.9:
                now += 2 + r() * duration * 0.3
                for msg in msgs:
                    self._mail_log(now, s, MESSAGE_DELETE, "expunge", box, msg)
                    expunged += 1
        elif k < 0.295:  # a folder that holds messages logs an expunge for each one first
            box = sanitize(self._folder(), 64)
            for _ in range(int(r() ** 2 * 8)):
                self._mail_log(now, s, MESSAGE_DELETE, "expunge", box, self._message(acct, False))
            self.put(now, f"{s.prefix}Mailbox deleted: {box}",
                     self.truth and s.event(MAILBOX_DELETE, mailbox=box))  # fmt: skip
        elif k < 0.30:
            old, new = sanitize(self._folder(), 64), sanitize(self._folder() + ".Old", 64)
            self.put(now, f"{s.prefix}Mailbox renamed: {old} -> {new}",
                     self.truth and s.event(MAILBOX_RENAME, mailbox=old, mailbox_to=new))  # fmt: skip
        end = max(now, latest, t + duration)
        bytes_in = 80 + int(r() * 400) + 120 * (deleted + trashed)
        hdr = int(r() ** 2 * 60)
        body = int(r() ** 3 * 12)
        bytes_out = 400 + hdr * 900 + body * 40_000 + int(r() * 2000)
        reason = "Logged out"
        if r() >= 0.8:
            closed = IMAP_CLOSED[int(r() * len(IMAP_CLOSED))]
            reason = closed.format(w=int(r() * 1800), ms=int(r() * 1000))
        self.put(
            end,
            f"{s.prefix}Disconnected: {reason} in={bytes_in} out={bytes_out} deleted={deleted} "
            f"expunged={expunged} trashed={trashed} hdr_count={hdr} hdr_bytes={hdr * 870} "
            f"body_count={body} body_bytes={body * 38_000}",
            self.truth
            and s.event(
                LOGOUT,
                deleted=deleted,
                expunged=expunged,
                trashed=trashed,
                bytes_in=bytes_in,
                bytes_out=bytes_out,
                reason=reason.split(" (")[0],
            ),  # fmt: skip
        )

    def _pop3(self, t: float) -> None:
        r = self.rng.random
        acct = self._pick_account()
        if not acct.pop3 and r() < 0.7:
            acct = self._pick_account()  # POP3 is for the accounts that use it, mostly
        s = self._login(t, "pop3", acct, self._client_ip(acct))
        old = int(r() * 5) if r() < 0.3 else 0  # left on the server by an earlier session
        messages = len(acct.inbox) + old
        size = sum(m[2] for m in acct.inbox) + old * 30_000
        end = t + 0.3 + r() ** 2 * 30
        retr = messages if r() < 0.8 else messages // 2
        retr_bytes = sum(m[2] for m in acct.inbox[:retr]) + max(0, retr - len(acct.inbox)) * 30_000
        quit_ = r() < 0.92
        dels = 0
        # DELE is only committed at QUIT: then one expunge line per message, at the logout
        if quit_ and acct.pop3 and r() < 0.7:
            for _ in range(messages):
                self._mail_log(end, s, MESSAGE_DELETE, "expunge", "INBOX", self._message(acct))
            dels = messages
        reason = "Logged out" if quit_ else "Connection closed"
        self.put(
            end,
            f"{s.prefix}Disconnected: {reason} top=0/0, retr={retr}/{retr_bytes}, "
            f"del={dels}/{messages}, size={size}",
            self.truth and s.event(LOGOUT, deleted=dels, messages=messages, size=size, reason=reason),
        )

    def _auth_fail(self, t: float, ip: str | None = None, user: str | None = None,
                   known: bool = False) -> None:  # fmt: skip
        r = self.rng.random
        if ip is None or user is None:
            acct = self._pick_account()
            user = acct.name
            ip = self._client_ip(acct)
            known = True  # a real account that typed a wrong password
            if self.hostile and r() < 0.02:
                user, known = HOSTILE_USERS[int(r() * len(HOSTILE_USERS))], False
        user = user.lower()  # logged after auth_username_format = %Lu, the default
        proto = "imap" if r() < 0.7 else "pop3"
        n = 1 if r() < 0.8 else 2 + int(r() * 3)
        form = AUTH_FAIL_FORMS[int(r() * len(AUTH_FAIL_FORMS))]
        reason = form.format(n=n, s=1 + int(r() * 30))
        sess = self._session_id(t - 2, ip)
        if self.auth_verbose:  # one line per failed check, before the login process gives up
            why = "Password mismatch" if known else "unknown user"
            for _ in range(n):
                self.put(t, f"dovecot: auth: passwd-file({user},{ip},<{sess}>): {why}",
                         self.truth and Event(_UNSET, self.host, "auth", AUTH_FAIL, user, ip, sess,
                                              reason=f"passwd-file: {why}"))  # fmt: skip
                t += 0.5 + r() * 2
        lip = LIP6 if ":" in ip else LIP4
        secured = "TLS" if r() < 0.8 else "TLS: Connection closed"
        method = "PLAIN" if r() < 0.7 else "LOGIN"
        self.put(
            t,
            f"dovecot: {proto}-login: {reason}: user=<{user}>, method={method}, rip={ip}, "
            f"lip={lip}, {secured}, session=<{sess}>",
            self.truth
            and Event(
                _UNSET, self.host, proto, AUTH_FAIL, user, ip, sess, attempts=n, reason="auth failed"
            ),  # fmt: skip
        )

    def _burst(self, t: float) -> None:
        r = self.rng.random
        ip = self.attackers[int(r() * len(self.attackers))]
        dom = DOMAINS[int(r() * len(DOMAINS))]
        for _ in range(3 + int(r() * 15)):
            t += r() * 20
            k = r()
            if k < 0.5:
                user = BOT_USERS[int(r() * len(BOT_USERS))]
            elif k < 0.8:
                user = f"{BOT_USERS[int(r() * len(BOT_USERS))]}@{dom}"
            else:
                user = self._pick_account().name
            self._auth_fail(t, ip, user, known=k >= 0.8)

    def _no_auth(self, t: float) -> None:
        # Scanners and clients that hang up before authenticating: Dovecot lines, no event.
        r = self.rng.random
        ip = self.attackers[int(r() * len(self.attackers))]
        proto = "imap" if r() < 0.6 else "pop3"
        sess = self._session_id(t, ip)
        tail = ("TLS handshaking: SSL_accept() failed: error:0A00006C:SSL routines::bad key share"
                if r() < 0.4 else "TLS")  # fmt: skip
        self.put(
            t,
            f"dovecot: {proto}-login: Disconnected: Connection closed (no auth attempts in "
            f"{int(r() * 10)} secs): user=<>, rip={ip}, lip={LIP4}, {tail}, session=<{sess}>",
        )

    # --- postfix and amavis noise ---------------------------------------------------------

    def _qid(self, t: float) -> str:
        return f"{int(t * 1e6) & 0xFFFFF:05X}{self.rng.randrange(0x100000, 0xFFFFFF):X}"

    def _delivery(self, t: float) -> None:
        r = self.rng.random
        put = self.put
        acct = self._pick_account()
        rcpt = acct.name
        mx, mx_ip = MX_HOSTS[int(r() * len(MX_HOSTS))]
        frm = self._from()
        sender = frm[frm.rfind("<") + 1 : -1] if frm.endswith(">") else "bounce@example.net"
        mid = self._msgid()
        size = 2000 + int(r() ** 3 * 2_000_000)
        smtpd, cleanup, q = self._next_pid(), self._next_pid(), self.qmgr_pid
        q1, q2 = self._qid(t), self._qid(t + 1.2)
        put(t, f"postfix/smtpd[{smtpd}]: connect from {mx}[{mx_ip}]")
        t += 0.3 + r() * 0.5
        put(t, f"postfix/smtpd[{smtpd}]: {q1}: client={mx}[{mx_ip}]")
        t += 0.1 + r() * 0.3
        many = self.put_many
        many(
            t,
            f"postfix/cleanup[{cleanup}]: {q1}: message-id={mid}",
            f"postfix/qmgr[{q}]: {q1}: from=<{sender}>, size={size}, nrcpt=1 (queue active)",
            f"postfix/smtpd[{smtpd}]: disconnect from {mx}[{mx_ip}] ehlo=2 starttls=1 mail=1 "
            "rcpt=1 bdat=1 quit=1 commands=7",
        )
        t += 0.2 + r()
        local = self._next_pid()
        ms = int(300 + r() * 3000)
        amavis = self.amavis_pids[int(r() * 3)]
        many(
            t,
            f"postfix/smtpd[{local}]: connect from localhost[127.0.0.1]",
            f"postfix/smtpd[{local}]: {q2}: client=localhost[127.0.0.1]",
            f"postfix/cleanup[{cleanup}]: {q2}: message-id={mid}",
            f"postfix/smtpd[{local}]: disconnect from localhost[127.0.0.1] ehlo=1 mail=1 "
            "rcpt=1 data=1 quit=1 commands=5",
            f"postfix/qmgr[{q}]: {q2}: from=<{sender}>, size={size + 1200}, nrcpt=1 (queue active)",
            f"amavis[{amavis}]: ({amavis}-{int(r() * 40):02d}) Passed CLEAN {{RelayedInbound}}, "
            f"[{mx_ip}]:{40000 + int(r() * 20000)} [{mx_ip}] <{sender}> -> <{rcpt}>, Queue-ID: {q1}, "
            f"Message-ID: {mid}, mail_id: {self._session_id(t, mx_ip)[:12]}, "
            f"Hits: {r() * 4 - 2:.3f}, size: {size}, queued_as: {q2}, {ms} ms",
            f"postfix/smtp[{self._next_pid()}]: {q1}: to=<{rcpt}>, relay=127.0.0.1[127.0.0.1]:10024, "
            f"delay={ms / 1000 + 1:.1f}, delays=0.6/0/0/{ms / 1000:.1f}, dsn=2.0.0, status=sent "
            f"(250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as {q2})",
            f"postfix/qmgr[{q}]: {q1}: removed",
        )
        t += 0.02 + r() * 0.2
        lmtp = self._next_pid()
        lsess = base64.b64encode(self.rng.randbytes(16)).decode()[:22]
        many(
            t,
            f"dovecot: lmtp({lmtp}): Connect from local",
            f"dovecot: lmtp({rcpt})<{lmtp}><{lsess}>: msgid={sanitize(mid, 80)}: saved mail to INBOX",
            f"postfix/lmtp[{self._next_pid()}]: {q2}: to=<{rcpt}>, "
            f"relay=mx1.example.edu[private/dovecot-lmtp], delay=0.05, delays=0.01/0/0/0.04, "
            f"dsn=2.0.0, status=sent (250 2.0.0 <{rcpt}> {lsess} Saved)",
            f"dovecot: lmtp({lmtp}): Disconnect from local: Client has quit the connection (state=READY)",
            f"postfix/qmgr[{q}]: {q2}: removed",
        )
        acct.inbox.append((acct.uid_next, mid, size + 1200, frm))
        acct.uid_next += 1
        if len(acct.inbox) > 30:
            del acct.inbox[0]

    def _outbound(self, t: float) -> None:
        r = self.rng.random
        put = self.put
        acct = self._pick_account()
        ip = self._client_ip(acct)
        name = f"unknown[{ip}]"
        smtpd, q = self._next_pid(), self.qmgr_pid
        qid = self._qid(t)
        mid = self._msgid()
        size = 800 + int(r() ** 3 * 500_000)
        host, relay_ip, reply = RELAYS_OUT[int(r() * len(RELAYS_OUT))]
        to = f"{FIRST[int(r() * len(FIRST))]}@{SENDER_DOMAINS[int(r() * len(SENDER_DOMAINS))]}"
        put(t, f"postfix/submission/smtpd[{smtpd}]: connect from {name}")
        t += 0.5 + r()
        put(
            t,
            f"postfix/submission/smtpd[{smtpd}]: {qid}: client={name}, sasl_method=PLAIN, "
            f"sasl_username={acct.name}",
        )
        put(t, f"postfix/cleanup[{self._next_pid()}]: {qid}: message-id={mid}")
        put(t, f"postfix/qmgr[{q}]: {qid}: from=<{acct.name}>, size={size}, nrcpt=1 (queue active)")
        put(
            t,
            f"postfix/submission/smtpd[{smtpd}]: disconnect from {name} ehlo=2 starttls=1 "
            "auth=1 mail=1 rcpt=1 data=1 quit=1 commands=8",
        )
        t += 0.3 + r() * 2
        reply = reply.format(n=int(t), h=self._qid(t).lower(), k=int(r() * 1000), m=mid[1:-1])
        put(
            t,
            f"postfix/smtp[{self._next_pid()}]: {qid}: to=<{to}>, relay={host}[{relay_ip}]:25, "
            f"delay={1 + r():.2f}, delays=0.5/0.01/0.3/0.4, dsn=2.0.0, status=sent ({reply})",
        )
        put(t, f"postfix/qmgr[{q}]: {qid}: removed")

    def _reject(self, t: float) -> None:
        r = self.rng.random
        put = self.put
        smtpd = self._next_pid()
        ip = f"198.18.{int(r() * 256)}.{1 + int(r() * 254)}"
        rcpt = self._pick_account().name
        put(t, f"postfix/smtpd[{smtpd}]: connect from unknown[{ip}]")
        t += 0.5 + r()
        put(
            t,
            f"postfix/smtpd[{smtpd}]: NOQUEUE: reject: RCPT from unknown[{ip}]: 554 5.7.1 "
            f"Service unavailable; Client host [{ip}] blocked using zen.spamhaus.org; "
            f"from=<spam{int(r() * 1e6)}@bulk.example.com> to=<{rcpt}> proto=ESMTP helo=<[{ip}]>",
        )
        t += 0.2
        put(
            t,
            f"postfix/smtpd[{smtpd}]: disconnect from unknown[{ip}] ehlo=1 mail=1 rcpt=0/1 "
            "quit=1 commands=3/4",
        )

    def _sasl_fail(self, t: float) -> None:
        # postfix's own auth failure (SMTP AUTH via Dovecot SASL): noise, not a mailbox sign-in
        r = self.rng.random
        put = self.put
        smtpd = self._next_pid()
        ip = self.attackers[int(r() * len(self.attackers))]
        put(t, f"postfix/submission/smtpd[{smtpd}]: connect from unknown[{ip}]")
        t += 1 + r() * 3
        put(
            t,
            f"postfix/submission/smtpd[{smtpd}]: warning: unknown[{ip}]: SASL LOGIN "
            "authentication failed: UGFzc3dvcmQ6",
        )
        t += 0.5
        put(t, f"postfix/submission/smtpd[{smtpd}]: lost connection after AUTH from unknown[{ip}]")
        put(
            t,
            f"postfix/submission/smtpd[{smtpd}]: disconnect from unknown[{ip}] ehlo=1 auth=0/1 commands=1/2",
        )


def _rfc3164_prefix(world: _World, sec: int) -> str:
    tm = world._local(sec)
    return f"{MONTHS[tm.tm_mon - 1]} {tm.tm_mday:2d} {tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d} {world.host} "


def _aware(world: _World, sec: int) -> datetime:
    if world.tz is not None:
        return datetime.fromtimestamp(sec, world.tz)
    return datetime.fromtimestamp(sec).astimezone()


def _blocks(world: _World, style: str) -> Iterator[str]:
    """Text of whole seconds, newline-terminated, cut at exactly `lines` lines."""
    if style not in ("rfc3164", "rfc3339"):
        raise ValueError(f"unknown style {style!r}: rfc3164 or rfc3339")
    left = world.n if not world.story else 1 << 62  # a story's episodes come on top of `lines`
    host = world.host
    for sec, bodies in world.seconds():
        if len(bodies) > left:
            bodies = bodies[:left]
        left -= len(bodies)
        if style == "rfc3164":
            prefix = _rfc3164_prefix(world, sec)
            yield prefix + ("\n" + prefix).join(bodies) + "\n"
        else:
            iso = _aware(world, sec).isoformat()
            head, offset = iso[:19], iso[19:]
            n = len(bodies)
            yield "".join(
                f"{head}.{(i * 1_000_000) // n:06d}{offset} {host} {b}\n" for i, b in enumerate(bodies)
            )
        if left <= 0:
            return


def generate_lines(lines: int, days: float = 1, accounts: int = 200, seed: int = 1,
                   end: datetime | None = None, host: str = "mx1", *, hostile: bool = True,
                   tz: tzinfo | None = None, style: str = "rfc3164",
                   auth_verbose: bool = False, story: bool = False) -> Iterator[str]:  # fmt: skip
    """Yield exactly `lines` log lines (no newline), time-ordered, over `days` days to `end`.

    end defaults to now; timestamps are local time in `tz` (default: the machine's zone).
    hostile: include a small fraction of attacker-written Message-IDs, folders, From and
    user names (markup, commas, imitated fields, UTF-8). style: "rfc3164" (rsyslog's classic
    `Nov 27 06:14:15 mx1 dovecot: …`) or "rfc3339" (`2026-11-27T06:14:15.003010+00:00 mx1 …`).
    auth_verbose: also the auth process's line per failed password check, as Dovecot writes
    with `auth_verbose = yes` (`auth: passwd-file(user,ip,<session>): Password mismatch`).
    story: also the demo's story of alice's old PC, phone and a guesser abroad (STORY_*), on
    top of `lines`; alice does nothing else then, and every account keeps its addresses
    whatever the seed.
    The same arguments (with the same end) always give the same lines.
    """
    world = _World(lines, days, accounts, seed, end, host, hostile=hostile, tz=tz, auth_verbose=auth_verbose,
                   story=story)  # fmt: skip
    for block in _blocks(world, style):
        yield from block[:-1].split("\n")


def generate_events(lines: int, days: float = 1, accounts: int = 200, seed: int = 1,
                    end: datetime | None = None, host: str = "mx1", *, hostile: bool = True,
                    tz: tzinfo | None = None, auth_verbose: bool = False,
                    story: bool = False) -> Iterator[tuple[str, Event | None]]:  # fmt: skip
    """The same lines as generate_lines, each with the event it must become (None: no event).

    The Event is what should land in the database: ip of logout and mail_log events is the ip
    of their session's login (as the correlate stage finds it); reason is "Logged out",
    "Connection closed" or "auth failed"; message_id and mailbox are as logged (after
    Dovecot's cut at 80 and 64 bytes). An auth_verbose line is an auth_fail of protocol
    "auth" with the reason "passwd-file: Password mismatch" (or "…: unknown user").
    """
    world = _World(
        lines, days, accounts, seed, end, host, truth=True, hostile=hostile, tz=tz, auth_verbose=auth_verbose,
        story=story,
    )  # fmt: skip
    left = lines if not story else 1 << 62
    for sec, bodies in world.seconds():
        prefix = _rfc3164_prefix(world, sec)
        ts = _aware(world, sec)
        for body, truth in bodies:
            if left <= 0:
                return
            left -= 1
            yield prefix + body, (truth._replace(ts=ts) if truth is not None else None)


def write_log(path: str | Path | TextIO, lines: int, days: float = 1, accounts: int = 200,
              seed: int = 1, end: datetime | None = None, host: str = "mx1", *,
              hostile: bool = True, tz: tzinfo | None = None, style: str = "rfc3164",
              auth_verbose: bool = False, story: bool = False) -> int:  # fmt: skip
    """Write generate_lines(…) to path ('-' = stdout, a .gz name is gzip-compressed).

    Returns the number of lines written. Text is written in blocks of about a megabyte.
    """
    world = _World(lines, days, accounts, seed, end, host, hostile=hostile, tz=tz, auth_verbose=auth_verbose,
                   story=story)  # fmt: skip
    if not isinstance(path, (str, Path)):
        return _write(path, world, style)
    if str(path) == "-":
        return _write(sys.stdout, world, style)
    path = Path(path)
    if path.suffix == ".gz":
        with gzip.open(path, "wt", encoding="utf-8", newline="") as out:
            return _write(out, world, style)  # type: ignore[arg-type]
    with open(path, "w", encoding="utf-8", newline="") as out:
        return _write(out, world, style)


def _write(out: TextIO, world: _World, style: str) -> int:
    chunk: list[str] = []
    size = 0
    for block in _blocks(world, style):
        chunk.append(block)
        size += len(block)
        if size > 1 << 20:
            out.write("".join(chunk))
            chunk.clear()
            size = 0
    out.write("".join(chunk))
    out.flush()
    return world.committed if world.story else min(world.n, world.committed)


def generate_command(args: argparse.Namespace) -> int:
    """`python -m ingest generate`: write a log of --lines lines over --days days ending now."""
    if args.lines < 0 or args.days <= 0 or args.accounts < 1:
        print("ingest generate: --lines must be >= 0, --days > 0, --accounts >= 1", file=sys.stderr)
        return 2
    try:
        write_log(args.output, args.lines, args.days, args.accounts, args.seed)
    except BrokenPipeError:  # `… generate | head`
        return 0
    return 0
