"""The alert sender's two steps: decide (events → alert rows + checkpoint) and send (outbox → SMTP).

Invariant: the checkpoint never passes an event that may still commit.
Event ids come from one sequence, but the ingester's transactions commit out of id order, so
"the largest id I have seen" may have an uncommitted smaller id below it. The checkpoint
therefore advances in two phases. A pass notes a *candidate*: the sequence's last value
(every id handed out so far) and the xmax of its snapshot (every transaction id started so
far). A later pass promotes the candidate once its snapshot's xmin has reached that xmax — all
those transactions have committed or rolled back, so every id up to the candidate is final —
and once MAILTRAIL_ALERT_SETTLE_SECONDS have passed, so that a login's client fields, which the
ingester may fill in a moment after the login row (issue 11), are there when the rule reads
it. Only then are the events (last_id, candidate] evaluated, and the alert rows they produce
are written in the same transaction as last_id: after a crash either both are there or
neither, so an event is decided once. The alert log's unique key (account, rule, event) is the
second guard. The sender's memory of each account's networks and clients (models.Seen,
rules.seed and rules.remember) is written in that same transaction, so it never runs ahead of
or behind the checkpoint. (A writer that took a sequence value but had no transaction id yet when the
candidate was noted is covered by the settle delay: the ingester's COPY writes a row right
after taking its id.)

Sending is an outbox: a row is decided `pending`, committed, then sent, then marked `sent`
right after the SMTP server's 250. A crash between that 250 and the mark leaves it pending,
and the restarted sender sends it again with the *same* Message-ID (chosen at decision time),
so a receiver that dedupes on Message-ID shows it once: SMTP has no exactly-once, this is
at-least-once delivery with at-most-once per Message-ID at a deduplicating receiver.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import get_connection
from django.db import connection, transaction
from django.utils import timezone

from webui.alerts import message, rules
from webui.alerts.models import Alert, Checkpoint, Seen, Subscription
from webui.records.models import Event

log = logging.getLogger("webui.alerts")

CHECKPOINT = "sender"
# Events logged longer ago than this never alert: a backfill of old logs is history, not news.
# It also bounds each pass's read to the newest partition through the ts index.
MAX_EVENT_AGE = timedelta(days=1)
RATE_WINDOW = timedelta(hours=1)
SEND_BATCH = 100
PRUNE_EVERY = timedelta(hours=1)  # how often a sender forgets Seen rows older than the rules look back
_pruned_at = None  # when this process last did (its first pass does)


def _horizon() -> tuple[int, int, int]:
    """(xmin, xmax) of this statement's snapshot and the id sequence's last value."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT pg_snapshot_xmin(s)::text::bigint, pg_snapshot_xmax(s)::text::bigint "
            "FROM pg_current_snapshot() AS s"
        )
        xmin, xmax = cur.fetchone()
        cur.execute("SELECT last_value, is_called FROM event_id_seq")
        last_value, is_called = cur.fetchone()
    return xmin, xmax, last_value if is_called else last_value - 1


def decide(now=None) -> int:
    """One pass: promote a settled candidate, evaluate its events, record alerts; returns how many."""
    now = now or timezone.now()
    decided = 0
    with transaction.atomic():
        xmin, xmax, high = _horizon()  # first statement: before this transaction has an xid
        checkpoint, _ = Checkpoint.objects.select_for_update().get_or_create(name=CHECKPOINT)
        settle = timedelta(seconds=settings.MAILTRAIL_ALERT_SETTLE_SECONDS)
        if (
            checkpoint.candidate_at is not None
            and checkpoint.candidate_id > checkpoint.last_id
            and xmin >= checkpoint.candidate_xmax
            and now - checkpoint.candidate_at >= settle
        ):
            decided = _evaluate(checkpoint.last_id, checkpoint.candidate_id, now)
            checkpoint.last_id = checkpoint.candidate_id
            checkpoint.candidate_at = None
        if checkpoint.candidate_at is None and high > checkpoint.last_id:
            checkpoint.candidate_id, checkpoint.candidate_xmax, checkpoint.candidate_at = high, xmax, now
        checkpoint.save()
        global _pruned_at
        if _pruned_at is None or now - _pruned_at >= PRUNE_EVERY:
            prune_seen(now)
            _pruned_at = now
    return decided


def _evaluate(after_id: int, up_to_id: int, now) -> int:
    subscriptions = {s.account: s for s in Subscription.objects.filter(active=True)}
    if not subscriptions:
        return 0
    events = Event.objects.filter(
        id__gt=after_id,
        id__lte=up_to_id,
        ts__gte=now - MAX_EVENT_AGE,
        account__in=list(subscriptions),
        kind__in=list(rules.RULE_OF_KIND),
    ).order_by("ts", "id")
    decided = 0
    memo: dict = {}
    for event in events.iterator(chunk_size=500):
        subscription = subscriptions[event.account]
        if event.kind == "login" and not subscription.seen_seeded:
            # the account's memory, once per opt-in: what came before this pass, and what is too old for it
            rules.seed(event.account, after_id, now - MAX_EVENT_AGE, now)
            # (unless the owner opted out and in again meanwhile: then the next pass seeds anew)
            Subscription.objects.filter(pk=subscription.pk, opted_in_at=subscription.opted_in_at).update(
                seen_seeded=True
            )
            subscription.seen_seeded = True
        # what happened before the owner opted in is not news (but it is history, below)
        if event.ts >= subscription.opted_in_at:
            finding = rules.evaluate(event, subscription.rules(), memo)
            if finding is not None and record(finding, subscription, now):
                decided += 1
        if event.kind == "login":  # every sign-in is remembered, decided before it is (rules.new_signin)
            keys = rules.seen_keys(event.ip, event.client_name, event.client_os)
            rules.remember(event.account, dict.fromkeys(keys, event.ts))
    return decided


def prune_seen(now) -> int:
    """Forget what is older than the rules look back, and the memory of accounts not opted in
    (a new opt-in seeds it again); returns how many Seen rows went."""
    stale = Seen.objects.filter(last_seen__lt=now - rules.HISTORY).delete()[0]
    active = Subscription.objects.filter(active=True).values("account")
    gone = Seen.objects.exclude(account__in=active).delete()[0]
    Subscription.objects.filter(active=False, seen_seeded=True).update(seen_seeded=False)
    return stale + gone


def record(finding: rules.Finding, subscription: Subscription, now) -> bool:
    """Write the finding's alert row, pending or (over the account's hourly limit) suppressed."""
    recent = Alert.objects.filter(
        account=subscription.account, created_at__gte=now - RATE_WINDOW, state__in=[Alert.PENDING, Alert.SENT]
    ).count()
    state = Alert.PENDING if recent < settings.MAILTRAIL_ALERT_MAX_PER_HOUR else Alert.SUPPRESSED
    event = finding.event
    _, created = Alert.objects.get_or_create(
        account=subscription.account,
        rule=finding.rule,
        event_id=event.id,
        defaults={
            "event_ts": event.ts, "host": event.host, "session": event.session, "protocol": event.protocol,
            "ip": finding.ip, "client": finding.client[:400], "count": finding.count, "state": state,
            "to_email": subscription.email, "language": subscription.language,
            "message_id": message.new_message_id(), "created_at": now,
        },
    )  # fmt: skip
    if created and state == Alert.SUPPRESSED:
        log.info("alert for %s suppressed by the hourly limit (%s)", subscription.account, finding.rule)
    return created


def send_pending(limit: int = SEND_BATCH) -> int:
    """Send pending alerts (oldest first); each is marked sent right after the server accepted it."""
    pending = list(Alert.objects.filter(state=Alert.PENDING).order_by("id")[:limit])
    if not pending:
        return 0
    subscriptions = {
        s.account: s for s in Subscription.objects.filter(account__in={a.account for a in pending})
    }
    sent = 0
    with get_connection() as smtp:
        for alert in pending:
            subscription = subscriptions.get(alert.account)
            if subscription is None or not subscription.active:
                Alert.objects.filter(id=alert.id, state=Alert.PENDING).update(state=Alert.SUPPRESSED)
                continue
            Alert.objects.filter(id=alert.id).update(attempts=alert.attempts + 1)
            smtp.send_messages([message.build(alert, subscription)])  # raises on refusal
            Alert.objects.filter(id=alert.id, state=Alert.PENDING).update(
                state=Alert.SENT, sent_at=timezone.now()
            )
            sent += 1
    return sent
