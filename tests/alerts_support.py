"""Helpers shared by the alerts tests: personas, their history, and a real SMTP server on loopback."""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
from datetime import datetime, timedelta

import pytest
from aiosmtpd.controller import Controller
from django.db import connection
from django.utils import timezone

from tests.dovecot_server import free_port
from tests.test_records_support import ensure_test_partitions

ALICE = "alice@example.edu"  # opted in, signs in from home with Thunderbird on Windows every day
BOB = "bob@example.edu"  # never opted in
CAROL = "carol@example.edu"  # opted in, no sign-in in 90 days
HOME_IP = "140.112.8.9"
HOME_CLIENT = {"client_name": "Thunderbird", "client_version": "115.3", "client_os": "Windows"}
STRANGER_IP = "203.0.113.7"
SITE_URL = "https://mailtrail.example.edu"

_COLUMNS = (
    "ts host protocol kind account ip session deleted messages mailbox message_id attempts reason "
    "client_name client_version client_os client_vendor"
).split()


def insert_event(ts: datetime, protocol: str, kind: str, account: str = ALICE, **values: object) -> int:
    """One event row as the ingester writes it (raw SQL, committed at once outside a test transaction)."""
    row = {"ts": ts, "host": "mx1", "protocol": protocol, "kind": kind, "account": account, **values}
    assert not set(row) - set(_COLUMNS), set(row) - set(_COLUMNS)
    names = list(row)
    sql = (
        f"INSERT INTO event ({', '.join(names)}, source_id, line_offset) "  # noqa: S608 (fixed names)
        f"VALUES ({', '.join(['%s'] * len(names))}, 1, 0) RETURNING id"
    )
    with connection.cursor() as cur:
        cur.execute(sql, [row[c] for c in names])
        return cur.fetchone()[0]


def history(account: str = ALICE, days: int = 30, ip: str = HOME_IP, client: dict | None = None) -> None:
    """A sign-in a day from the same place for `days` days before now (IMAP with its client)."""
    client = HOME_CLIENT if client is None else client
    now = timezone.now()
    for day in range(1, days + 1):
        insert_event(now - timedelta(days=day), "imap", "login", account, ip=ip, session=f"h{day}", **client)


def opt_in(account: str = ALICE, language: str = "en", when: datetime | None = None, **rules: bool):
    from webui.alerts.models import Subscription

    values = {"new_signin": True, "failed_signins": True, "mass_delete": True, **rules}
    return Subscription.objects.create(
        account=account, email=account, language=language,
        opted_in_at=when or timezone.now() - timedelta(minutes=5), **values,
    )  # fmt: skip


def decide_all() -> int:
    """Sender passes until the newest event has been decided (two passes: candidate, promotion)."""
    from webui.alerts import sender

    return sender.decide() + sender.decide()


def truncate_events() -> None:
    with connection.cursor() as cur:
        cur.execute("TRUNCATE event")


class Inbox:
    """What a real SMTP server on loopback received: parsed messages, in order."""

    def __init__(self, delay: float = 0.0) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.delay = delay
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's name)
        if self.delay:
            await asyncio.sleep(self.delay)
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self.lock:
            self.messages.append(parsed)
        return "250 OK"

    def message_ids(self) -> list[str]:
        with self.lock:
            return [m["Message-ID"] for m in self.messages]


@pytest.fixture
def smtp_server():
    """(inbox, port): an aiosmtpd server on 127.0.0.1 for one test."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
def smtp_settings(settings, smtp_server):
    inbox, port = smtp_server
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    return inbox


@pytest.fixture(scope="session")
def alerts_partitions(engine) -> None:
    ensure_test_partitions(engine)


@pytest.fixture
def alerts_db(alerts_partitions, transactional_db, settings):
    """Committed rows (the sender's snapshot logic needs them), an empty event table, zero settle."""
    settings.MAILTRAIL_SITE_URL = SITE_URL
    settings.MAILTRAIL_ALERT_SETTLE_SECONDS = 0
    settings.MAILTRAIL_ALERT_MAX_PER_HOUR = 5
    settings.MAILTRAIL_ALERT_FAILED_SIGNINS = 10
    settings.MAILTRAIL_ALERT_DELETIONS = 20
    settings.SECURE_SSL_REDIRECT = False
    truncate_events()
    yield
    truncate_events()
