"""`manage.py send_alerts [--once]`: decide and send the owners' sign-in alerts (webui/alerts/sender.py)."""

from __future__ import annotations

import signal
import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, close_old_connections
from django.db.utils import InterfaceError, OperationalError

from webui.alerts import sender

MAX_BACKOFF = 60.0


class Command(BaseCommand):
    help = (
        "Read the events stored since the sender's own checkpoint, decide the alerts the owners "
        "opted into, and send them by e-mail (the EMAIL_* settings). Runs until SIGTERM or "
        "Ctrl-C, which finish the pass in hand; alerts decided but not yet sent are sent after "
        "a restart."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--once",
            action="store_true",
            help="run one pass (decide, then send) and exit; a new event is decided by the first pass "
            "that runs MAILTRAIL_ALERT_SETTLE_SECONDS after the pass that first saw it",
        )

    def handle(self, *args, once: bool, **options) -> None:
        if not settings.MAILTRAIL_SITE_URL:
            raise CommandError(
                "MAILTRAIL_SITE_URL is required: the alerts link to the day view and to unsubscribe"
            )
        if once:
            self.one_pass()
            return
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        where = getattr(settings, "EMAIL_FILE_PATH", None) or f"{settings.EMAIL_HOST}:{settings.EMAIL_PORT}"
        self.stdout.write(f"send_alerts: sending to {where}", ending="\n")
        self.stdout.flush()
        backoff = 0.0
        while not stop.is_set():
            try:
                self.one_pass()
                backoff = 0.0
            except (OperationalError, InterfaceError, DatabaseError, OSError) as exc:
                # a database or SMTP server that is down: retry with backoff, never crash-loop
                backoff = min(MAX_BACKOFF, backoff * 2 or 1.0)
                self.stderr.write(f"send_alerts: {type(exc).__name__}: {exc}; retrying in {backoff:.0f} s")
                close_old_connections()
            stop.wait(backoff or settings.MAILTRAIL_ALERT_POLL_SECONDS)
        self.stdout.write("send_alerts: stopped")

    def one_pass(self) -> None:
        started = time.monotonic()
        decided = sender.decide()
        sent = sender.send_pending()
        if decided or sent:
            self.stdout.write(
                f"send_alerts: decided {decided}, sent {sent} in {time.monotonic() - started:.2f} s"
            )
            self.stdout.flush()
