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

    def q(self) -> Q:
        if self.protocol is None:
            return Q(kind=self.kind)
        return Q(kind=self.kind, protocol=self.protocol)


# The first seven are the seed page's contract (design.md); the rest are further mail_log
# kinds that answer "where did my message go?". Wildcard (protocol None) kinds never share a
# kind with an exact type, so a row matches at most one type; OTHER takes what none match
# (a submission login, an lmtp save, a doveadm expunge…).
TYPES: tuple[RecordType, ...] = (
    RecordType("pop3-login", _("POP3 login"), "login", "pop3"),
    RecordType("pop3-logout", _("POP3 logout"), "logout", "pop3"),
    RecordType("auth-fail", _("auth failure"), "auth_fail"),
    RecordType("imap-login", _("IMAP login"), "login", "imap"),
    RecordType("imap-logout", _("IMAP logout"), "logout", "imap"),
    RecordType("imap-mailbox-delete", _("IMAP delete mailbox"), "mailbox_delete", "imap"),
    RecordType("imap-message-delete", _("IMAP delete message"), "message_delete", "imap"),
    RecordType("pop3-message-delete", _("POP3 delete message"), "message_delete", "pop3"),
    RecordType("flag-delete", _("marked for deletion"), "flag_delete"),
    RecordType("undelete", _("deletion mark removed"), "undelete"),
    RecordType("copy", _("copied or moved"), "copy"),
    RecordType("save", _("message saved"), "save"),
    RecordType("mailbox-create", _("mailbox created"), "mailbox_create"),
    RecordType("mailbox-rename", _("mailbox renamed"), "mailbox_rename"),
)
OTHER = RecordType("other", pgettext_lazy("record type", "other"), "")
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


def describe(event) -> list[tuple[str, str]]:
    """The counters and reasons a row shows beside its folder and Message-ID, as (label, value)."""
    out: list[tuple[str, str]] = []
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
        out.append((_REASON, event.reason))
    return out
