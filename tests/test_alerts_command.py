"""`manage.py send_alerts` as a real process: SIGTERM, SIGKILL and restarts lose no alert and send none twice."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from django.utils import timezone

from tests.alerts_support import SITE_URL, Inbox, insert_event, opt_in
from tests.conftest import PROJECT_DIR
from tests.dovecot_server import free_port
from webui.alerts.models import Alert

pytestmark = [pytest.mark.usefixtures("alerts_db"), pytest.mark.slow]


def sender_env(database_url: str, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "webui.settings_test",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(port),
        "MAILTRAIL_SITE_URL": SITE_URL,
        "MAILTRAIL_ALERT_POLL_SECONDS": "0.1",
        "MAILTRAIL_ALERT_SETTLE_SECONDS": "0.2",
    }


def start(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "send_alerts"],
        cwd=PROJECT_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def wait_for(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def owners_signing_in_from_afar(first: int, count: int) -> None:
    """`count` owners who opted in, each with a sign-in from home last week and one from afar now."""
    now = timezone.now()
    for n in range(first, first + count):
        account = f"owner{n:03d}@example.edu"
        opt_in(account)
        insert_event(now - timedelta(days=7), "imap", "login", account, ip="140.112.8.9", session=f"h{n}")
        insert_event(now, "imap", "login", account, ip=f"198.51.{n}.1", session=f"a{n}")


def test_the_sender_killed_and_restarted_mid_run_loses_no_alert_and_resends_at_most_one(database_url):
    inbox = Inbox(delay=0.05)  # slow enough that a kill lands while mail is going out
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    env = sender_env(database_url, port)
    try:
        owners_signing_in_from_afar(0, 40)
        first = start(env)
        wait_for(lambda: len(inbox.messages) >= 5)
        first.kill()  # SIGKILL: no clean-up at all
        first.wait(timeout=10)
        owners_signing_in_from_afar(40, 10)  # stored while no sender runs

        second = start(env)
        wait_for(lambda: len(inbox.messages) >= 20)
        second.send_signal(signal.SIGTERM)
        out, _ = second.communicate(timeout=30)
        assert second.returncode == 0 and "send_alerts: stopped" in out, out

        third = start(env)
        owners_signing_in_from_afar(50, 10)  # stored while it runs
        wait_for(lambda: Alert.objects.filter(state="sent").count() == 60)
        third.send_signal(signal.SIGTERM)
        out, _ = third.communicate(timeout=30)
        assert third.returncode == 0, out
    finally:
        for process in [p for p in locals().values() if isinstance(p, subprocess.Popen)]:
            if process.poll() is None:
                process.kill()
        controller.stop()

    decided = set(Alert.objects.values_list("message_id", flat=True))
    assert len(decided) == Alert.objects.count() == 60  # one alert per owner's sign-in from afar
    received = collections.Counter(inbox.message_ids())
    assert set(received) == decided  # none lost
    # The SIGKILL may land after the SMTP server accepted a message and before it was marked
    # sent: that one message goes out again, with the same Message-ID. Nothing else repeats.
    assert sum(received.values()) - len(received) <= 1, received.most_common(3)


@pytest.mark.parametrize(
    ("variable", "value"),
    [("MAILTRAIL_SITE_URL", ""), ("MAILTRAIL_SITE_URL", "mailtrail.example.edu"), ("EMAIL_USE_SSL", "yes")],
)
def test_a_misconfigured_sender_stops_at_start_naming_the_variable(database_url, variable, value):
    env = {**sender_env(database_url, free_port()), "EMAIL_USE_TLS": "yes", variable: value}
    if variable != "EMAIL_USE_SSL":
        env.pop("EMAIL_USE_TLS")
    done = subprocess.run(
        [sys.executable, "manage.py", "send_alerts", "--once"],
        cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0 and variable in done.stderr, done.stderr


def test_once_decides_and_sends_in_one_process_run(database_url):
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        owners_signing_in_from_afar(0, 2)
        env = {**sender_env(database_url, port), "MAILTRAIL_ALERT_SETTLE_SECONDS": "0"}
        run = [sys.executable, "manage.py", "send_alerts", "--once"]
        for _ in range(2):  # the first pass notes the candidate, the second decides and sends
            subprocess.run(run, cwd=PROJECT_DIR, env=env, check=True, capture_output=True, timeout=60)
    finally:
        controller.stop()
    assert len(inbox.messages) == 2
