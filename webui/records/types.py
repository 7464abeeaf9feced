"""The record types of the day view: each a (protocol, kind) pair with a label and a colour class."""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from operator import or_

from django.db.models import Q
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


@dataclass(frozen=True)
class RecordType:
    """One entry of the legend. protocol None matches every protocol of the kind."""

    key: str  # stable: CSS class suffix, ?hide= value, CSV column
    label: str
    kind: str
    protocol: str | None = None
    colour: str = "#666666"  # records.css repeats it (a test compares them): no inline style under the CSP

    def q(self) -> Q:
        if self.protocol is None:
            return Q(kind=self.kind)
        return Q(kind=self.kind, protocol=self.protocol)


# The first seven are the seed page's contract (design.md); the rest are further mail_log
# kinds that answer "where did my message go?". Wildcard (protocol None) kinds never share a
# kind with an exact type, so a row matches at most one type; OTHER takes what none match
# (a submission login, an lmtp save, a doveadm expunge…).
TYPES: tuple[RecordType, ...] = (
    # The seven: Okabe and Ito's colour-blind-safe set, one hue each (a test keeps them apart
    # under simulated deuteranopia and protanopia); POP3 logout, the seed's central case, is orange.
    RecordType("pop3-login", _("POP3 login"), "login", "pop3", "#009E73"),
    RecordType("pop3-logout", _("POP3 logout"), "logout", "pop3", "#E69F00"),
    RecordType("auth-fail", _("Auth failure"), "auth_fail", None, "#D55E00"),
    RecordType("imap-login", _("IMAP login"), "login", "imap", "#0072B2"),
    RecordType("imap-logout", _("IMAP logout"), "logout", "imap", "#56B4E9"),
    RecordType("imap-mailbox-delete", _("IMAP delete mailbox"), "mailbox_delete", "imap", "#CC79A7"),
    RecordType("imap-message-delete", _("IMAP delete message"), "message_delete", "imap", "#F0E442"),
    # The rest are shades of the type they belong with.
    RecordType("pop3-message-delete", _("POP3 delete message"), "message_delete", "pop3", "#A86F00"),
    RecordType("flag-delete", _("Marked for deletion"), "flag_delete", None, "#B8AC1C"),
    RecordType("undelete", _("Deletion mark removed"), "undelete", None, "#F7F0A0"),
    RecordType("copy", _("Copied or moved"), "copy", None, "#A9D8F2"),
    RecordType("save", _("Message saved"), "save", None, "#1B4F7A"),
    RecordType("mailbox-create", _("Mailbox created"), "mailbox_create", None, "#E8BCD6"),
    RecordType("mailbox-rename", _("Mailbox renamed"), "mailbox_rename", None, "#8E4A73"),
)
OTHER = RecordType("other", pgettext_lazy("record type", "Other"), "", None, "#666666")
ALL_TYPES: tuple[RecordType, ...] = (*TYPES, OTHER)
BY_KEY: dict[str, RecordType] = {t.key: t for t in ALL_TYPES}

_EXACT = {(t.protocol, t.kind): t for t in TYPES if t.protocol is not None}
_WILDCARD = {t.kind: t for t in TYPES if t.protocol is None}
assert not set(_WILDCARD) & {kind for _p, kind in _EXACT}, "a wildcard kind shadows an exact type"


def type_of(protocol: str, kind: str) -> RecordType:
    return _EXACT.get((protocol, kind)) or _WILDCARD.get(kind) or OTHER


def _known_q() -> Q:
    return reduce(or_, (t.q() for t in TYPES))


def shown_q(hidden: frozenset[str]) -> Q | None:
    """The filter that keeps every type not in `hidden`; None when nothing is hidden."""
    hidden = hidden & set(BY_KEY)
    if not hidden:
        return None
    qs = [t.q() for t in TYPES if t.key not in hidden]
    if OTHER.key not in hidden:
        qs.append(~_known_q())
    if not qs:
        return Q(pk__in=[])  # everything hidden
    return reduce(or_, qs)


def megabytes(size: int) -> str:
    return f"{size / 1_048_576:.2f}"


# The labels of `describe`, made once: a lazy string is a new object per call otherwise, and
# the row renderer caches each label's translation by identity.
_DELETED, _MESSAGES, _MB_BEFORE, _MB_DELETED = (
    _("deleted"),
    _("messages before"),
    _("MB before deletion"),
    _("MB deleted"),
)
_EXPUNGED, _TRASHED, _TO, _SIZE = _("expunged"), _("trashed"), _("to"), _("size")
_ATTEMPTS, _REASON = _("attempts"), _("reason")
_CLIENT, POP3_CLIENT = _("client"), _("POP3 client")
_REASON_AS_LOGGED = _("reason (as the mail server logged it)")

# Dovecot's reasons (a logout's, a failed sign-in's, an auth check's) as an owner reads them.
# A reason not listed is shown as it was logged, under a label that says so.
REASONS = {
    "Logged out": _("signed out"),
    "Connection closed": _("connection closed"),
    "Disconnected": _("disconnected"),
    "Inactivity": _("idle for too long"),
    "Aborted login": _("sign-in abandoned"),
    "auth failed": _("wrong account or password"),
    "autoexpunge": _("expired automatically"),
    "user disabled": _("account disabled"),
    "password expired": _("password expired"),
    "proxy dest auth failed": _("refused by the mail server behind the proxy"),
    "Server shutting down": _("mail server shutting down"),
    "Disconnected by server": _("disconnected by the mail server"),
    "Disconnected for inactivity": _("idle for too long"),
    "Logged out by the server": _("signed out by the mail server"),
}
_AUTH_CHECKS = {  # `passwd-file: Password mismatch`: the driver, then what it found
    "password mismatch": _("wrong password"),
    "unknown user": _("no such account"),
    "user not known": _("no such account"),
    "invalid credentials": _("wrong password"),
    "authentication failure": _("wrong password"),
    "password expired": _("password expired"),
}


def reason_text(reason: str) -> tuple[str, str]:
    """(label, value) for a logged reason: a translated phrase, or the reason as logged."""
    known = REASONS.get(reason)
    if known is None and ": " in reason:
        known = _AUTH_CHECKS.get(reason.partition(": ")[2].strip().lower())
    if known is not None:
        return _REASON, known
    return _REASON_AS_LOGGED, reason


def client_text(name: str | None, version: str | None, os: str | None, vendor: str | None = None) -> str:
    """What a client said it is, as one line: "Thunderbird 115.3 · Windows" (the vendor only
    when it gave nothing else); "" when it said nothing. Attacker-written: show it escaped."""
    first = " ".join(v for v in (name, version) if v)
    return " · ".join(v for v in (first, os) if v) or vendor or ""


def describe(event) -> list[tuple[str, str]]:
    """The counters and reasons a row shows beside its folder and Message-ID, as (label, value)."""
    out: list[tuple[str, str]] = []
    if event.kind in ("login", "auth_fail"):  # the client: on the sign-in, not on every row
        if event.protocol == "pop3":
            out.append((_CLIENT, POP3_CLIENT))  # POP3 has no ID command
        else:
            said = client_text(event.client_name, event.client_version, event.client_os, event.client_vendor)
            if said:
                out.append((_CLIENT, said))
    if event.kind == "logout" and event.protocol == "pop3":
        if event.deleted is not None:
            out.append((_DELETED, str(event.deleted)))
        if event.messages is not None:
            out.append((_MESSAGES, str(event.messages)))
        if event.size is not None:
            out.append((_MB_BEFORE, megabytes(event.size)))
        if event.deleted_bytes is not None:
            out.append((_MB_DELETED, megabytes(event.deleted_bytes)))
    elif event.kind == "logout":
        for label, value in (
            (_DELETED, event.deleted),
            (_EXPUNGED, event.expunged),
            (_TRASHED, event.trashed),
        ):
            if value is not None:
                out.append((label, str(value)))
    elif event.kind in ("copy", "mailbox_rename") and event.mailbox_to is not None:
        out.append((_TO, event.mailbox_to))
    elif event.kind in ("message_delete", "flag_delete", "undelete", "save") and event.size is not None:
        out.append((_SIZE, filesizeformat(event.size)))
    if event.kind == "auth_fail" and event.attempts is not None:
        out.append((_ATTEMPTS, str(event.attempts)))
    if event.reason:
        out.append(reason_text(event.reason))
    return out
