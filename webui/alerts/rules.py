"""The three alert rules, as questions about one new event and the account's history.

The event-table questions look only at rows ordered before the event ((ts, id) ≤ the event's),
so that the answer does not depend on when the sender reads it; the alert log's unique key
keeps a second decision on an event read twice out. The new-sign-in rule asks the sender's
memory (models.Seen) instead, which the sender writes in the same transaction as its
checkpoint: an event is read twice only when the checkpoint was lost, and then its own
sighting counts it as seen, so it decides nothing new either.
"""

from __future__ import annotations

import bisect
import ipaddress
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from webui.alerts.models import RULE_FAILED_SIGNINS, RULE_MASS_DELETE, RULE_NEW_SIGNIN, Alert, Seen
from webui.records.models import Event
from webui.records.types import client_text

HISTORY = timedelta(days=90)  # "never seen for this account in the last 90 days"
FAILED_WINDOW = timedelta(hours=1)
SESSION_SPAN = timedelta(days=1)  # how far back a deleting session's login is looked for
_MAX_ID = 2**63 - 1


@dataclass(frozen=True)
class Finding:
    """A rule's verdict on an event: an alert to record (and send, unless rate-limited)."""

    rule: str
    event: Event
    ip: str | None
    client: str
    count: int | None = None


def network_of(ip: str) -> list[str]:
    """The networks a sign-in address stands for, as CIDR strings for `inet <<`.

    IPv4 by /24 and IPv6 by /48: a home router, a phone on a carrier or a campus NAT moves
    the owner's address inside such a block from day to day, so comparing whole addresses
    would call every reconnect "new"; /48 is what a provider delegates to one site (RFC 6177).
    An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is its IPv4 address: both spellings count.
    """
    addr = ipaddress.ip_address(ip)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    if isinstance(addr, ipaddress.IPv4Address):
        v4 = ipaddress.ip_network(f"{addr}/24", strict=False)
        mapped = ipaddress.ip_network(f"::ffff:{v4.network_address}/120")
        return [str(v4), str(mapped)]
    return [str(ipaddress.ip_network(f"{addr}/48", strict=False))]


def client_of(event: Event) -> str:
    """What the client said it is, as the pages write it ("Thunderbird 115.3 · Windows"), or ""."""
    return client_text(event.client_name, event.client_version, event.client_os)


def _exists(sql: str, params: list) -> bool:
    with connection.cursor() as cur:
        cur.execute(f"SELECT EXISTS (SELECT 1 FROM event WHERE {sql})", params)  # noqa: S608 (fixed text)
        return cur.fetchone()[0]


# Sign-ins of the account in [since, before the event); the (account, ts) key serves them.
_LOGINS = "account = %s AND kind = 'login' AND ts >= %s AND (ts, id) < (%s, %s)"


def _logins_before(
    account: str, since: datetime, until: datetime, until_id: int, extra: str = "", extra_params=()
):
    return _exists(_LOGINS + extra, [account, since, until, until_id, *extra_params])


def _seen_network(account: str, ip: str, since: datetime, until: datetime, until_id: int) -> bool:
    nets = network_of(ip)
    return _logins_before(
        account, since, until, until_id, " AND (" + " OR ".join(["ip << %s::cidr"] * len(nets)) + ")", nets
    )


def _seen_client(event: Event, since: datetime, until: datetime, until_id: int) -> bool:
    return _logins_before(
        event.account, since, until, until_id,
        " AND client_name = %s AND client_os IS NOT DISTINCT FROM %s", [event.client_name, event.client_os],
    )  # fmt: skip


def client_key(name: str, os: str | None) -> str:
    """A client as one Seen value: its name and OS (None and "" stay apart, as in SQL's IS NOT DISTINCT FROM)."""
    return json.dumps([name, os], ensure_ascii=False)


def seen_keys(ip: str | None, client_name: str | None, client_os: str | None) -> list[tuple[str, str]]:
    """The Seen rows one sign-in teaches: any sign-in, its network, its client (when it said one)."""
    keys = [(Seen.SIGNIN, "")]
    if ip is not None:
        keys.append((Seen.NETWORK, network_of(ip)[0]))
    if client_name:
        keys.append((Seen.CLIENT, client_key(client_name, client_os)))
    return keys


def remember(account: str, latest: dict[tuple[str, str], datetime]) -> None:
    """Upsert the account's Seen rows: one statement, last_seen only ever moves forward."""
    if not latest:
        return
    rows = [(account, kind, value, ts) for (kind, value), ts in latest.items()]
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO alerts_seen (account, kind, value, last_seen) VALUES "  # noqa: S608 (fixed text)
            + ", ".join(["(%s, %s, %s, %s)"] * len(rows))
            + " ON CONFLICT (account, kind, value) DO UPDATE "
            "SET last_seen = GREATEST(alerts_seen.last_seen, EXCLUDED.last_seen)",
            [value for row in rows for value in row],
        )


def seed(account: str, through_id: int, old_before: datetime, now: datetime) -> None:
    """Teach the account's Seen rows its sign-ins of the last 90 days that the sender will not read:
    those up to the checkpoint (`through_id`) and those too old for a pass (before `old_before`).
    Once per opt-in (Subscription.seen_seeded): the one aggregate over the account's logins."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT host(ip), client_name, client_os, max(ts) FROM event "
            "WHERE account = %s AND kind = 'login' AND ts >= %s AND ts <= %s AND (id <= %s OR ts < %s) "
            "GROUP BY 1, 2, 3",
            [account, now - HISTORY, now, through_id, old_before],
        )
        latest: dict[tuple[str, str], datetime] = {}
        for ip, name, os, ts in cur.fetchall():
            for key in seen_keys(ip, name, os):
                latest[key] = max(latest.get(key, ts), ts)
    remember(account, latest)


def _signin_history(event: Event, since: datetime) -> tuple[bool, bool, bool, bool]:
    """(any sign-in, one from the event's network, one with a client name, one with its client)
    seen for the account since `since`: four lookups on the Seen key in one statement."""
    network = network_of(event.ip)[0] if event.ip is not None else None
    client = client_key(event.client_name, event.client_os) if event.client_name else None
    exists = "EXISTS (SELECT 1 FROM alerts_seen WHERE account = %s AND kind = %s {} AND last_seen >= %s)"
    with connection.cursor() as cur:
        cur.execute(
            "SELECT " + ", ".join([exists.format(""), exists.format("AND value = %s")] * 2),
            [
                event.account, Seen.SIGNIN, since,
                event.account, Seen.NETWORK, network, since,
                event.account, Seen.CLIENT, since,
                event.account, Seen.CLIENT, client, since,
            ],
        )  # fmt: skip
        return cur.fetchone()


def new_signin(event: Event) -> Finding | None:
    """A sign-in from a network (any protocol) or an IMAP client (name + OS) not seen in 90 days.

    No alert without a baseline: when the account has no sign-in at all in the 90 days before,
    the first one (after opting in, after a long absence, or a fresh mailbox) teaches the
    baseline instead of alerting; likewise the client half waits until some earlier sign-in
    carried a client name (logins read before client names were logged have none).
    POP3 has no IMAP ID: the network half only.

    "Seen" is the sender's memory (models.Seen), which the sender teaches every sign-in of the
    account after deciding it (sender._evaluate): a sign-in read twice, or after a later one
    from the same place, counts that place as seen.
    """
    any_signin, seen_net, client_history, seen_client = _signin_history(event, event.ts - HISTORY)
    if not any_signin:
        return None
    new_net = event.ip is not None and not seen_net
    new_client = event.protocol == "imap" and bool(event.client_name) and client_history and not seen_client
    if new_net or new_client:
        return Finding(RULE_NEW_SIGNIN, event, event.ip, client_of(event))
    return None


def failed_signins(event: Event, memo: dict | None = None) -> Finding | None:
    """More than N failed sign-ins (auth_fail rows) to the account within an hour; once an hour.

    `memo` (one per sender pass) keeps the account's failed sign-ins from an hour before its
    first one in the pass (events come in (ts, id) order): one query per account and pass,
    then each auth_fail row is counted by bisection, not by a count query of its own.
    """
    memo = {} if memo is None else memo
    key = ("failed_signins", event.account)
    fails = memo.get(key)
    if fails is None or (fails and (event.ts, event.id) > fails[-1]):  # (or committed since: read again)
        with connection.cursor() as cur:
            cur.execute(
                "SELECT ts, id FROM event WHERE account = %s AND kind = 'auth_fail' AND ts > %s ORDER BY ts, id",
                [event.account, event.ts - FAILED_WINDOW],
            )
            fails = memo[key] = cur.fetchall()
    count = bisect.bisect_right(fails, (event.ts, event.id)) - bisect.bisect_right(
        fails, (event.ts - FAILED_WINDOW, _MAX_ID)
    )
    limit = settings.MAILTRAIL_ALERT_FAILED_SIGNINS
    if count <= limit:
        return None
    recent = Alert.objects.filter(
        account=event.account,
        rule=RULE_FAILED_SIGNINS,
        event_ts__gt=event.ts - FAILED_WINDOW,
        event_ts__lte=event.ts,
    ).exclude(event_id=event.id)
    if recent.exists():
        return None
    return Finding(RULE_FAILED_SIGNINS, event, event.ip, "", count)


def mass_delete(event: Event, memo: dict | None = None) -> Finding | None:
    """A session that deleted more than N messages, signed in from a client or network first seen that day.

    `memo` (one per sender pass) keeps each session's count and verdict between its deletions,
    which come in bursts: a POP3 client deleting 500 messages costs one count query, not 500.
    """
    if not event.session:
        return None
    memo = {} if memo is None else memo
    key = ("mass_delete", event.account, event.host, event.session)
    if memo.get(key) == "done":
        return None
    limit = settings.MAILTRAIL_ALERT_DELETIONS
    if key in memo:
        count = memo[key] = memo[key] + 1
    else:
        with connection.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM event WHERE account = %s AND kind = 'message_delete' AND host = %s "
                "AND session = %s AND ts >= %s AND (ts, id) <= (%s, %s)",
                [event.account, event.host, event.session, event.ts - SESSION_SPAN, event.ts, event.id],
            )
            count = memo[key] = cur.fetchone()[0]
    if count <= limit:
        return None
    memo[key] = "done"  # decided either way below: one verdict per session
    if Alert.objects.filter(
        account=event.account, rule=RULE_MASS_DELETE, host=event.host, session=event.session
    ).exists():
        return None  # one alert per session
    login = (
        Event.objects.filter(
            account=event.account,
            kind="login",
            host=event.host,
            session=event.session,
            ts__gte=event.ts - SESSION_SPAN,
            ts__lte=event.ts,
        )  # fmt: skip
        .order_by("-ts", "-id")
        .first()
    )
    origin = login or event
    ip = origin.ip or event.ip
    day_start = timezone.localtime(event.ts).replace(hour=0, minute=0, second=0, microsecond=0)
    since = day_start - HISTORY
    # "(ts, id) < (day_start, 0)": everything before the event's day, in the site's zone
    new_net = ip is not None and not _seen_network(event.account, ip, since, day_start, 0)
    new_client = bool(login and login.client_name) and not _seen_client(login, since, day_start, 0)
    if new_net or new_client:
        return Finding(RULE_MASS_DELETE, event, ip, client_of(origin), count)
    return None


RULE_OF_KIND = {
    "login": RULE_NEW_SIGNIN,
    "auth_fail": RULE_FAILED_SIGNINS,
    "message_delete": RULE_MASS_DELETE,
}
CHECKS = {RULE_NEW_SIGNIN: new_signin, RULE_FAILED_SIGNINS: failed_signins, RULE_MASS_DELETE: mass_delete}


def evaluate(event: Event, rules: set[str], memo: dict | None = None) -> Finding | None:
    """The finding of the rule this event's kind answers to, if the owner opted into it."""
    rule = RULE_OF_KIND.get(event.kind)
    if rule is None or rule not in rules:
        return None
    if rule == RULE_NEW_SIGNIN:
        return new_signin(event)
    return CHECKS[rule](event, memo)
