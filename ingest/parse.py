"""The pure parser: one Dovecot log line in, one Event (or Malformed, or None) out; no I/O."""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime, tzinfo
from itertools import compress

from ingest.event import (
    AUTH_FAIL,
    CLIENT_ID,
    COPY,
    FLAG_DELETE,
    LOGIN,
    LOGOUT,
    MAILBOX_CREATE,
    MAILBOX_DELETE,
    MAILBOX_RENAME,
    MESSAGE_DELETE,
    SAVE,
    UNDELETE,
    Event,
    Malformed,
)
from ingest.speedups import fastparse as _fastparse
from ingest.timestamps import Clock, tai64n

# How a line is read (docs/parser.md has the list of shapes and what is skipped):
#   wrapper   the syslog/journald/rsyslog head or Dovecot's own log_path head → time, host
#   service   `imap-login: ` (login process), `imap(user)<pid><session>: ` (mail process),
#             `auth…: ` (auth process) → protocol, account, pid, session
#   message   one small function per shape: login, failed login, logout, mail_log, auth check
# Every value inside a message may be written by an attacker (user names on failed logins,
# Message-IDs, From, folder names), and Dovecot writes them raw. So fields are found from the
# structure Dovecot writes *around* them — the known element order, read from the right where
# that is unambiguous — never by "up to the next `>` or `,`".

# --------------------------------------------------------------------------- wrappers
_STAMP = (
    r"(?:([^\W\d_]{3,5}\.?) {1,2}(\d{1,2}) (\d\d:\d\d:\d\d)"  # Nov 27 06:14:15, Nov  7, févr. 25
    r"|(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:?\d\d)?))"  # ISO 8601
)
# `<stamp> <host> <tag>[<pid>]: ` — classic syslog, rsyslog RFC 3339, journald's short view,
# FreeBSD syslogd -v (`<mail.info>` before the host). Dovecot's own log file has no host and
# no tag (`Nov 27 06:11:11 imap-login: Info: …`): there the "host" ends in `:` or holds `(`.
_HEAD = re.compile(_STAMP + r" (?:<\w+\.\w+> )?(\S+) ([^\s\[\]:]+)(?:\[\d+\])?: ")
_STAMP_ONLY = re.compile(_STAMP + " ")
# the fast path's check of a line it takes to be Dovecot's (noise is turned away unchecked)
_SYSLOG_STAMP = re.compile(r"[^\W\d_]{3} [ \d]\d \d\d:\d\d:\d\d ")
_ISO_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:?\d\d)? ")
_TAI64N = re.compile(r"@[0-9a-f]{24} ")
# Wrappers put around a whole line by tools (docker compose, grep -H, log viewers, Splunk):
# dropped, and the line read again.
_OUTER = re.compile(
    r"[\w.-]+ *\| "  # docker compose: `dovecot-mailcow_1    | `
    r"|/[^\s:]+:(?=\S)"  # grep -H / zgrep: `/var/log/maillog.9:`
    r"|» \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d\.\d+ "  # a log viewer's received-at column
    r"|\d{1,2}/\d{1,2}/\d{2,4} \d\d?:\d\d:\d\d(?:\.\d+)? [AP]M "  # Splunk's _time column
)

# --------------------------------------------------------------------------- services
_LOGIN_SERVICES = {
    "imap-login": "imap",
    "pop3-login": "pop3",
    "submission-login": "submission",
    "managesieve-login": "sieve",
}
_MAIL_SERVICES = {
    "imap": "imap",
    "pop3": "pop3",
    "IMAP": "imap",  # 1.x: %Us(%u)
    "POP3": "pop3",
    "submission": "submission",
    "managesieve": "sieve",
    "lmtp": "lmtp",
    "doveadm": "doveadm",
}
_AUTH_SERVICES = frozenset(("auth", "auth-worker"))
_LOGOUT_SERVICES = frozenset(("imap", "pop3", "submission", "sieve"))
_NOT_INFO = ("Debug: ", "Warning: ", "Error: ", "Fatal: ", "Panic: ", "Warn: ")
# IMAP ID as Dovecot logs it (`imap_id_log`): `key=value` pairs joined by ", ", in the
# client's order, keys as the client spelled them (at most 30 characters, RFC 2971).
_ID_KEY = re.compile(r"(?:^|, )([A-Za-z][\w.-]{0,29})=")
_ID_FIELDS = {"name": 0, "version": 1, "os": 2, "vendor": 3}
_ID_LIMIT = 80  # Dovecot writes each value through str_sanitize(value, 80)
_ID_TEXT_CACHED = 400  # parse_lines keeps _client_fields of ID texts up to this long…
_ID_CACHE_MAX = 4096  # …this many at most (a client's ID is the same on every connection)
_LEVEL_WORDS = frozenset(("Info", "Debug", "Warning", "Error", "Fatal", "Panic", "Warn"))

# `imap(user)<pid><session>: ` (2.3+), `imap(user): ` (2.2), `IMAP(user): ` (1.x). The user
# is the authenticated one; the first `)` that the prefix structure follows ends it.
_MAIL_PREFIX_END = re.compile(r"\)(?:<(\d{1,9})>)?(?:<([^<>]*)>)?: ")
_SERVICE_PREFIX = re.compile(r"service=([A-Za-z0-9-]+), user=(.*?), ip=\[([0-9A-Fa-f.:]*)\]\. ", re.S)
_AUTH_PREFIX = re.compile(r"(auth(?:-worker)?)(?:\((.*?)\))?((?:<[^<>]*>)*): ", re.S)

# --------------------------------------------------------------------------- messages
_AUTH_FAILED = re.compile(r"\(auth failed, (\d{1,9}) attempts")
_AUTH_FAILED_10 = re.compile(r"\((\d{1,9}) authentication attempts\)")  # 1.0
# Login-process endings that are failed sign-ins besides `auth failed` (docs/parser.md):
_OTHER_FAILURES = ("user disabled", "password expired", "proxy dest auth failed")

# Logout statistics: IMAP `in=… out=… deleted=…`, 1.x/2.0 `bytes=i/o`, POP3 `top=t/p,
# retr=r/b, del=d/m, size=s` and local extras (`bytes=`, `total=`, `in=12, out=43`, `rcvd=`).
_STATS_START = re.compile(r" (?:in|bytes|top|rcvd)=")
# the defaults of 2.3 (imap_logout_format, pop3_logout_format), read in one step
# (a number longer than its column allows matches nothing: `(?!\d)`)
_IMAP_STATS = re.compile(
    r"in=(\d{1,18}) out=(\d{1,18})(?: deleted=(\d{1,9}) expunged=(\d{1,9}) trashed=(\d{1,9}))?"
    r"(?: hdr_count=\d+ hdr_bytes=\d+ body_count=\d+ body_bytes=\d+)?(?!\d)"
)
_POP3_STATS = re.compile(
    r"top=\d{1,18}/\d{1,18}, retr=\d{1,18}/\d{1,18}, del=(\d{1,9})/(\d{1,18}), "
    r"size=(\d{1,18})(?!\d)"
)
_STAT = re.compile(r"(?<![\w])([a-z_]+)=(\d{1,18})(?!\d)(?:/(\d{1,18})(?!\d))?")
_LOGOUT_STARTS = ("Disconnected", "Logged out", "Connection closed", "Server shutting down")
_INT32 = 2_147_483_647

# mail_log 2.0+: `box=…, uid=…, msgid=…, size=…, vsize=…, from=…, subject=…, flags=(…)`, each
# field only when enabled, always in this order. box (cut at 64 bytes), msgid, from and
# subject (80) are raw. The box is read lazily (shortest that lets the rest parse: a
# Message-ID cannot move it); the Message-ID greedily up to its 80-byte cut (longest that
# still leaves a valid tail: a From cannot cut it short), with the tail's first field
# required so that a real `, size=N` is not swallowed; a size is looked for first (2.3.19
# logs it on delete and undelete too: tests/data/dovecot-real). Which reading wins when the
# attacker writes both the Message-ID and the From is undecidable; docs/parser.md says what
# is guaranteed.
_F_HEAD = r"(?:, box=(.{0,64}?))?(?:, uid=(\d{1,18}))?(?:, msgid=(.{0,80}))?"
_F_TAIL = r"(?:, vsize=(?:\d{1,18}|error))?(?:, from=.{0,80}?)?(?:, subject=.{0,80}?)?(?:, flags=\([^()]*\))?"  # noqa: E501
_FIELDS_SIZED = re.compile(_F_HEAD + r", size=(\d{1,18}|error)" + _F_TAIL, re.S)
_FIELDS_TAILED = re.compile(_F_HEAD + r"()(?=, (?:vsize=|from=|subject=|flags=\())" + _F_TAIL, re.S)
_FIELDS_BARE = re.compile(_F_HEAD + r"()", re.S)
# Versions or builds that do not cut the values: the same, unbounded.
_FIELDS_LOOSE = re.compile(
    r"(?:, box=(.*?))?(?:, uid=(\d{1,18}))?(?:, msgid=(.*?))?(?:, size=(\d{1,18}|error))?"
    r"(?:, vsize=(?:\d{1,18}|error))?(?:, from=.*?)?(?:, subject=.*?)?(?:, flags=\([^()]*\))?",
    re.S,
)
# Values without a comma leave one way to split the fields: read them in one cheap step.
_FIELDS_PLAIN = re.compile(
    r"(?:, box=([^,]{0,64}))?(?:, uid=(\d{1,18}))?(?:, msgid=([^,]{0,80}))?"
    r"(?:, size=(\d{1,18}|error))?(?:, vsize=(?:\d{1,18}|error))?(?:, from=[^,]{0,80})?"
    r"(?:, subject=[^,]{0,80})?(?:, flags=\([^(),]*\))?"
)
_FIELD_READINGS = (_FIELDS_PLAIN, _FIELDS_SIZED, _FIELDS_TAILED, _FIELDS_BARE, _FIELDS_LOOSE)
# 1.x: `expunged: uid=…, msgid=…[, box=…]` (box only when not INBOX, so it comes last).
_FIELDS_1X = re.compile(r"uid=(\d{1,18}), msgid=(.*?)(?:, box=(.{0,64}))?", re.S)
_FIELDS_1X_BOX = re.compile(r"uid=(\d{1,18}), msgid=(.*), box=(.{0,64})", re.S)
# event → (kind, reason)
_MAIL_LOG = {
    "expunge": (MESSAGE_DELETE, None),
    "autoexpunge": (MESSAGE_DELETE, "autoexpunge"),
    "delete": (FLAG_DELETE, None),
    "undelete": (UNDELETE, None),
    "save": (SAVE, None),
    "copy": (COPY, None),
}
_MAIL_LOG_1X = {"expunged": MESSAGE_DELETE, "deleted": FLAG_DELETE, "undeleted": UNDELETE}
_MAILBOX_EVENTS = {
    "Mailbox deleted": MAILBOX_DELETE,
    "Mailbox created": MAILBOX_CREATE,
    "Mailbox renamed": MAILBOX_RENAME,
}

# Auth process, one line per failed check (auth_verbose): `passwd-file(user,ip[,<session>]):
# reason`. The user is the client's; the ip is taken at the last `,IP):` so that a user name
# cannot supply it. Only these reasons are failed sign-ins; lookups, debug and errors are not.
_AUTH_WORKER_CONN = re.compile(r"conn \S+ \(pid=\d+,uid=\d+\): auth-worker<\d+>: ")
_AUTH_REQUEST = re.compile(r"request \[\d+\]: ")
_IPISH = r"(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]*:[0-9A-Fa-f:.]*"
_AUTH_CHECK = re.compile(r"([\w-]+)\((.*),(" + _IPISH + r")(?:,<([^<>]*)>)?\): (.*)", re.S)
_AUTH_REASONS = re.compile(
    r"unknown user|password mismatch|pam_authenticate\(\) failed|invalid credentials"
    r"|authentication failure|user not known|password expired|account (?:is )?(?:disabled|expired)",
    re.I,
)
_IPV4 = re.compile(r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}")
_IP_CACHE_MAX = 100_000

_NO_CLIENT = (None,) * 4  # client_name … client_vendor: IMAP ID, joined later
_NO_COUNTERS = (None,) * 18  # the fields after pid, for a login
_new = tuple.__new__  # builds an Event from a full tuple: a third of the cost of Event(…)
# --------------------------------------------------------------------------- shortcuts
# The stock 2.2–2.4 lines, each read by one regex: the same answer as the general path (a
# test compares both on every corpus line and on mutated ones), several times faster. Their
# value patterns are narrow on purpose (no `,` inside values, plain method, address and
# session characters), so that a line has at most one way to match; anything else, hostile
# or unusual, takes the general path. The user is lazy and the tail anchored at the end of
# the line: a user name imitating the elements cannot satisfy the whole tail.
_IPCHARS = r"[0-9A-Fa-f.:]{2,45}"
_LOGIN_TAIL = r">, method=[A-Za-z0-9_-]*, rip=(" + _IPCHARS + r"), lip=[0-9A-Fa-f.:]*"
_FAST_LOGIN = re.compile(
    r"(?:Info: )?Log(?:in|ged in): user=<(.+?)"
    + _LOGIN_TAIL
    + r", mpid=(\d{1,9})(?:, (?:TLS|secured))?(?:, session=<([A-Za-z0-9+/]*)>)?"
)
_FAST_AUTH_FAILED = re.compile(
    r"(?:Info: )?(?:Disconnected|Aborted login|Disconnected: [A-Z][a-z]+(?: [a-z]+)*) "
    r"\(auth failed, (\d{1,9}) attempts in \d{1,9} secs\): user=<(.+?)"
    + _LOGIN_TAIL
    + r"(?:, (?:TLS|secured)(?:: [A-Za-z ]*)?)?(?:, session=<([A-Za-z0-9+/]*)>)?"
)
_FAST_MAIL = re.compile(
    r"\(([^()]*)\)<(\d{1,9})><([A-Za-z0-9+/]*)>: (?:Info: )?(?:"
    r"Disconnected: (Logged out|Connection closed)(?: \([^()]*\))? (?:"
    r"in=(\d{1,18}) out=(\d{1,18}) deleted=(\d{1,9}) expunged=(\d{1,9}) trashed=(\d{1,9})"
    r"(?: hdr_count=\d+ hdr_bytes=\d+ body_count=\d+ body_bytes=\d+)?"
    r"|top=\d{1,18}/\d{1,18}, retr=\d{1,18}/\d{1,18}, del=(\d{1,9})/(\d{1,18}), size=(\d{1,18}))"
    r"|(expunge|delete|undelete|copy from ([^:,]*)): box=([^,]{0,64}), uid=(\d{1,18}), "
    r"msgid=([^,]{0,80})(?:, size=(\d{1,18}|error))?(?:, vsize=(?:\d{1,18}|error))?"
    r"(?:, from=[^,]{0,80})?(?:, subject=[^,]{0,80})?(?:, flags=\([^(),]*\))?)"
)
_GROUPS_PAD = (None,) * 13  # _FAST_MAIL's groups are 13–30 of _BATCH's: _mail_event reads those
_FAST_ACTIONS = {"expunge": MESSAGE_DELETE, "delete": FLAG_DELETE, "undelete": UNDELETE}
_TAIL_AUTH = (None,) * 12  # the fields after pid up to attempts, for an auth_fail

# --------------------------------------------------------------------------- batches
# Parser.parse_lines reads a list of lines with one C call per line (map(_BATCH.match, …)):
# `_BATCH` either reads a whole stock event line of classic syslog (the shortcuts above, with
# the head `parse_line` checks by index before them), or matches nothing on a line that
# `parse_line` turns away for certain (another program's syslog line, lmtp's connection
# lines), or matches empty on anything else, which `parse_line` then reads. Each noise
# pattern is `parse_line`'s own test written as a regex; tests/test_parse_batch.py compares
# both readings on the corpus, the generated mix, the hostile log and generated lines.
_SYSLOG_NOISE = r"(?s:.{9}:..:.. (?!<)[^ (]*[^ (:] (?!dovecot))"
_ISO_NOISE = r"(?s:(?!.{9}:..:.. ).{4}-.{5}T.{8}[^ ]* (?!<)[^ (]*[^ (:] (?!dovecot))"
# the shortcuts' heads: _SYSLOG_STAMP and _ISO_STAMP narrowed to ASCII digits and letters
# (cheaper to match; a line they miss is read by parse_line)
_ASCII_STAMP = r"[A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2}"
_ASCII_ISO = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?(?:Z|[+-][0-9]{2}:?[0-9]{2})?"
)
# lmtp's connection lines, and its `msgid=…: saved mail to …` (what the mail process reads
# after its prefix, _MAIL_PREFIX_END's first match, is no event when it starts with msgid=)
_PREFIX_END = r"\)(?:<\d{1,9}>)?(?:<[^<>]*>)?: "  # _MAIL_PREFIX_END without its groups
_LMTP_NOISE = (
    "(?:" + _ASCII_STAMP + "|" + _ASCII_ISO + r") [^ ]+ dovecot: lmtp\((?:(?:[^:]|:(?! ))*: "
    r"(?:Connect|Disconnect) from |(?s:(?:(?!" + _PREFIX_END + r").)*)(?>" + _PREFIX_END + r")msgid=)"
)
# IMAP ID lines (_client_id_login, _client_id_mail): the ID text is the client's and taken
# whole; Dovecot's elements after an ID before login are its stock ones with `user=<>` (the
# tail holds no `, rip=` nor `: user=<`, so its start is where parse_line's rfind splits).
# (read without backtracking: up to the first `: user=<>, rip=`; a line whose tail is not
# there matches empty). An ID after login is one more branch of _FAST_MAIL's messages.
_B_ID_LOGIN = (
    r"(?:Info: )?ID sent: ((?:[^:]++|:(?! user=<>, rip=))*+): user=<>, rip=(" + _IPCHARS + r"), "
    r"lip=[0-9A-Fa-f.:]*(?:, (?:TLS|secured))?, session=<([A-Za-z0-9+/]*)>"
)
assert _FAST_MAIL.pattern.endswith(")")  # the alternation of its messages, closed last
_B_MAIL = _FAST_MAIL.pattern[:-1] + r"|ID sent: (.*))"
# a login process's connection that never tried to sign in (scanners): _login_failed turns
# it away by the `(no auth attempts` before the first `: user=<`, with no `(auth failed, ` there
_NOT_FAILED = r"(?:(?!: user=<|\(auth failed, )(?s:.))"
_NO_AUTH_NOISE = (
    "(?:" + _ASCII_STAMP + "|" + _ASCII_ISO + r") [^ ]+ dovecot: (?:imap|pop3|submission|managesieve)-login: "
    r"(?:Info: )?(?:Disconnected|Aborted login)"
    + _NOT_FAILED
    + r"*?\(no auth attempts"
    + _NOT_FAILED
    + "*: user=<"
)
_BATCH = re.compile(
    r"(?!" + _SYSLOG_NOISE + "|" + _ISO_NOISE + ")(?:"  # most lines: another program's, turned away first
    "(?:(" + _ASCII_STAMP + ")|(" + _ASCII_ISO + r")) ([^ ]+) dovecot: (?:"
    r"(imap|pop3|submission|managesieve)-login: "
    r"(?:" + _FAST_LOGIN.pattern + r"|" + _FAST_AUTH_FAILED.pattern + r")\Z"
    r"|(imap|pop3)" + _B_MAIL + r"\Z"
    r"|(imap|pop3|submission|managesieve)-login: " + _B_ID_LOGIN + r"\Z)"
    r"|(?!" + _LMTP_NOISE + "|" + _NO_AUTH_NOISE + "))"
)
_B_LOGIN_PROTOCOLS = {name[:-6]: proto for name, proto in _LOGIN_SERVICES.items()}  # imap-login

_BAD_TIME = Malformed("timestamp is not a valid date")
_BAD_RIP = Malformed("rip= is not an IP address")
_BAD_NUMBER = Malformed("a counter is out of range")


class Parser:
    """Reads one log line at a time. Keeps only the year inference state between lines."""

    def __init__(
        self,
        tz: tzinfo,
        *,
        year: int | None = None,
        now: datetime | None = None,
        host: str = "",
    ) -> None:
        self.host = host
        self._clock = Clock(tz, year, now)
        self._ips: dict[str, bool] = {}
        self._client_texts: dict[str, tuple] = {}  # an IMAP ID's text → _id_tail's
        # The timestamp of the line being read, turned into a datetime only if it becomes
        # an event: (kind, text) with kind "s" syslog, "i" ISO 8601, "d" a datetime already.
        self._stamp: str = ""
        self._stamp_kind = "s"
        self._stamp_dt: datetime | None = None
        # Seen a line only Dovecot 2.4 writes (`Login aborted:`, `request [N]:`, a literal
        # `%i` of a 2.3 logout format): from then on a POP3 `del=D/B` is deleted bytes.
        self.dovecot24 = False
        self._shortcuts = True  # tests turn the one-regex shortcuts off to compare
        self._yearless = self._clock.yearless
        # parse_lines in C (ingest/_fastparse.pyx) where it is built; tests set it to None
        # to compare it with the regex path below
        self._compiled = None if _fastparse is None else _fastparse.FastParser(self)

    # ------------------------------------------------------------------ public API
    @property
    def tz(self) -> tzinfo:
        """The zone of timestamps that carry no offset."""
        return self._clock.tz

    @property
    def year_state(self) -> tuple[int | None, int | None]:
        return self._clock.year, self._clock.month

    def restore_year_state(self, year: int | None, month: int | None) -> None:
        self._clock.restore(year, month)

    def parse_line(self, line: str) -> Event | Malformed | None:
        """One decoded line without its newline → Event, Malformed(reason) or None (skipped)."""
        # Most lines of a busy log are another program's syslog lines; they are turned away
        # here with a few index checks and no regex. Anything unusual takes the general path
        # (self._line). This is one function on purpose: a call costs as much as a check.
        try:
            if line[15:16] == " " and line[9:10] == ":" and line[12:13] == ":":  # Nov 27 06:14:15
                i = line.find(" ", 16)
                if i > 16:
                    if line.startswith("dovecot", i + 1):
                        if _SYSLOG_STAMP.match(line) is None:
                            return self._line(line, 0)
                        c = line[i + 8 : i + 10]
                        if c == ": ":
                            self._stamp = line[:15]
                            self._stamp_kind = "s"
                            return self._message(line[i + 10 :], line[16:i])
                        if c[:1] == ":" or c[:1] == "[":
                            return self._line(line, 0)
                        return None  # dovecot-postlogin and friends: not Dovecot itself
                    word = line[16:i]
                    if word[0] == "<":
                        return self._line(line, 0)  # FreeBSD's `<mail.info>`
                    if word[-1] == ":" or "(" in word:  # Dovecot's own log file: no host, no tag
                        if _SYSLOG_STAMP.match(line) is None:
                            return self._line(line, 0)
                        self._stamp = line[:15]
                        self._stamp_kind = "s"
                        return self._message(line[16:], self.host)
                    return None  # another program's syslog line
                return self._line(line, 0)
            if line[10:11] == "T" and line[4:5] == "-":  # rsyslog RFC 3339
                j = line.find(" ", 19)
                k = line.find(" ", j + 1)
                if j > 0 and k > j + 1:
                    if line.startswith("dovecot", k + 1):
                        if _ISO_STAMP.match(line) is None:
                            return self._line(line, 0)
                        c = line[k + 8 : k + 10]
                        if c == ": ":
                            self._stamp = line[:j]
                            self._stamp_kind = "i"
                            return self._message(line[k + 10 :], line[j + 1 : k])
                        if c[:1] == ":" or c[:1] == "[":
                            return self._line(line, 0)
                        return None
                    word = line[j + 1 : k]
                    if word[-1] != ":" and "(" not in word and word[0] != "<":
                        return None
            return self._line(line, 0)
        except Exception as exc:  # noqa: BLE001 — never raise on input; the line is kept
            return Malformed(f"parser error: {type(exc).__name__}")

    def parse_lines(self, lines: list[str]) -> list[Event | Malformed | None]:
        """parse_line on each line, in order, with the same answers and the same state after;
        the stock lines and the noise cost one regex call each, made from C."""
        if not self._shortcuts or "parse_line" in self.__dict__:  # tests compare readings
            return list(map(self.parse_line, lines))
        if self._compiled is not None:
            return self._compiled.parse_lines(lines)
        out: list = list(map(_BATCH.match, lines))
        parse = self.parse_line
        ips = self._ips
        valid_ip = self._valid_ip
        clock = self._clock
        cache = clock._cache
        yearless = self._yearless
        iso = clock.iso
        mail_event = self._mail_event
        texts = self._client_texts
        id_tail = self._id_tail
        # groups(): 0 syslog stamp, 1 ISO stamp, 2 host, 3 login service, 4–7 login, 8–11
        # failed login, 12 mail service, 13–30 _FAST_MAIL's, 31 the text of an ID after
        # login, 32–35 an ID before login (service, text, rip, session); none: parse_line
        # reads the line
        for i in compress(range(len(out)), out):
            try:
                g = out[i].groups()
                proto = g[12]
                # An ID's fields are read before its time, as parse_line reads them: an ID
                # that gives no event leaves the year state as it was.
                if proto is not None:  # a mail process: a logout, a mail_log event, an ID
                    if not g[13] or (
                        g[31] is not None and (tail := texts.get(g[31]) or id_tail(g[31])) is None
                    ):
                        out[i] = parse(lines[i])
                        continue
                elif g[3] is not None:  # a login process: a login or a failed one
                    proto = _B_LOGIN_PROTOCOLS[g[3]]
                    rip = g[5] if g[4] is not None else g[10]
                    # (only the user could hold `(auth failed, `: the rest is narrower)
                    if not (ips.get(rip) or valid_ip(rip)) or (g[4] is not None and "(auth failed, " in g[4]):
                        out[i] = parse(lines[i])
                        continue
                elif g[32] is not None:  # an IMAP ID before login
                    proto = _B_LOGIN_PROTOCOLS[g[32]]
                    rip = g[34]
                    if (
                        not (ips.get(rip) or valid_ip(rip))
                        or (tail := texts.get(g[33]) or id_tail(g[33])) is None
                    ):
                        out[i] = parse(lines[i])
                        continue
                else:
                    out[i] = parse(lines[i])
                    continue
                stamp = g[0]
                if stamp is None:
                    ts = iso(g[1])
                elif (hit := cache.get(stamp)) is not None and hit[0] == clock.month:
                    ts = hit[1]
                else:
                    ts = yearless(stamp)
                if ts is None:
                    out[i] = parse(lines[i])
                    continue
                if g[12] is not None:
                    if g[31] is None:
                        out[i] = mail_event(ts, g[2], proto, g)
                    else:
                        event = (ts, g[2], proto, CLIENT_ID, g[13], None, g[15] or None, int(g[14]))
                        out[i] = _new(Event, event + tail)
                elif g[4] is not None:
                    out[i] = _new(
                        Event, (ts, g[2], proto, LOGIN, g[4], rip, g[7] or None, int(g[6])) + _NO_COUNTERS
                    )
                elif g[32] is not None:
                    event = (ts, g[2], proto, CLIENT_ID, "", rip, g[35] or None, None)
                    out[i] = _new(Event, event + tail)
                else:
                    event = (ts, g[2], proto, AUTH_FAIL, g[9], rip, g[11] or None, None)
                    out[i] = _new(Event, event + _TAIL_AUTH + (int(g[8]), "auth failed") + _NO_CLIENT)
            except Exception:  # noqa: BLE001 — parse_line never raises, and says what it found
                out[i] = parse(lines[i])
        return out

    def _id_tail(self, text: str) -> tuple | None:
        """An ID event's fields after pid: no counters, then _client_fields(text), kept for the
        next ID with this text; None when that is no tuple: parse_line reads the line (and
        says what it found)."""
        fields = _client_fields(text)
        if type(fields) is not tuple:
            return None
        tail = _NO_COUNTERS[4:] + fields
        if len(text) <= _ID_TEXT_CACHED:
            if len(self._client_texts) >= _ID_CACHE_MAX:
                self._client_texts.clear()
            self._client_texts[text] = tail
        return tail

    # ------------------------------------------------------------------ wrappers
    def _line(self, line: str, depth: int) -> Event | Malformed | None:
        m = _HEAD.match(line)
        if m is not None:
            if m.group(6) == "dovecot":
                self._set_stamp(m, line)
                return self._message(line[m.end() :], m.group(5))
            word = m.group(5)
            if word[-1] == ":" or "(" in word:  # Dovecot's own log file: no host, no tag
                self._set_stamp(m, line)
                return self._message(line[m.start(5) :], self.host)
            return None  # another program's syslog line
        return self._other_wrapper(line, depth)

    def _set_stamp(self, m: re.Match[str], line: str) -> None:
        if m.start(3) >= 0:
            self._stamp = line[m.start(1) : m.end(3)]
            self._stamp_kind = "s"
        else:
            self._stamp = m.group(4)
            self._stamp_kind = "i"

    def _other_wrapper(self, line: str, depth: int) -> Event | Malformed | None:
        m = _STAMP_ONLY.match(line)
        if m is not None:  # log_path form the head pattern could not split (spaces in names)
            self._set_stamp(m, line)
            return self._message(line[m.end() :], self.host)
        if line.startswith("dovecot: "):  # 1.x log_path: `dovecot: 2011-03-03 18:36:18 Info: …`
            m = _STAMP_ONLY.match(line, 9)
            if m is None:
                return None
            self._set_stamp(m, line)
            return self._message(line[m.end() :], self.host)
        if line.startswith("@"):
            m = _TAI64N.match(line)
            if m is None:
                return None
            self._stamp_dt = tai64n(line[:25])
            self._stamp_kind = "d"
            return self._message(line[m.end() :], self.host)
        if depth < 2:
            m = _OUTER.match(line)
            if m is not None and m.end() < len(line):
                return self._line(line[m.end() :], depth + 1)
        return None

    def _when(self) -> datetime | None:
        kind = self._stamp_kind
        if kind == "s":
            return self._clock.yearless(self._stamp)
        if kind == "i":
            return self._clock.iso(self._stamp)
        return self._stamp_dt

    # ------------------------------------------------------------------ services
    def _message(self, msg: str, host: str) -> Event | Malformed | None:
        i = msg.find(": ")
        if i <= 0:
            return self._service_prefix(msg, host) if msg.startswith("service=") else None
        svc = msg[:i]
        proto = _LOGIN_SERVICES.get(svc)
        if proto is not None:  # a login process
            if self._shortcuts:
                event = self._login_shortcut(proto, msg, i + 2, host)
                if event is not None:
                    return event
            body = msg[i + 2 :]
            if body.startswith("Info: "):
                body = body[6:]
            if body.startswith("Login: "):
                return self._login(proto, body[7:], host)
            if body.startswith("Logged in: "):  # reported for 2.4 (corpus notes, §3)
                return self._login(proto, body[11:], host)
            if body.startswith(("Disconnected", "Aborted login", "Login aborted")):
                return self._login_failed(proto, body, host)
            if body.startswith("ID sent: "):
                return self._client_id_login(proto, body[9:], host)
            return None
        if svc in _LEVEL_WORDS:  # 1.x: `May 31 09:43:57 Info: pop3-login: …`
            if svc != "Info" or msg.startswith("Info: Info: "):
                return None
            return self._message(msg[i + 2 :], host)
        p = msg.find("(", 0, i)
        if p <= 0:
            if svc in _AUTH_SERVICES:
                return self._auth_process(msg, host)
            if svc.startswith("service="):
                return self._service_prefix(msg, host)
            return None
        name = msg[:p]
        proto = _MAIL_SERVICES.get(name)
        if proto is not None:
            if proto == "lmtp" and msg.startswith(("Connect from ", "Disconnect from "), i + 2):
                return None  # lmtp's connection lines, a good part of a busy log
            if self._shortcuts and (proto == "imap" or proto == "pop3"):
                event = self._mail_shortcut(proto, msg, p, host)
                if event is not None:
                    return event
            return self._mail_process(proto, msg, host)
        if name in _AUTH_SERVICES:
            return self._auth_process(msg, host)
        return None

    # ------------------------------------------------------------------ shortcuts
    def _login_shortcut(self, proto: str, msg: str, at: int, host: str) -> Event | None:
        failed = "(auth failed, " in msg
        m = None if failed else _FAST_LOGIN.fullmatch(msg, at)
        if m is not None:
            user, rip, pid, session = m.groups()
            if not self._ips.get(rip):
                return None
            ts = self._yearless(self._stamp) if self._stamp_kind == "s" else self._when()
            if ts is None:
                return None
            event = (ts, host, proto, LOGIN, user, rip, session or None, int(pid))
            return _new(Event, event + _NO_COUNTERS)
        m = _FAST_AUTH_FAILED.fullmatch(msg, at) if failed else None
        if m is not None:
            attempts, user, rip, session = m.groups()
            if not self._ips.get(rip):
                return None
            ts = self._when()
            if ts is None:
                return None
            event = (ts, host, proto, AUTH_FAIL, user, rip, session or None, None)
            return _new(Event, event + _TAIL_AUTH + (int(attempts), "auth failed") + _NO_CLIENT)
        return None

    def _mail_shortcut(self, proto: str, msg: str, p: int, host: str) -> Event | None:
        m = _FAST_MAIL.fullmatch(msg, p)
        if m is None or not m.group(1):
            return None
        ts = self._yearless(self._stamp) if self._stamp_kind == "s" else self._when()
        if ts is None:
            return None
        return self._mail_event(ts, host, proto, _GROUPS_PAD + m.groups())

    def _mail_event(self, ts: datetime, host: str, proto: str, g: tuple) -> Event:
        """The event of the groups of a `_FAST_MAIL` match, at 13–30 of g as in `_BATCH`'s
        (indexed, not unpacked: it runs for a quarter of the lines)."""
        session = g[15] or None
        if g[16] is not None:  # logout
            if g[17] is not None:
                return _new(
                    Event,
                    (ts, host, proto, LOGOUT, g[13], None, session, int(g[14]), int(g[19]), None,
                     None, None, int(g[20]), int(g[21]), int(g[17]), int(g[18]), None, None, None,
                     None, None, g[16], None, None, None, None),
                )  # fmt: skip
            deleted, second = int(g[22]), int(g[23])
            if self.dovecot24 or deleted > second:
                messages, deleted_bytes = None, second
            else:
                messages, deleted_bytes = second, None
            return _new(
                Event,
                (ts, host, proto, LOGOUT, g[13], None, session, int(g[14]), deleted, messages,
                 int(g[24]), deleted_bytes, None, None, None, None, None, None, None, None, None,
                 g[16], None, None, None, None),
            )  # fmt: skip
        size = g[30]
        if g[26] is not None:  # `copy from <source>`: from the source into box=
            kind, mailbox, mailbox_to = COPY, g[26], g[27]
        else:
            kind, mailbox, mailbox_to = _FAST_ACTIONS[g[25]], g[27], None
        return _new(
            Event,
            (ts, host, proto, kind, g[13], None, session, int(g[14]), None, None,
             int(size) if size is not None and size != "error" else None, None, None, None, None,
             None, mailbox, mailbox_to, g[29], int(g[28]), None, None, None, None, None, None),
        )  # fmt: skip

    # ------------------------------------------------------------------ login process
    def _elements(self, elems: str) -> tuple[str, str, str | None, int] | Malformed:
        """`user=<…>, method=…, rip=…, lip=…, mpid=…, TLS, session=<…>` → (user, rip, session,
        where rip= is).

        Only the user name is the client's. It comes first; every element after it is
        Dovecot's, so the real rip is the last `, rip=` and the user ends at the last `>`
        before it: `user=<a>, rip=6.6.6.6>, method=PLAIN, rip=1.2.3.4` is the user
        `a>, rip=6.6.6.6` from 1.2.3.4.
        """
        r = elems.rfind(", rip=")
        if r < 0:
            return Malformed("no rip= in a login line")
        q = elems.rfind(">", 5, r)
        if q < 6:
            return Malformed("user=<…> is not closed")
        user = elems[6:q]
        start = r + 6
        end = elems.find(",", start)
        rip = elems[start:] if end < 0 else elems[start:end]
        sp = rip.find(" ")
        if sp >= 0:
            rip = rip[:sp]
        ok = self._ips.get(rip)
        if not (ok or (ok is None and self._valid_ip(rip))):
            return _BAD_RIP
        session = None
        s = elems.find("session=", q)
        if s >= 0:
            s += 8
            if elems.startswith("<", s):
                e = elems.find(">", s)
                session = elems[s + 1 : e] if e > 0 else None
            else:  # Sonic.net's `session=h6/hvXfOIQBAjhIX, ` without brackets
                e = elems.find(",", s)
                session = elems[s:] if e < 0 else elems[s:e]
        return user, rip, session or None, r

    def _login(self, proto: str, elems: str, host: str) -> Event | Malformed | None:
        if not elems.startswith("user=<"):
            return Malformed("login line without user=<…>")
        got = self._elements(elems)
        if type(got) is Malformed:
            return got
        user, rip, session, r = got  # type: ignore[misc]
        if not user:
            return Malformed("login line with an empty user")
        pid = None
        mp = elems.find(", mpid=", r)
        if mp >= 0:
            e = elems.find(",", mp + 7)
            digits = elems[mp + 7 :] if e < 0 else elems[mp + 7 : e]
            if digits.isdigit() and digits.isascii() and len(digits) <= 9:
                pid = int(digits)
        ts = self._when()
        if ts is None:
            return _BAD_TIME
        return _new(Event, (ts, host, proto, LOGIN, user, rip, session, pid) + _NO_COUNTERS)

    def _login_failed(self, proto: str, body: str, host: str) -> Event | Malformed | None:
        h = body.find(": user=<")
        if h < 0:
            return None  # no user element (1.x rip-only lines): nobody to attribute it to
        head = body[:h]
        if head.startswith("Login aborted"):
            self.dovecot24 = True
        attempts = None
        m = _AUTH_FAILED.search(head) if "(auth failed, " in head else None
        if m is not None:
            attempts = int(m.group(1))
            reason = "auth failed"
        elif "(no auth attempts" in head:
            return None  # the common case of a connection that never tried: a scanner
        else:
            m = _AUTH_FAILED_10.search(head)
            if m is not None:
                attempts = int(m.group(1))
                reason = "auth failed"
            elif head in ("Aborted login", "Disconnected"):
                # 1.0/1.1 wrote no reason; a user element there means a rejected attempt
                reason = "auth failed"
            else:
                for why in _OTHER_FAILURES:
                    if "(" + why + ")" in head:
                        reason = why
                        break
                else:
                    return None  # no auth attempts, TLS trouble, …: not a failed sign-in
        got = self._elements(body[h + 2 :])
        if type(got) is Malformed:
            return got
        user, rip, session, _ = got  # type: ignore[misc]
        if not user:
            return None  # `user=<>`: nobody to attribute it to
        ts = self._when()
        if ts is None:
            return _BAD_TIME
        return Event(ts, host, proto, AUTH_FAIL, user, rip, session, attempts=attempts, reason=reason)

    def _client_id_login(self, proto: str, text: str, host: str) -> Event | Malformed | None:
        """`ID sent: name=…, os=…: user=<>, rip=…, lip=…, session=<…>` (an ID before login).

        The ID is the client's and may spell a whole trailer (`name=A: user=<>, rip=6.6.6.6,
        … session=<…>`); Dovecot's elements come last, so the real ones start at the last
        `: user=<` before the last `, rip=` (_elements)."""
        r = text.rfind(", rip=")
        h = text.rfind(": user=<", 0, r) if r > 0 else -1
        if h < 0:
            return Malformed("ID line without user=<…>, rip=…")
        got = self._elements(text[h + 2 :])
        if type(got) is Malformed:
            return got
        user, rip, session, _ = got  # type: ignore[misc]
        fields = _client_fields(text[:h])
        if fields is None or type(fields) is Malformed:
            return fields
        ts = self._when()
        if ts is None:
            return _BAD_TIME
        return _new(Event, (ts, host, proto, CLIENT_ID, user, rip, session, None) + _NO_COUNTERS[4:] + fields)

    # ------------------------------------------------------------------ mail process
    def _mail_process(self, proto: str, msg: str, host: str) -> Event | Malformed | None:
        p = msg.find("(")
        m = _MAIL_PREFIX_END.search(msg, p + 1)
        if m is None:
            return None
        account = msg[p + 1 : m.start()]
        pid_text, session = m.group(1, 2)
        pid = int(pid_text) if pid_text else None
        session = session or None
        body = msg[m.end() :]
        if body.startswith("Info: "):
            body = body[6:]
        elif body.startswith(_NOT_INFO):
            return None
        if body.startswith("session="):  # Sonic.net: mail_log_prefix `%s(%u): session=%{session} `
            sp = body.find(" ")
            if sp < 0:
                return None
            session = body[8:sp] or None
            body = body[sp + 1 :]
        if pid is None and " " in account:  # a `%s(%u %p)` prefix: `pop3(user 9238): `
            name, _, number = account.rpartition(" ")
            if name and number.isascii() and number.isdigit() and len(number) <= 9:
                account, pid = name, int(number)
        return self._mail_body(proto, account, pid, session, body, host)

    def _service_prefix(self, msg: str, host: str) -> Event | Malformed | None:
        """Virtualmin's mail_log_prefix `service=%s, user=%u, ip=[%r]. `: the ip is in it."""
        m = _SERVICE_PREFIX.match(msg)
        if m is None:
            return None
        service, account, ip = m.groups()
        proto = _MAIL_SERVICES.get(service)
        if proto is None:
            return None
        body = msg[m.end() :]
        if body.startswith("Info: "):
            body = body[6:]
        elif body.startswith(_NOT_INFO):
            return None
        event = self._mail_body(proto, account, None, None, body, host)
        if type(event) is Event and ip and self._valid_ip(ip):
            event = event._replace(ip=ip)
        return event

    def _mail_body(
        self,
        proto: str,
        account: str,
        pid: int | None,
        session: str | None,
        body: str,
        host: str,
    ) -> Event | Malformed | None:
        """The message after a mail process prefix: a logout or a mail_log event."""
        if not account:
            return None  # lmtp() before the recipient is known
        if body.startswith(_LOGOUT_STARTS):
            if proto not in _LOGOUT_SERVICES:
                return None
            return self._logout(proto, account, pid, session, body, host)
        if body.startswith("ID sent: "):
            return self._client_id_mail(proto, account, pid, session, body[9:], host)
        j = body.find(": ")
        if j <= 0:
            return None
        action = body[:j]
        spec = _MAIL_LOG.get(action)
        if spec is not None:
            kind, reason = spec
            return self._mail_log(proto, account, pid, session, host, kind, reason, body[j + 2 :], None)
        if action.startswith("copy from "):
            return self._copy_from(proto, account, pid, session, host, body)
        kind = _MAILBOX_EVENTS.get(action)
        if kind is not None:
            return self._mailbox(proto, account, pid, session, host, kind, body[j + 2 :])
        kind = _MAIL_LOG_1X.get(action)
        if kind is not None:
            return self._mail_log_1x(proto, account, pid, session, host, kind, body[j + 2 :], None)
        if action.startswith("copy -> "):  # 1.x: `copy -> Trash: uid=…, msgid=…[, box=…]`
            k = body.find(": uid=")
            if k < 0:
                return None
            return self._mail_log_1x(proto, account, pid, session, host, COPY, body[k + 2 :], body[8:k])
        return None

    def _client_id_mail(
        self, proto: str, account: str, pid: int | None, session: str | None, text: str, host: str
    ) -> Event | Malformed | None:
        """`imap(user)<pid><session>: ID sent: name=…, version=…` (an ID after login): the
        prefix is Dovecot's, everything after `ID sent: ` the client's."""
        fields = _client_fields(text)
        if fields is None or type(fields) is Malformed:
            return fields
        ts = self._when()
        if ts is None:
            return _BAD_TIME
        return _new(
            Event, (ts, host, proto, CLIENT_ID, account, None, session, pid) + _NO_COUNTERS[4:] + fields
        )

    def _logout(
        self,
        proto: str,
        account: str,
        pid: int | None,
        session: str | None,
        body: str,
        host: str,
    ) -> Event | Malformed | None:
        m = _STATS_START.search(body)
        if m is None:
            head, stats = body, ""
        else:
            head, stats = body[: m.start()], body[m.start() + 1 :]
        if head.startswith("Disconnected: "):
            head = head[14:]
        p = head.find(" (")
        reason = head if p < 0 else head[:p]
        deleted = messages = size = deleted_bytes = expunged = trashed = None
        bytes_in = bytes_out = None
        if stats:
            m = _IMAP_STATS.match(stats) if stats[0] == "i" else _POP3_STATS.match(stats)
            if m is None:
                rest = stats
            elif stats[0] == "i":
                bytes_in, bytes_out = int(m.group(1)), int(m.group(2))
                if m.group(3) is not None:
                    deleted, expunged, trashed = int(m.group(3)), int(m.group(4)), int(m.group(5))
                rest = stats[m.end() :]
            else:
                deleted, second, size = int(m.group(1)), int(m.group(2)), int(m.group(3))
                # up to 2.3 del=D/M is D of M messages; 2.4's default writes deleted
                # bytes there. D > M can only be bytes (docs/parser.md).
                if self.dovecot24 or deleted > second or second > _INT32:
                    deleted_bytes = second
                else:
                    messages = second
                rest = stats[m.end() :]
            if rest:
                got = self._other_stats(rest)
                if type(got) is Malformed:
                    return got
                if got:
                    bytes_in = got.get("in", bytes_in)
                    bytes_out = got.get("out", bytes_out)
                    deleted = got.get("deleted", deleted)
                    expunged = got.get("expunged", expunged)
                    trashed = got.get("trashed", trashed)
                    size = got.get("size", size)
                    if "del" in got:
                        deleted, second = got["del"]
                        if self.dovecot24 or deleted > second or second > _INT32:
                            deleted_bytes, messages = second, None
                        else:
                            messages, deleted_bytes = second, None
        ts = self._when()
        if ts is None:
            return _BAD_TIME
        return _new(
            Event,
            (ts, host, proto, LOGOUT, account, None, session, pid, deleted, messages, size,
             deleted_bytes, expunged, trashed, bytes_in, bytes_out, None, None, None, None,
             None, reason) + _NO_CLIENT,
        )  # fmt: skip

    def _other_stats(self, stats: str) -> dict | Malformed:
        """Logout statistics in any other layout: `name=N` and `name=A/B` pairs."""
        if "=%" in stats:
            # a 2.3 logout format on 2.4 prints its variables literally (froxlor #1363)
            self.dovecot24 = True
        got: dict = {}
        for name, a, b in _STAT.findall(stats):
            if name == "in" or name == "rcvd":
                got["in"] = int(a)
            elif name == "out" or name == "sent":
                got["out"] = int(a)
            elif name in ("deleted", "expunged", "trashed", "size"):
                got[name] = int(a)
            elif name == "del" and b:
                got["del"] = int(a), int(b)
            elif (name == "bytes" or name == "total") and b:
                got["in"], got["out"] = int(a), int(b)
        for name in ("deleted", "expunged", "trashed"):
            if got.get(name, 0) > _INT32:
                return _BAD_NUMBER
        if "del" in got and got["del"][0] > _INT32:
            return _BAD_NUMBER
        return got

    def _mail_log(
        self,
        proto: str,
        account: str,
        pid: int | None,
        session: str | None,
        host: str,
        kind: str,
        reason: str | None,
        fields: str,
        source_box: str | None,
    ) -> Event | Malformed | None:
        text = ", " + fields
        for pattern in _FIELD_READINGS:
            m = pattern.fullmatch(text)
            if m is not None:
                break
        else:
            return Malformed(f"mail_log {kind} fields not understood")
        box, uid, msgid, size = m.group(1, 2, 3, 4)
        ts = self._when()
        if ts is None:
            return _BAD_TIME
        if source_box is not None:  # copy: the message was copied from source_box into box
            mailbox, mailbox_to = source_box, box
        else:
            mailbox, mailbox_to = box, None
        size = int(size) if size and size != "error" else None
        uid = int(uid) if uid else None
        return _new(
            Event,
            (ts, host, proto, kind, account, None, session, pid, None, None, size, None, None,
             None, None, None, mailbox, mailbox_to, msgid, uid, None, reason) + _NO_CLIENT,
        )  # fmt: skip

    def _copy_from(
        self,
        proto: str,
        account: str,
        pid: int | None,
        session: str | None,
        host: str,
        body: str,
    ) -> Event | Malformed | None:
        # `copy from <source box>: box=<dest>, …`: the source name may hold `: `; the first
        # split after which the fields read is taken.
        start = 10
        j = body.find(": ", start)
        while j >= 0:
            event = self._mail_log(
                proto, account, pid, session, host, COPY, None, body[j + 2 :], body[start:j]
            )
            if type(event) is Event:
                return event
            j = body.find(": ", j + 1)
        return Malformed("mail_log copy fields not understood")

    def _mailbox(
        self,
        proto: str,
        account: str,
        pid: int | None,
        session: str | None,
        host: str,
        kind: str,
        rest: str,
    ) -> Event | Malformed | None:
        mailbox_to = None
        if kind == MAILBOX_RENAME:
            # both names are the owner's and either may hold ` -> `; the first one splits
            old, sep, new = rest.partition(" -> ")
            if not sep:
                return Malformed("Mailbox renamed without ` -> `")
            rest, mailbox_to = old, new
        ts = self._when()
        if ts is None:
            return _BAD_TIME
        return Event(ts, host, proto, kind, account, None, session, pid, mailbox=rest, mailbox_to=mailbox_to)

    def _mail_log_1x(
        self,
        proto: str,
        account: str,
        pid: int | None,
        session: str | None,
        host: str,
        kind: str,
        fields: str,
        copy_to: str | None,
    ) -> Event | Malformed | None:
        m = _FIELDS_1X_BOX.fullmatch(fields) or _FIELDS_1X.fullmatch(fields)
        if m is None:
            return Malformed(f"mail_log {kind} fields not understood")
        uid, msgid, box = m.group(1, 2, 3)
        ts = self._when()
        if ts is None:
            return _BAD_TIME
        return Event(
            ts,
            host,
            proto,
            kind,
            account,
            None,
            session,
            pid,
            mailbox=box or "INBOX",  # 1.x left box= out for INBOX
            mailbox_to=copy_to,
            message_id=msgid,
            uid=int(uid),
        )

    # ------------------------------------------------------------------ auth process
    def _auth_process(self, msg: str, host: str) -> Event | Malformed | None:
        m = _AUTH_PREFIX.match(msg)
        if m is None:
            return None
        inner, brackets = m.group(2), m.group(3)
        rest = msg[m.end() :]
        user = ip = session = None
        if brackets:
            # 2.4: `auth-worker(user,ip)<pid><session>: request [N]: sql: Password mismatch`,
            # `auth(user,ip,sasl:plain)<session>: sql: …` — the request is in the prefix
            self.dovecot24 = True
            for part in brackets[1:-1].split("><"):
                # <pid> is the auth worker's, not a mail process's: not kept
                if not (part.isascii() and part.isdigit()):
                    session = part or None
            who = inner or ""
            k = who.rfind(",sasl:")
            if k >= 0:
                who = who[:k]
            c = who.rfind(",")
            if c >= 0 and self._valid_ip(who[c + 1 :]):
                user, ip = who[:c], who[c + 1 :]
            else:
                user = who
            m2 = _AUTH_REQUEST.match(rest)
            if m2 is not None:
                rest = rest[m2.end() :]
            if rest.startswith("Info: "):
                rest = rest[6:]
            elif rest.startswith(_NOT_INFO):
                return None
            reason = _without_password(rest)
        else:
            # 2.3 workers: `conn unix:auth-worker (pid=…,uid=…): auth-worker<5>: ` before the
            # check, after the level in Dovecot's own file and before it in syslog
            if rest.startswith("Info: "):
                rest = rest[6:]
            elif rest.startswith(_NOT_INFO):
                return None
            m2 = _AUTH_WORKER_CONN.match(rest)
            if m2 is not None:
                rest = rest[m2.end() :]
                if rest.startswith("Info: "):
                    rest = rest[6:]
                elif rest.startswith(_NOT_INFO):
                    return None
            m3 = _AUTH_CHECK.fullmatch(_without_password(rest))
            if m3 is None:
                return None
            driver, user, ip, session, text = m3.groups()
            if not self._valid_ip(ip):
                return None
            reason = driver + ": " + text
        if not user or user == "?" or _AUTH_REASONS.search(reason) is None:
            return None
        ts = self._when()
        if ts is None:
            return _BAD_TIME
        return Event(ts, host, "auth", AUTH_FAIL, user, ip, session, reason=reason)

    # ------------------------------------------------------------------ values
    def _valid_ip(self, text: str) -> bool:
        """An address PostgreSQL's inet takes: IPv4, IPv6, IPv4-mapped (kept as written)."""
        ok = self._ips.get(text)
        if ok is None:
            if _IPV4.fullmatch(text) is not None:
                ok = True
            elif ":" in text and "%" not in text:
                try:
                    ipaddress.IPv6Address(text)
                    ok = True
                except ValueError:
                    ok = False
            else:
                ok = False
            if len(self._ips) >= _IP_CACHE_MAX:
                self._ips.clear()
            self._ips[text] = ok
        return ok


def _client_fields(text: str) -> tuple | Malformed | None:
    """`name=Thunderbird, version=115.3, os=Windows, vendor=Mozilla` → (name, version, os,
    vendor); None when none of them is there.

    Values are written raw: one may hold `, ` or spell another field (`version=1, os=Fake`),
    and nothing tells such a value from two fields. The client writes every one of them, so
    that can only make it lie about itself, which it can do anyway; it cannot reach the
    session, IP or account, which come from Dovecot's structure around the ID. The first
    spelling of a key wins (keys in any case); `NIL` and empty values are absent.
    """
    keys = list(_ID_KEY.finditer(text))
    if not keys or keys[0].start() != 0:
        return Malformed("ID line without key=value") if text else None
    values: list[str | None] = [None, None, None, None]
    seen = 0
    for n, m in enumerate(keys):
        i = _ID_FIELDS.get(m.group(1).lower())
        if i is None or seen & (1 << i):
            continue
        seen |= 1 << i
        value = text[m.end() : keys[n + 1].start() if n + 1 < len(keys) else len(text)]
        if len(value) > _ID_LIMIT:
            return Malformed(f"ID value {m.group(1)}= is {len(value):,} characters, longer than {_ID_LIMIT}")
        if value and value != "NIL":
            values[i] = value
    return tuple(values) if seen else None


def _without_password(text: str) -> str:
    # auth_debug_passwords=yes appends ` (given password: …)`; the password is the client's
    k = text.rfind(" (given password: ")
    return text if k < 0 else text[:k]
