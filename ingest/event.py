"""The records that flow between the pipeline stages: Event (parsed) and its vocabulary."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

# Protocols: the Dovecot service a line came from. "auth" is the auth process's own
# per-check lines (passwd-file(user,ip): Password mismatch), which name no service.
PROTOCOLS = ("pop3", "imap", "submission", "sieve", "lmtp", "doveadm", "auth")

# Kinds. The first five are the contract of the seed page (design.md); the rest are further
# mail_log events kept because they answer "where did my message go?".
LOGIN = "login"
LOGOUT = "logout"
AUTH_FAIL = "auth_fail"
MESSAGE_DELETE = "message_delete"  # mail_log expunge: the message is gone
MAILBOX_DELETE = "mailbox_delete"
MAILBOX_RENAME = "mailbox_rename"
MAILBOX_CREATE = "mailbox_create"
FLAG_DELETE = "flag_delete"  # mail_log delete: \Deleted set, not yet expunged
UNDELETE = "undelete"
COPY = "copy"
SAVE = "save"
# Not a kind of row: what a client said it is (an IMAP ID line). The parser returns it, the
# correlator and the sink fold it into the rows of its session (ingest/clients.py), and it
# is never stored or printed as an event of its own.
CLIENT_ID = "client_id"
KINDS = (
    LOGIN, LOGOUT, AUTH_FAIL, MESSAGE_DELETE, MAILBOX_DELETE,
    MAILBOX_RENAME, MAILBOX_CREATE, FLAG_DELETE, UNDELETE, COPY, SAVE,
)  # fmt: skip


class Event(NamedTuple):
    """One thing that happened to a mailbox, as one log line told it.

    Immutable like a frozen dataclass, but a NamedTuple: building one costs a third as much,
    and the backfill builds a million a second (docs/decisions/0003-event-namedtuple.md).
    Field order is the column order of the COPY into the event table.
    Every text value is untrusted: it is what the log said, byte for byte.
    """

    ts: datetime  # timezone-aware
    host: str  # the mail host ("" when the log does not say)
    protocol: str  # one of PROTOCOLS
    kind: str  # one of KINDS
    account: str  # the mailbox user name as logged
    ip: str | None = None  # remote IP of the session (logout/mail_log: of its login)
    session: str | None = None  # Dovecot session id
    pid: int | None = None  # mail process pid (mpid= of the login, <pid> of the 2.3 prefix)
    deleted: int | None = None  # POP3 logout: messages deleted; IMAP logout: \Deleted set
    messages: int | None = None  # POP3 logout: messages at login
    size: int | None = None  # POP3 logout: mailbox bytes at login; mail_log: message size
    deleted_bytes: int | None = None  # POP3 logout (2.4 del=D/B): bytes deleted
    expunged: int | None = None  # IMAP logout
    trashed: int | None = None  # IMAP logout
    bytes_in: int | None = None
    bytes_out: int | None = None
    mailbox: str | None = None  # folder (mail_log box=, Mailbox deleted: X)
    mailbox_to: str | None = None  # rename target, copy destination
    message_id: str | None = None  # raw Message-ID header value as logged
    uid: int | None = None
    attempts: int | None = None  # auth_fail: attempts in the connection
    reason: str | None = None  # auth_fail reason; logout reason ("Logged out", …)
    # What the client said it is (IMAP ID, logged with imap_id_log): on the login row and
    # on the later rows of its session, joined like the ip.
    client_name: str | None = None
    client_version: str | None = None
    client_os: str | None = None
    client_vendor: str | None = None

    def as_json(self) -> dict[str, object]:
        """The `ingest parse` output object: ts in ISO 8601 with offset, absent values null."""
        out: dict[str, object] = self._asdict()
        out["ts"] = self.ts.isoformat()
        return out


# The longest value each text column may hold, in characters: ONE rule, applied by the
# pipeline (ingest/pipeline.py) to every event before it reaches the database, so that no
# value can exceed an index entry's limit (a btree entry holds at most 2,704 bytes; four
# UTF-8 bytes a character) or stop a batch. A line with a longer value is not stored as an
# event but kept in bad_line with the reason "account is 4,000 characters, longer than 320":
# no Dovecot writes such values (it cuts a failed login's user name at 80 characters plus
# "..."; mail_log cuts header values at 80), so the line was forged or damaged, and a value
# cut to fit would be stored as if Dovecot had written it. docs/parser.md, "Limits".
MAX_LENGTH = {
    "host": 255,  # a DNS name is at most 253
    "account": 320,  # a mail address: 64 local part + @ + 255 domain
    "ip": 45,  # the longest textual IPv6 address (the parser accepts only valid addresses)
    "session": 255,  # Dovecot writes 16 or 32 base64 characters
    "mailbox": 1_000,  # folder names (IMAP lets a client choose them)
    "mailbox_to": 1_000,
    "message_id": 998,  # RFC 5322's longest line; mail_log writes at most 80 + "..."
    "reason": 1_000,
    # RFC 2971 allows 1,024 octets, but Dovecot (2.2–2.4, imap_id_log) writes each value
    # through str_sanitize(value, 80): at most 80 bytes, "..." included (seen on 2.3.19,
    # tests/data/dovecot-real/dovecot-2.3.19-imap-id.log)
    "client_name": 80,
    "client_version": 80,
    "client_os": 80,
    "client_vendor": 80,
}
CLIENT_FIELDS = ("client_name", "client_version", "client_os", "client_vendor")
# A line no longer than this cannot hold a value over its limit (ip aside: see above), so
# most lines skip the check. The client fields are left out: the parser checks an ID line's
# values itself (they reach other rows only through the correlator and the sink).
SHORTEST_LIMIT = min(n for name, n in MAX_LENGTH.items() if name != "ip" and name not in CLIENT_FIELDS)
_LIMITS = tuple((Event._fields.index(name), name, n) for name, n in MAX_LENGTH.items())


def over_limit(event: Event) -> str | None:
    """Why an event's values cannot be stored (the first one over its MAX_LENGTH), or None."""
    for i, name, limit in _LIMITS:
        value = event[i]
        if value is not None and len(value) > limit:
            return f"{name} is {len(value):,} characters, longer than {limit:,}"
    return None


class Malformed(NamedTuple):
    """A line that looked like Dovecot but could not be read; kept for review, never dropped."""

    reason: str
