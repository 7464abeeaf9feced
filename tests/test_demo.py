"""`make run` (scripts/demo.py): started, stopped with Ctrl-C and started again, ten times in a
row, on its own embedded PostgreSQL; and the story its log tells."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.generate import STORY_OLD_PC_IP
from tests.conftest import PROJECT_DIR
from tests.dovecot_server import free_port

RESTARTS = 10
# A week of 3,000 lines instead of 60,000: the restarts are the point here, not the volume.
DEMO_LINES = "3000"


@pytest.fixture
def var_dir() -> Iterator[Path]:
    # under /tmp and world-traversable: as root, pgserver runs the server as its own user
    path = Path(tempfile.mkdtemp(prefix="mailtrail-demo-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def start_demo(var: Path, out, port: int) -> subprocess.Popen:
    """The demo on `port` with its data in `var`, in its own process group (as a terminal's
    foreground job: Ctrl-C reaches every process in it); returns once its site answers."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    env["MAILTRAIL_VAR_DIR"] = str(var)
    demo = subprocess.Popen(
        [sys.executable, "scripts/demo.py", "--port", str(port), "--lines", DEMO_LINES],
        cwd=PROJECT_DIR, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not _answers(f"http://127.0.0.1:{port}/accounts/login/"):
        if demo.poll() is not None or time.monotonic() > deadline:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait()
            raise AssertionError(Path(out.name).read_text())
        time.sleep(0.3)
    return demo


def run_until_ctrl_c(var: Path, log: Path) -> tuple[int, str]:
    """Start the demo, wait for its site, let it append for a while, press Ctrl-C."""
    with log.open("w") as out:
        demo = start_demo(var, out, free_port())
        try:
            time.sleep(4)  # the writer appends (every 3 s): the log is behind its follower at Ctrl-C
            os.killpg(demo.pid, signal.SIGINT)
            code = demo.wait(timeout=60)
        finally:
            if demo.poll() is None:
                os.killpg(demo.pid, signal.SIGKILL)
                demo.wait()
    return code, log.read_text()


@pytest.mark.slow
def test_make_run_ctrl_c_and_make_run_again_works_ten_times_in_a_row(var_dir, tmp_path):
    for attempt in range(1 + RESTARTS):
        code, output = run_until_ctrl_c(var_dir, tmp_path / f"run-{attempt}.log")
        assert code == 0, f"run {attempt}:\n{output}"
        assert "Traceback" not in output, f"run {attempt}:\n{output}"
        assert "helpdesk\thelpdesk-demo-password\t(help-desk staff)" in output
        assert "alice@example.edu\talice-demo-password" in output
        assert f"sign-in alerts an owner turns on at /alerts/ are delivered to: {var_dir / 'mail'}" in output
    # the log went on from run to run, and tells alice's story
    log = (var_dir / "demo" / "mail.log").read_text()
    old_pc = re.findall(r"pop3\(alice@example\.edu\)<\d+><[^>]+>: Disconnected: Logged out .*del=(\d+)/", log)
    assert old_pc and any(int(d) > 0 for d in old_pc)
    assert f"rip={STORY_OLD_PC_IP}" in log
    # its IMAP logins name their clients: alice's phone says it is an iPhone before login
    assert re.search(
        r"imap-login: ID sent: name=iPhone Mail, version=\S+, os=iOS, .*: user=<>, rip=100\.", log
    )
    assert re.search(r"imap\([^)]+\)<\d+><[^>]+>: ID sent: name=Thunderbird, version=", log)


@pytest.mark.slow
def test_alice_who_opts_in_gets_an_alert_in_the_mailbox_the_demo_prints(var_dir, tmp_path):
    log = tmp_path / "demo.log"
    with log.open("w") as out:
        demo = start_demo(var_dir, out, free_port())
        try:
            # alice opts in as the alerts page does (the page itself: tests/test_alerts_views.py)
            opt_in = (
                "from django.utils import timezone; from webui.alerts.models import Subscription; "
                "Subscription.objects.create(account='alice@example.edu', email='alice@example.edu', "
                "language='en', opted_in_at=timezone.now())"
            )
            shell_env = {
                k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")
            }
            shell_env.update(MAILTRAIL_VAR_DIR=str(var_dir), DJANGO_DEBUG="1", MAILTRAIL_DEMO="1")
            subprocess.run(
                [sys.executable, "manage.py", "shell", "-c", opt_in],
                cwd=PROJECT_DIR, env=shell_env, check=True, capture_output=True, timeout=60,
            )  # fmt: skip
            mailbox = var_dir / "mail"
            assert f"delivered to: {mailbox}" in log.read_text()
            deadline = time.monotonic() + 180  # the story's new network comes a minute after the start
            while not (mailbox.is_dir() and any(mailbox.iterdir())):
                assert demo.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(1)
        finally:
            os.killpg(demo.pid, signal.SIGINT)
            demo.wait(timeout=60)
    mail = "".join(path.read_text() for path in mailbox.iterdir())
    assert "To: alice@example.edu" in mail
    assert "Subject: mailtrail: a sign-in to your mailbox from a new device or network" in mail
    assert re.search(r"From IP: 100\.\d+\.\d+\.\d+", mail)
