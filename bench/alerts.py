"""Alert lag: from an event's commit to its alert handed to a real SMTP server on loopback.

Usage: .venv/bin/python bench/alerts.py [--owners 200] [--rate 5] [--duration 60]
                                        [--writers 3] [--database-url URL]

A scratch database (embedded PostgreSQL unless --database-url), migrated; --owners owners
opted in, each with a week-old sign-in from home; `manage.py send_alerts` as a real process
with its production defaults (poll 1 s, settle 2 s); an aiosmtpd server in this process that
notes when each message arrives. --writers threads then commit, at --rate a second in all,
sign-ins from a network each owner never used, each in its own transaction that takes its
id and waits a random 0–200 ms before committing (so commits come out of id order, as the
ingester's concurrent transactions do). Lag = SMTP arrival − commit, per alert.

Baseline, in the same run: one alert's message handed straight to the same SMTP server by
Django's mail (no database, no sender loop): the floor of the hand-off itself. Ratios are
against it, and against the sender's own floor (settle + poll).
Goal: p99 lag <= 10 s, no alert lost or doubled. The last line is machine-readable.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

import psycopg  # noqa: E402
from aiosmtpd.controller import Controller  # noqa: E402

from bench.common import add_database_url, free_port, say  # noqa: E402
from bench.ingest import scratch_database  # noqa: E402

GOAL_P99_S = 10.0
SITE_URL = "https://mailtrail.example.edu"
IP_LINE = re.compile(r"^From IP: (\S+)", re.M)


class Arrivals:
    """aiosmtpd handler: the arrival time of each message, by the IP its body names."""

    def __init__(self) -> None:
        self.at: dict[str, list[float]] = {}
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's name)
        now = time.time()
        text = email.message_from_bytes(envelope.original_content, policy=email.policy.default).get_content()
        match = IP_LINE.search(text)
        with self.lock:
            self.at.setdefault(match.group(1) if match else "?", []).append(now)
        return "250 OK"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def migrate(url: str, env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head"], cwd=PROJECT_DIR, env=env, check=True)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--verbosity", "0"], cwd=PROJECT_DIR, env=env, check=True
    )
    import sqlalchemy as sa

    from ingest.partitions import ensure_partitions, month_start
    from mailtrail.database import sqlalchemy_url

    engine = sa.create_engine(sqlalchemy_url(url), poolclass=sa.pool.NullPool)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        ensure_partitions(conn, {month_start(now - timedelta(days=d)) for d in (0, 8, 40)})
    engine.dispose()


def seed(url: str, owners: int) -> None:
    week_ago = datetime.now(UTC) - timedelta(days=7)
    opted = datetime.now(UTC) - timedelta(minutes=1)
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        for n in range(owners):
            account = f"owner{n:04d}@example.edu"
            cur.execute(
                "INSERT INTO alerts_subscription (account, email, language, new_signin, failed_signins, "
                "mass_delete, active, token, opted_in_at) VALUES (%s, %s, 'en', true, true, true, true, %s, %s)",
                [account, account, f"token-{n}", opted],
            )
            cur.execute(
                "INSERT INTO event (ts, host, protocol, kind, account, ip, session, source_id, line_offset) "
                "VALUES (%s, 'mx1', 'imap', 'login', %s, '140.112.8.9', %s, 1, 0)",
                [week_ago, account, f"home{n}"],
            )


def writer(
    url: str, jobs: list[tuple[str, str]], every: float, committed: dict, lock: threading.Lock
) -> None:
    with psycopg.connect(url, autocommit=False) as conn:
        start = time.monotonic()
        for i, (account, ip) in enumerate(jobs):
            delay = start + i * every - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            conn.execute(
                "INSERT INTO event (ts, host, protocol, kind, account, ip, session, source_id, line_offset) "
                "VALUES (now(), 'mx1', 'imap', 'login', %s, %s, %s, 1, 0)",
                [account, ip, f"s-{ip}"],
            )
            time.sleep(random.uniform(0, 0.2))  # out-of-order commits, like concurrent ingest batches
            conn.commit()
            with lock:
                committed[ip] = time.time()


def baseline(env: dict[str, str], port: int, rounds: int = 20) -> float:
    """Median seconds for Django's mail to hand one alert-sized message to the SMTP server."""
    code = (
        "import time, django; django.setup()\n"
        "from django.core.mail import EmailMessage, get_connection\n"
        "times = []\n"
        f"for i in range({rounds}):\n"
        "    t = time.perf_counter()\n"
        "    with get_connection() as c:\n"
        "        c.send_messages([EmailMessage('subject', 'From IP: 192.0.2.1\\n' + 'x' * 600, to=['a@example.edu'])])\n"
        "    times.append(time.perf_counter() - t)\n"
        "print(sorted(times)[len(times) // 2])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_DIR, env=env, check=True, capture_output=True, text=True
    )
    return float(done.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--owners", type=int, default=200)
    ap.add_argument("--rate", type=float, default=5.0, help="alerting sign-ins committed per second, in all")
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--writers", type=int, default=3)
    add_database_url(ap)
    args = ap.parse_args()
    say(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} on {os.cpu_count()} cores")
    total = int(args.rate * args.duration)
    with scratch_database(args.database_url, "alerts") as (_work, url, _pgdata):
        arrivals = Arrivals()
        port = free_port()
        controller = Controller(arrivals, hostname="127.0.0.1", port=port)
        controller.start()
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "DJANGO_SETTINGS_MODULE": "webui.settings",
            "DJANGO_DEBUG": "1",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(port),
            "MAILTRAIL_SITE_URL": SITE_URL,
            "MAILTRAIL_ALERT_MAX_PER_HOUR": str(total + 1),
        }
        for name in ("MAILTRAIL_ALERT_POLL_SECONDS", "MAILTRAIL_ALERT_SETTLE_SECONDS", "MAILTRAIL_DEMO"):
            env.pop(name, None)  # the production defaults
        migrate(url, env)
        seed(url, args.owners)
        floor = baseline(env, port)
        arrivals.at.clear()
        say(f"baseline: Django hands one message to SMTP in {floor * 1000:.1f} ms (median)")

        sender = subprocess.Popen(
            [sys.executable, "manage.py", "send_alerts"], cwd=PROJECT_DIR, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        time.sleep(3)  # Django's start-up is not the lag being measured
        # each sign-in from a /24 of its own, so that each one is new for its owner
        jobs = [
            (f"owner{i % args.owners:04d}@example.edu", f"10.{i // 256 % 256}.{i % 256}.1")
            for i in range(total)
        ]
        committed: dict[str, float] = {}
        lock = threading.Lock()
        every = args.writers / args.rate
        threads = [
            threading.Thread(target=writer, args=(url, jobs[w :: args.writers], every, committed, lock))
            for w in range(args.writers)
        ]
        say(f"committing {total} alerting sign-ins over {args.duration:.0f} s from {args.writers} writers")
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        deadline = time.monotonic() + 60
        while sum(len(v) for v in arrivals.at.values()) < total and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(2)  # anything sent twice would show now
        sender.send_signal(signal.SIGTERM)
        _, err = sender.communicate(timeout=60)
        controller.stop()
        with psycopg.connect(url) as conn:
            states = dict(conn.execute("SELECT state, count(*) FROM alerts_alert GROUP BY state").fetchall())
            checkpoint = conn.execute("SELECT last_id, candidate_id FROM alerts_checkpoint").fetchone()
        say(f"alert rows by state: {states}; checkpoint (last id, candidate): {checkpoint}")

    lags = [arrivals.at[ip][0] - committed[ip] for ip in committed if ip in arrivals.at]
    lost = sum(1 for ip in committed if ip not in arrivals.at)
    doubled = sum(len(v) - 1 for v in arrivals.at.values())
    if not lags:
        say(f"no alert arrived; sender said:\n{err}\narrivals: {list(arrivals.at)[:5]}")
        return 1
    p50, p99, worst = statistics.median(lags), percentile(lags, 0.99), max(lags)
    sender_floor = 2.0 + 1.0  # default settle + poll
    met = "met" if p99 <= GOAL_P99_S and not lost and not doubled else "MISSED"
    say(f"alerts: {len(lags)} of {total} arrived, {lost} lost, {doubled} sent twice")
    say(
        f"lag commit → SMTP: p50 {p50:.2f} s, p99 {p99:.2f} s, max {worst:.2f} s (goal p99 <= {GOAL_P99_S:.0f} s: {met})"
    )
    say(f"p99 / SMTP hand-off baseline = {p99 / floor:.0f}; p99 / (settle + poll) = {p99 / sender_floor:.2f}")
    say(
        f"alerts={len(lags)} lost={lost} doubled={doubled} p50_s={p50:.2f} p99_s={p99:.2f} max_s={worst:.2f} "
        f"baseline_ms={floor * 1000:.1f} p99_over_floor={p99 / sender_floor:.2f} "
        f"load={os.getloadavg()[0]:.2f} goal={met}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
