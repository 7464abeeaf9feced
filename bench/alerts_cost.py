"""What the alert sender's decisions cost per sign-in: queries, its CPU and PostgreSQL's CPU.

Usage: .venv/bin/python bench/alerts_cost.py [--accounts 200] [--history 2000] [--events 2000]
                                             [--database-url URL]

A scratch database (embedded PostgreSQL unless --database-url), migrated; --accounts accounts,
each with --history IMAP sign-ins from its home network with its client spread over 90 days
(a mailbox polled every minute has 130,000: raise it to see the old rule's cost grow).
For 10 % and then 100 % of the accounts opted in, twice each (the first batch after opt-in,
which seeds the sender's memory, then a second batch): --events new events committed (80 %
sign-ins from home, 5 % from a network never used, 15 % failed sign-ins, spread over all
accounts), then the sender's two passes (`sender.decide()`, candidate then promotion) timed in
this process, counting its SQL statements and reading the PostgreSQL backend's CPU from /proc.

Baseline, in the same run: the rule before the sender had a memory, the one aggregate over
the account's sign-ins of the last 90 days per login (`BEFORE` below, the query of b585592),
run for the same sign-ins on the same connection. Ratios are new / baseline per sign-in.
The last line is machine-readable.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

import psycopg  # noqa: E402

from bench.alerts import migrate  # noqa: E402
from bench.common import add_database_url, say  # noqa: E402
from bench.ingest import scratch_database  # noqa: E402

SHARES = (0.1, 1.0)
COLUMNS = "ts, host, protocol, kind, account, ip, session, client_name, client_os, source_id, line_offset"
# the pre-Seen rule's one query per sign-in (rules._signin_history at b585592)
BEFORE = (
    "SELECT count(*) > 0, coalesce(bool_or(ip << %s::cidr OR ip << %s::cidr), false), "
    "coalesce(bool_or(client_name IS NOT NULL), false), "
    "coalesce(bool_or(client_name = %s AND client_os IS NOT DISTINCT FROM %s), false) "
    "FROM event WHERE account = %s AND kind = 'login' AND ts >= %s AND (ts, id) < (%s, %s)"
)


def account(n: int) -> str:
    return f"acct{n:05d}@example.edu"


def home(n: int) -> str:
    return f"10.{n // 256 % 256}.{n % 256}.{random.randint(1, 254)}"


def backend_cpu(conn) -> float:
    """CPU seconds (user + system) of this connection's PostgreSQL backend process so far."""
    with conn.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fill_history(url: str, accounts: int, history: int) -> None:
    now = datetime.now(UTC)
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY event ({COLUMNS}) FROM STDIN") as copy:
            for n in range(accounts):
                for k in range(history):
                    ts = now - timedelta(days=1) - timedelta(seconds=(89 * 86400) * k / history)
                    copy.write_row(
                        (
                            ts,
                            "mx1",
                            "imap",
                            "login",
                            account(n),
                            home(n),
                            f"h{n}-{k}",
                            "Thunderbird",
                            "Windows",
                            1,
                            0,
                        )
                    )
        cur.execute("ANALYZE event")


def new_events(url: str, accounts: int, count: int) -> None:
    now = datetime.now(UTC)
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        for i in range(count):
            n = random.randrange(accounts)
            ts = now - timedelta(milliseconds=count - i)
            roll = random.random()
            if roll < 0.80:
                row = (
                    ts,
                    "mx1",
                    "imap",
                    "login",
                    account(n),
                    home(n),
                    f"n{i}",
                    "Thunderbird",
                    "Windows",
                    1,
                    0,
                )
            elif roll < 0.85:
                ip = f"172.{random.randrange(16, 32)}.{random.randrange(256)}.1"
                row = (ts, "mx1", "imap", "login", account(n), ip, f"n{i}", "Thunderbird", "Windows", 1, 0)
            else:
                row = (ts, "mx1", "imap", "auth_fail", account(n), "203.0.113.7", None, None, None, 1, 0)
            cur.execute(f"INSERT INTO event ({COLUMNS}) VALUES ({', '.join(['%s'] * 11)})", row)  # noqa: S608


def opt_in(accounts: int, share: float) -> set[str]:
    from django.db import connection

    from webui.alerts.models import Subscription

    chosen = {account(n) for n in range(accounts) if n < round(accounts * share)}
    with connection.cursor() as cur:
        cur.execute("TRUNCATE alerts_subscription, alerts_alert, alerts_checkpoint")
        cur.execute(
            "DO $$ BEGIN IF to_regclass('alerts_seen') IS NOT NULL THEN TRUNCATE alerts_seen; END IF; END $$"
        )
        cur.execute("SELECT coalesce(max(id), 0) FROM event")
        last = cur.fetchone()[0]
    from webui.alerts.models import Checkpoint

    Checkpoint.objects.create(name="sender", last_id=last)  # start at the batch, as a running sender would be
    when = datetime.now(UTC) - timedelta(hours=1)
    for name in sorted(chosen):
        Subscription.objects.create(account=name, email=name, language="en", opted_in_at=when, token=name)
    return chosen


def measure_pass(url: str, accounts: int, events: int, chosen: set[str]) -> dict[str, float]:
    """One batch of events and the sender's two passes over it: per opted-in sign-in figures."""
    from django.db import connection

    from webui.alerts import sender

    connection.ensure_connection()
    with connection.cursor() as cur:
        cur.execute("SELECT coalesce(max(id), 0) FROM event")
        first_id = cur.fetchone()[0]
    new_events(url, accounts, events)
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM event WHERE id > %s AND kind = 'login' AND account = ANY(%s)",
            [first_id, sorted(chosen)],
        )
        logins = cur.fetchone()[0]
    statements = [0]

    def count(execute, sql, params, many, context):
        statements[0] += 1
        return execute(sql, params, many, context)

    pg0, cpu0, wall0 = backend_cpu(connection), time.process_time(), time.perf_counter()
    with connection.execute_wrapper(count):
        sender.decide()
        decided = sender.decide()
    wall, cpu, pg = time.perf_counter() - wall0, time.process_time() - cpu0, backend_cpu(connection) - pg0
    return {
        "logins": logins,
        "alerts": decided,
        "queries": statements[0] / logins,
        "ms": wall * 1000 / logins,
        "cpu_ms": cpu * 1000 / logins,
        "pg_ms": pg * 1000 / logins,
        "first_id": first_id,
    }


def measure_before(first_id: int, chosen: set[str]) -> dict[str, float]:
    """The baseline: the pre-Seen aggregate for each opted-in sign-in of the batch."""
    from django.db import connection

    from webui.alerts.rules import network_of

    with connection.cursor() as cur:
        cur.execute(
            "SELECT account, ts, id, host(ip), client_name, client_os FROM event "
            "WHERE id > %s AND kind = 'login' AND account = ANY(%s) ORDER BY ts, id",
            [first_id, sorted(chosen)],
        )
        logins = cur.fetchall()
        pg0, wall0 = backend_cpu(connection), time.perf_counter()
        for name, ts, event_id, ip, client, os_ in logins:
            nets = (network_of(ip) * 2)[:2]
            cur.execute(BEFORE, [*nets, client, os_, name, ts - timedelta(days=90), ts, event_id])
            cur.fetchone()
        wall, pg = time.perf_counter() - wall0, backend_cpu(connection) - pg0
    return {"ms": wall * 1000 / len(logins), "pg_ms": pg * 1000 / len(logins)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accounts", type=int, default=200)
    ap.add_argument("--history", type=int, default=2000, help="sign-ins per account over 90 days")
    ap.add_argument("--events", type=int, default=2000, help="new events per batch")
    add_database_url(ap)
    args = ap.parse_args()
    random.seed(11)
    say(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} on {os.cpu_count()} cores")
    figures: dict[str, float] = {}
    with scratch_database(args.database_url, "alertcost") as (_work, url, _pgdata):
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "DJANGO_SETTINGS_MODULE": "webui.settings",
            "DJANGO_DEBUG": "1",
        }
        env.setdefault("MAILTRAIL_SITE_URL", "https://mailtrail.example.edu")
        env["MAILTRAIL_ALERT_SETTLE_SECONDS"] = "0"
        env["MAILTRAIL_ALERT_MAX_PER_HOUR"] = "1000000"
        migrate(url, env)
        import sqlalchemy as sa

        from ingest.partitions import ensure_partitions, month_start
        from mailtrail.database import sqlalchemy_url

        engine = sa.create_engine(sqlalchemy_url(url), poolclass=sa.pool.NullPool)
        with engine.begin() as conn:
            ensure_partitions(
                conn, {month_start(datetime.now(UTC) - timedelta(days=d)) for d in range(0, 100, 7)}
            )
        engine.dispose()
        say(f"history: {args.accounts} accounts × {args.history} sign-ins over 90 days")
        fill_history(url, args.accounts, args.history)
        os.environ.update(env)
        import django

        django.setup()
        for share in SHARES:
            chosen = opt_in(args.accounts, share)
            for batch in ("seed", "warm"):
                run = measure_pass(url, args.accounts, args.events, chosen)
                before = measure_before(run["first_id"], chosen)
                tag = f"{round(share * 100)}pct_{batch}"
                say(
                    f"{share:.0%} opted in, {batch} batch: {run['logins']} sign-ins decided, {run['alerts']} alerts; "
                    f"per sign-in {run['queries']:.2f} statements, {run['ms']:.2f} ms wall, "
                    f"sender CPU {run['cpu_ms']:.2f} ms, PostgreSQL CPU {run['pg_ms']:.3f} ms "
                    f"(baseline aggregate alone: {before['ms']:.2f} ms wall, PostgreSQL {before['pg_ms']:.3f} ms)"
                )
                figures[f"{tag}_queries"] = run["queries"]
                figures[f"{tag}_ms"] = run["ms"]
                figures[f"{tag}_pg_ms"] = run["pg_ms"]
                figures[f"{tag}_baseline_pg_ms"] = before["pg_ms"]
                figures[f"{tag}_pg_ratio"] = (
                    run["pg_ms"] / before["pg_ms"] if before["pg_ms"] else float("nan")
                )
        from django.db import connection

        connection.close()
    figures["load"] = os.getloadavg()[0]
    say(" ".join(f"{name}={value:.3f}" for name, value in figures.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
