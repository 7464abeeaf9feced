"""Reads of one account's events: day rows, per-IP summary, sessions, Message-ID search, freshness.

Security invariant, kept here once: every function takes the account as its first argument
and every query it runs is filtered on `account = <that account>`. Callers pass the account
of the signed-in user (webui.accounts.mailbox_account) or, for staff, the account a staff
member chose; no request parameter ever reaches these functions as an account.

Bounds, also kept here: time ranges are half-open [start, end) aware datetimes; every query
has a row limit; pages are keyset on (ts, id), the tail of the primary key (account, ts, id);
and the web's connections carry a statement timeout (MAILTRAIL_WEB_STATEMENT_TIMEOUT_MS, set
for every connection by mailtrail.database.web_options).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from itertools import chain
from typing import NamedTuple

from django.db import connection
from django.db.models import BooleanField, F, Func, Max, Min, Q, TextField, Value
from django.db.models.functions import Right
from django.db.models.lookups import Exact
from django.utils import timezone
from mailtrail.env import ConfigError, env_list

from webui.records.models import Event, Source
from webui.records.types import ALL_TYPES, POP3_CLIENT, RecordType, client_text, describe, shown_q, type_of

PAGE_LIMIT = 500  # rows per page of the day view
EXPORT_LIMIT = 100_000  # rows per CSV export: 31 busy days, far beyond a person's mailbox
SUMMARY_LIMIT = 1_000  # IPs per summary
SESSION_LIMIT = 2_000  # sessions drawn in the timeline
SEARCH_LIMIT = 200  # Message-ID search hits
NEW_IP_LOOKBACK = timedelta(days=30)
MAX_DAYS = 31


# --- time ------------------------------------------------------------------------------


def day_start(day: date) -> datetime:
    """Midnight of `day` in the current time zone (settings.TIME_ZONE), as an aware datetime."""
    return timezone.make_aware(datetime.combine(day, time.min))


def period_bounds(first: date, last: date) -> tuple[datetime, datetime]:
    """The half-open range [first 00:00, last+1 00:00) in the current time zone."""
    return day_start(first), day_start(last + timedelta(days=1))


# --- rows ------------------------------------------------------------------------------


class Cursor(NamedTuple):
    """Where the next page starts: after the row (ts, id); n rows were numbered before it."""

    ts: datetime
    id: int
    n: int

    def encode(self) -> str:
        # whole microseconds since the epoch: a float would round the last digit away, and
        # the next page would then repeat or skip rows
        return f"{(self.ts - _EPOCH) // _MICROSECOND}_{self.id}_{self.n}"

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """Raises ValueError on anything but three well-formed parts."""
        micros, id_, n = text.split("_")
        if len(micros) > 17 or len(id_) > 19 or len(n) > 9:
            raise ValueError("cursor out of range")
        moment, ident, number = int(micros), int(id_), int(n)
        if not 0 <= moment < 10**17 or ident < 0 or number < 0:
            raise ValueError("cursor out of range")
        return cls(_EPOCH + moment * _MICROSECOND, ident, number)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class Row:
    """An event as the table shows it: numbered, typed."""

    number: int
    event: Event
    type: RecordType

    # Formatted here once, not by template filters per row: the table is most of a page's cost.
    @cached_property
    def details(self) -> list[tuple[str, str]]:
        return describe(self.event)

    @cached_property
    def local_ts(self) -> datetime:
        return timezone.localtime(self.event.ts)

    @property
    def iso(self) -> str:
        return self.local_ts.isoformat()

    @property
    def clock(self) -> str:
        return self.local_ts.strftime("%H:%M:%S")

    @property
    def stamp(self) -> str:
        return self.local_ts.strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True)
class Page:
    rows: list[Row]
    next_cursor: Cursor | None


def _events(account: str, start: datetime, end: datetime, hidden: frozenset[str]):
    qs = Event.objects.filter(account=account, ts__gte=start, ts__lt=end)
    keep = shown_q(hidden)
    if keep is not None:
        qs = qs.filter(keep)
    return qs.order_by("ts", "id")


def day_rows(
    account: str,
    start: datetime,
    end: datetime,
    hidden: frozenset[str] = frozenset(),
    after: Cursor | None = None,
    limit: int = PAGE_LIMIT,
) -> Page:
    """One page of `account`'s events in [start, end), oldest first, without the `hidden` types."""
    qs = _events(account, start, end, hidden)
    number = 0
    if after is not None:
        qs = qs.filter(Q(ts__gt=after.ts) | Q(ts=after.ts, id__gt=after.id))
        number = after.n
    events = list(qs[: limit + 1])
    more = len(events) > limit
    events = events[:limit]
    rows = [Row(number + i + 1, e, type_of(e.protocol, e.kind)) for i, e in enumerate(events)]
    cursor = Cursor(events[-1].ts, events[-1].id, number + len(events)) if more else None
    return Page(rows, cursor)


def types_present(account: str, start: datetime, end: datetime) -> list[RecordType]:
    """The record types `account` has in [start, end), in the legend's order (hidden ones too)."""
    pairs = Event.objects.filter(account=account, ts__gte=start, ts__lt=end).values_list("protocol", "kind")
    found = {type_of(p, k) for p, k in pairs.distinct()[:SUMMARY_LIMIT]}
    return [t for t in ALL_TYPES if t in found]


EXPORT_FIELDS = (
    "ts", "protocol", "kind", "ip", "mailbox", "mailbox_to", "message_id", "deleted", "messages", "size",
    "expunged", "trashed", "reason", "host", "session", "client_name", "client_version", "client_os",
    "client_vendor",
)  # fmt: skip


def export_values(
    account: str,
    start: datetime,
    end: datetime,
    hidden: frozenset[str] = frozenset(),
    limit: int = EXPORT_LIMIT,
) -> Iterator[tuple]:
    """The period's events as tuples of EXPORT_FIELDS, oldest first: up to `limit` of them,
    then one more if there are more (the caller says the export stopped). Plain tuples, read
    through a server-side cursor: a model instance per row cost nine-tenths of an export."""
    qs = _events(account, start, end, hidden).values_list(*EXPORT_FIELDS)
    return qs[: limit + 1].iterator(chunk_size=5_000)


# --- freshness -------------------------------------------------------------------------


@dataclass(frozen=True)
class Freshness:
    last_event: datetime | None  # the newest event time the ingester has read, any file
    checked: datetime | None  # when the ingester last recorded progress


def freshness() -> Freshness:
    """How far the ingester has read: "records complete up to …"."""
    agg = Source.objects.aggregate(last=Max("last_event_ts"), checked=Max("updated_at"))
    return Freshness(agg["last"], agg["checked"])


# --- per-IP summary --------------------------------------------------------------------


def campus_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """MAILTRAIL_CAMPUS_NETWORKS: comma-separated CIDRs of the institution's own networks."""
    nets = []
    for part in env_list("MAILTRAIL_CAMPUS_NETWORKS"):
        try:
            nets.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ConfigError(
                f"MAILTRAIL_CAMPUS_NETWORKS must be comma-separated CIDRs such as 140.112.0.0/16, got {part!r}"
            ) from None
    return nets


def on_campus(ip: str, networks: list) -> bool:
    addr = ipaddress.ip_address(ip)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped  # ::ffff:140.112.1.2 is the campus IPv4 address it wraps
    return any(addr.version == net.version and addr in net for net in networks)


@dataclass(frozen=True)
class IpSummary:
    ip: str
    protocols: list[str]
    first_seen: datetime
    last_seen: datetime
    logins: int
    failures: int
    deleted: int
    outside: bool | None  # None: no campus networks configured
    new: bool  # not seen for this account in the 30 days before the period
    clients: list[str] = field(default_factory=list)  # what its clients said they are (types.client_text)


_SUMMARY_COLUMNS = (
    "ip", "first", "last", "logins", "failures", "delete_lines", "logout_deleted", "logout_expunged",
    "protocols", "clients", "seen_before",
)  # fmt: skip
CLIENTS_PER_IP = 5  # a client names itself: one that sends a new name each time fills no page
_SUMMARY_SQL = """
WITH per_ip AS (
    SELECT ip, min(ts) AS first, max(ts) AS last,
           count(*) FILTER (WHERE kind = 'login') AS logins,
           count(*) FILTER (WHERE kind = 'auth_fail') AS failures,
           count(*) FILTER (WHERE kind = 'message_delete') AS delete_lines,
           coalesce(sum(deleted) FILTER (WHERE kind = 'logout' AND protocol = 'pop3'), 0) AS logout_deleted,
           coalesce(sum(expunged) FILTER (WHERE kind = 'logout' AND protocol = 'imap'), 0) AS logout_expunged,
           array_agg(DISTINCT protocol ORDER BY protocol) AS protocols,
           (array_agg(DISTINCT ARRAY[client_name, client_version, client_os, client_vendor])
                FILTER (WHERE kind IN ('login', 'auth_fail') AND protocol <> 'pop3' AND coalesce(
                    client_name, client_version, client_os, client_vendor) IS NOT NULL))[1:%(clients)s] AS clients,
           count(*) AS events
      FROM event
     WHERE account = %(account)s AND ts >= %(start)s AND ts < %(end)s AND ip IS NOT NULL
     GROUP BY ip
     ORDER BY events DESC, ip
     LIMIT %(limit)s
)
SELECT host(ip), first, last, logins, failures, delete_lines, logout_deleted, logout_expunged, protocols,
       clients, EXISTS (SELECT 1 FROM event p
                WHERE p.account = %(account)s AND p.ts >= %(before)s AND p.ts < %(start)s AND p.ip = per_ip.ip)
  FROM per_ip
 ORDER BY events DESC, ip
"""


def ip_summary(account: str, start: datetime, end: datetime) -> list[IpSummary]:
    """One line per IP that touched `account` in [start, end), most active first.

    Messages deleted: a POP3 QUIT logs both `del=D/M` on the logout and one expunge line per
    message (when mail_log is on), and an IMAP logout may count expunges that mail_log also
    logged one by one. Summing both would count each message twice, so per IP the larger of
    the two counts is taken.
    """
    # One statement, in SQL: the ORM spelling of these aggregates cost more to compile than
    # the database takes to run them. Both reads filter on the account (see the top).
    with connection.cursor() as cur:
        cur.execute(_SUMMARY_SQL, {
            "account": account, "start": start, "end": end, "before": start - NEW_IP_LOOKBACK,
            "limit": SUMMARY_LIMIT, "clients": CLIENTS_PER_IP,
        })  # fmt: skip
        per_ip = [dict(zip(_SUMMARY_COLUMNS, row, strict=True)) for row in cur.fetchall()]
    networks = campus_networks()
    return [
        IpSummary(
            ip=r["ip"],
            protocols=r["protocols"],
            first_seen=r["first"],
            last_seen=r["last"],
            logins=r["logins"],
            failures=r["failures"],
            deleted=max(r["delete_lines"], r["logout_deleted"] + r["logout_expunged"]),
            outside=None if not networks else not on_campus(r["ip"], networks),
            new=not r["seen_before"],
            clients=[client_text(*said) for said in r["clients"] or ()]
            + ([str(POP3_CLIENT)] if "pop3" in r["protocols"] else []),
        )
        for r in per_ip
    ]


# --- sessions (the timeline) -----------------------------------------------------------


@dataclass(frozen=True)
class Session:
    ip: str
    protocol: str
    start: datetime
    end: datetime
    failed: bool


def sessions(account: str, start: datetime, end: datetime) -> list[Session]:
    """The period's sessions by IP: a session spans its events; failures are their own marks."""
    base = Event.objects.filter(account=account, ts__gte=start, ts__lt=end, ip__isnull=False)
    grouped = (
        base.exclude(session__isnull=True)
        .exclude(kind="auth_fail")
        .values("ip", "session", "protocol")
        .annotate(first=Min("ts"), last=Max("ts"))
        .order_by("first")[:SESSION_LIMIT]
    )
    out = [Session(r["ip"], r["protocol"], r["first"], r["last"], False) for r in grouped]
    # events without a session id (1.x logs, auth failures) are drawn as instants
    singles = (
        base.filter(Q(session__isnull=True) | Q(kind="auth_fail"))
        .values_list("ip", "protocol", "ts", "kind")
        .order_by("ts")[: max(0, SESSION_LIMIT - len(out))]
    )
    out += [Session(ip, protocol, ts, ts, kind == "auth_fail") for ip, protocol, ts, kind in singles]
    return out


# --- Message-ID search -----------------------------------------------------------------


def message_id_forms(pasted: str) -> tuple[str, str]:
    """(with brackets, without) of a pasted Message-ID, e.g. from a mail client's headers."""
    core = pasted.strip()
    if core.lower().startswith("message-id:"):
        core = core[len("message-id:") :].strip()
    if core.startswith("<"):
        core = core[1:]
    if core.endswith(">"):
        core = core[:-1]
    return f"<{core}>", core


class _StartsWith(Func):
    function = "starts_with"
    output_field = BooleanField()


_NEWEST = ("-ts", "-id")


def cut_short_matches(account: str, full: str, core: str):
    """The account's events whose Message-ID mail_log cut short ("…...") from one of these."""
    logged_head = Func(F("message_id"), Value(-3), function="left", output_field=TextField())
    return (
        Event.objects.filter(account=account)
        .filter(Exact(Right("message_id", 3), "..."))  # the partial index's predicate, spelled alike
        .exclude(message_id="...")
        .filter(Q(_StartsWith(Value(full), logged_head)) | Q(_StartsWith(Value(core), logged_head)))
        .order_by(*_NEWEST)
    )


def search_message_id(account: str, pasted: str, limit: int = SEARCH_LIMIT) -> list[Row]:
    """Every event of `account` (its whole retention window) whose logged Message-ID is `pasted`.

    Dovecot's mail_log cuts header values at 80 characters and appends `...`, so a long
    Message-ID is logged without its end: such a value matches when it (without `...`) is a
    prefix of the pasted one. Two reads, both on the account: exact IDs through the hash
    index on message_id, cut-short ones through the partial index of those (migration 0003).
    """
    full, core = message_id_forms(pasted)
    if core == "":
        return []
    exact = Event.objects.filter(account=account, message_id__in=[full, core]).order_by(*_NEWEST)
    found = {e.id: e for e in chain(exact[:limit], cut_short_matches(account, full, core)[:limit])}
    events = sorted(found.values(), key=lambda e: (e.ts, e.id), reverse=True)[:limit]
    return [Row(i + 1, e, type_of(e.protocol, e.kind)) for i, e in enumerate(events)]
