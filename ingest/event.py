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

    def as_json(self) -> dict[str, object]:
        """The `ingest parse` output object: ts in ISO 8601 with offset, absent values null."""
        out: dict[str, object] = self._asdict()
        out["ts"] = self.ts.isoformat()
        return out


class Malformed(NamedTuple):
    """A line that looked like Dovecot but could not be read; kept for review, never dropped."""

    reason: str
