"""The owner's subscription, the sender's checkpoint and the alert log (an outbox)."""

from __future__ import annotations

import secrets

from django.db import models
from django.utils.translation import gettext_lazy as _

RULE_NEW_SIGNIN = "new_signin"
RULE_FAILED_SIGNINS = "failed_signins"
RULE_MASS_DELETE = "mass_delete"
RULES = (RULE_NEW_SIGNIN, RULE_FAILED_SIGNINS, RULE_MASS_DELETE)


def new_token() -> str:
    return secrets.token_urlsafe(24)


class Subscription(models.Model):
    """One owner's opt-in: which rules, in which language, to which address."""

    account = models.TextField(_("account"), unique=True)
    email = models.EmailField(_("e-mail address"))
    language = models.CharField(_("language"), max_length=10)
    new_signin = models.BooleanField(_("sign-in from a new device or network"), default=True)
    failed_signins = models.BooleanField(_("many failed sign-ins"), default=True)
    mass_delete = models.BooleanField(_("many messages deleted from a new device"), default=True)
    active = models.BooleanField(_("active"), default=True)
    # A fresh random value at each opt-in: an unsubscribe link from an earlier opt-in stops
    # working, and the link carries it signed (views.unsubscribe), never the account alone.
    token = models.CharField(max_length=64, unique=True, default=new_token)
    opted_in_at = models.DateTimeField(_("opted in"))
    unsubscribed_at = models.DateTimeField(_("unsubscribed"), null=True, blank=True)
    # Whether the sender's Seen rows for this account were seeded since this opt-in (rules.seed)
    seen_seeded = models.BooleanField(default=False, db_default=False)

    class Meta:
        verbose_name = _("alert subscription")
        verbose_name_plural = _("alert subscriptions")

    def __str__(self) -> str:
        return self.account

    def rules(self) -> set[str]:
        return {rule for rule in RULES if getattr(self, rule)}


class Checkpoint(models.Model):
    """How far the sender has read the event table (sender.py explains the two ids)."""

    name = models.CharField(max_length=40, primary_key=True)
    last_id = models.BigIntegerField(default=0)
    candidate_id = models.BigIntegerField(default=0)
    candidate_xmax = models.BigIntegerField(default=0)
    candidate_at = models.DateTimeField(null=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("sender checkpoint")


class Alert(models.Model):
    """One alert decided by the sender: sent, waiting to be sent, or suppressed by the rate limit."""

    PENDING = "pending"
    SENT = "sent"
    SUPPRESSED = "suppressed"
    STATES = [(PENDING, _("pending")), (SENT, _("sent")), (SUPPRESSED, _("suppressed"))]
    RULE_CHOICES = [
        (RULE_NEW_SIGNIN, _("new device or network")),
        (RULE_FAILED_SIGNINS, _("failed sign-ins")),
        (RULE_MASS_DELETE, _("messages deleted")),
    ]

    account = models.TextField(_("account"))
    rule = models.CharField(_("rule"), max_length=20, choices=RULE_CHOICES)
    event_id = models.BigIntegerField(_("event"))
    event_ts = models.DateTimeField(_("time"))
    host = models.TextField(_("host"), default="")
    session = models.TextField(_("session"), null=True)
    protocol = models.TextField(_("protocol"), default="")
    ip = models.GenericIPAddressField(_("IP"), null=True)
    client = models.TextField(_("client"), default="")
    count = models.IntegerField(_("count"), null=True)
    state = models.CharField(_("state"), max_length=12, choices=STATES)
    to_email = models.EmailField(_("to"))
    language = models.CharField(_("language"), max_length=10)
    message_id = models.CharField(_("Message-ID"), max_length=200, unique=True)
    created_at = models.DateTimeField(_("decided"))
    sent_at = models.DateTimeField(_("sent"), null=True)
    attempts = models.IntegerField(_("attempts"), default=0)

    class Meta:
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        constraints = [
            # an event triggers a rule's alert for an account once, however often it is read
            models.UniqueConstraint(fields=["account", "rule", "event_id"], name="alert_once_per_event"),
        ]
        indexes = [
            models.Index(fields=["account", "created_at"], name="alert_account_created_idx"),
            models.Index(fields=["state"], name="alert_pending_idx", condition=models.Q(state="pending")),
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.rule} {self.event_id} {self.state}"


class Seen(models.Model):
    """The sender's memory of an opted-in account's sign-ins: the last time each network, client
    (or any sign-in at all) was seen, so that "new in 90 days" is an index lookup, not an
    aggregate over the account's event rows (rules.py). Seeded once per opt-in from the event
    table, updated in the sender's transaction with its alerts and checkpoint, pruned after 90 days.
    """

    NETWORK = "network"  # value: the /24 or /48 (rules.network_of)
    CLIENT = "client"  # value: rules.client_key (name and OS)
    SIGNIN = "signin"  # value: "": any sign-in at all, for the baseline rule

    account = models.TextField()
    kind = models.CharField(max_length=10)
    value = models.TextField()
    last_seen = models.DateTimeField()

    class Meta:
        verbose_name = _("seen network or client")
        constraints = [
            models.UniqueConstraint(fields=["account", "kind", "value"], name="seen_once_per_value"),
        ]
        indexes = [models.Index(fields=["last_seen"], name="seen_last_seen_idx")]

    def __str__(self) -> str:
        return f"{self.account} {self.kind} {self.value}"
