"""Day-view benchmark: server time (p50/p95) and requests/s of the owner's day view under gunicorn.

Usage: .venv/bin/python bench/web.py [--events 10000000] [--accounts 30000] [--days 30]
                                     [--users 200] [--clients 16] [--seconds 30] [--workers N]

Builds an embedded PostgreSQL in a temporary directory, migrates it with alembic and Django,
and loads --events synthetic events for --accounts accounts, spread over the last --days days
in time order (as a live log arrives), with psycopg COPY into the partitioned event table
with all its indexes: the ingester's own path. Rows are generated in this process.

Then it starts gunicorn (deploy/gunicorn.conf.py, sync workers, on a free 127.0.0.1 port)
and signs in --users owners, each a Django user named after an account that has events
(sessions made in this process, cookies sent by the clients). Each request asks for one
owner's day view of a random day in the loaded period, the whole page: rows, per-IP summary,
freshness, template, session save.

Measured, after a warm-up:
- sequential: one client, 300 requests;
- concurrent: --clients threads, each with its own connection per request (gunicorn's sync
  workers close after each response), for --seconds.
Server time is gunicorn's own request time (the access log's %(D)s, from the request read to
the response written; it excludes the wait for a free worker); client time is what a client
saw, queueing included. The clients share the machine with gunicorn and PostgreSQL.
Goal: server p95 <= 25 ms. The last line is machine-readable name=value pairs.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

import psycopg  # noqa: E402

from bench.common import free_port, say  # noqa: E402
from mailtrail.database import embedded_url, sqlalchemy_url  # noqa: E402

GOAL_P95_MS = 25.0
SECRET = secrets.token_urlsafe(50)  # the settings refuse a short key without DEBUG
COLUMNS = (
    "ts, host, protocol, kind, account, ip, session, deleted, messages, size, mailbox, message_id, "
    "attempts, reason, source_id, line_offset"
)
# Kinds in the proportions of a university's log: most lines are logins and logouts.
KINDS = (
    [("imap", "login")] * 30 + [("imap", "logout")] * 30 + [("pop3", "login")] * 8 + [("pop3", "logout")] * 8
    + [("imap", "message_delete")] * 12 + [("pop3", "message_delete")] * 3 + [("imap", "auth_fail")] * 5
    + [("imap", "flag_delete")] * 3 + [("imap", "mailbox_delete")] * 1
)  # fmt: skip


def account_name(n: int) -> str:
    return f"user{n:05d}@example.edu"


def migrate(url: str) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config(str(PROJECT_DIR / "alembic.ini"))
    cfg.set_main_option("sqlalchemy.url", sqlalchemy_url(url))
    cfg.attributes["configure_logging"] = False
    command.upgrade(cfg, "head")


def ensure_months(url: str, start: datetime, end: datetime) -> None:
    import sqlalchemy as sa

    from ingest.partitions import ensure_partitions, month_start

    months = {month_start(start + timedelta(days=d)) for d in range((end - start).days + 2)}
    engine = sa.create_engine(sqlalchemy_url(url), poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        ensure_partitions(conn, months)
    engine.dispose()


def generate(n: int, accounts: int, start: datetime, end: datetime, seed: int = 7):
    """Yield COPY text chunks of n events in time order; account and IP random per event."""
    rnd = random.Random(seed)
    t0 = start.timestamp()
    step = (end - start).total_seconds() / n
    stamps: dict[int, str] = {}
    chunk: list[str] = []
    for i in range(n):
        second = int(t0 + i * step)
        ts = stamps.get(second)
        if ts is None:
            stamps.clear()
            ts = stamps[second] = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%d %H:%M:%S+00")
        protocol, kind = rnd.choice(KINDS)
        a = rnd.randrange(accounts)
        ip = f"10.{a % 200}.{(a // 200) % 250}.{rnd.randrange(1, 4)}"  # a few addresses per account
        session = f"S{a:05d}{second // 3600:x}"
        deleted = messages = size = mailbox = msgid = attempts = reason = r"\N"
        if kind == "logout":
            deleted, messages, size = str(i % 3), str(20 + i % 500), str(1_000_000 + i % 9_000_000)
            reason = "Logged out"
        elif kind in ("message_delete", "flag_delete"):
            mailbox, msgid, size = "INBOX", f"<{i}.bench@example.org>", str(2_000 + i % 90_000)
        elif kind == "mailbox_delete":
            mailbox = "Old"
        elif kind == "auth_fail":
            attempts, reason = "1", "auth failed"
        chunk.append(
            f"{ts}\tmx1\t{protocol}\t{kind}\t{account_name(a)}\t{ip}\t{session}\t{deleted}\t{messages}\t"
            f"{size}\t{mailbox}\t{msgid}\t{attempts}\t{reason}\t1\t{i}\n"
        )
        if len(chunk) == 50_000:
            yield "".join(chunk)
            chunk = []
    if chunk:
        yield "".join(chunk)


def load(url: str, n: int, accounts: int, start: datetime, end: datetime) -> float:
    began = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET synchronous_commit = off")
        done = 0
        with conn.cursor() as cur, cur.copy(f"COPY event ({COLUMNS}) FROM STDIN") as copy:
            for chunk in generate(n, accounts, start, end):
                copy.write(chunk)
                done += chunk.count("\n")
                if done % 1_000_000 < 50_000:
                    rate = done / (time.perf_counter() - began)
                    say(f"  loaded {done:,} events ({rate:,.0f}/s)")
        conn.execute(
            "INSERT INTO source (fingerprint, path, host, last_event_ts) VALUES ('bench', '/var/log/mail.log', 'mx1', %s)",
            [end],
        )
        say("  VACUUM ANALYZE event")
        conn.execute("VACUUM ANALYZE event")
    return time.perf_counter() - began


def sign_in(users: int, accounts: int) -> list[str]:
    """Session cookies of `users` owners, made through Django's own login()."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    call_command("migrate", verbosity=0, interactive=False)
    cookies = []
    picks = random.Random(11).sample(range(accounts), users)
    for a in picks:
        user = get_user_model().objects.create_user(account_name(a))
        client = Client()
        client.force_login(user, backend="webui.accounts.backends.ImapBackend")  # as an owner (decision 0005)
        cookies.append(client.cookies["sessionid"].value)
    from django.db import connections

    connections.close_all()
    return cookies


def start_gunicorn(env: dict[str, str], port: int, workers: int, log: Path) -> subprocess.Popen:
    """gunicorn with the deployment's config on `port`; the process carries `.port`."""
    cmd = [
        str(Path(sys.executable).parent / "gunicorn"), "-c", str(PROJECT_DIR / "deploy" / "gunicorn.conf.py"),
        "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
        "--access-logfile", str(log), "--access-logformat", "%(D)s %(s)s",
        "--error-logfile", str(log.with_suffix(".err")),
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, cwd=PROJECT_DIR, start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                proc.port = port  # type: ignore[attr-defined]
                return proc
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"gunicorn exited: {log.with_suffix('.err').read_text()[-2000:]}") from None
            time.sleep(0.2)
    raise SystemExit("gunicorn did not start within 60 s")


class Requests:
    """Day-view requests for random owners and days; failures are counted, not hidden."""

    def __init__(self, port: int, cookies: list[str], days: list[str], seed: int) -> None:
        self.port, self.cookies, self.days = port, cookies, days
        self.rnd = random.Random(seed)

    def one(self) -> float:
        cookie, day = self.rnd.choice(self.cookies), self.rnd.choice(self.days)
        began = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.request("GET", f"/?date={day}", headers={"Cookie": f"sessionid={cookie}", "Host": "127.0.0.1"})
        response = conn.getresponse()
        body = response.read()
        conn.close()
        took = (time.perf_counter() - began) * 1000
        if response.status != 200 or b'class="period-header"' not in body:
            raise RuntimeError(f"day view answered {response.status}: {body[:300]!r}")
        return took


def server_times(log: Path, skip: int) -> list[float]:
    lines = log.read_text().splitlines()[skip:]
    return [int(line.split()[0]) / 1000 for line in lines if line.split()[1] == "200"]


def pct(values: list[float], q: float) -> float:
    return (
        statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]
    )


def cpu_seconds(gunicorn_pid: int, pgdata: Path) -> tuple[float, float] | None:
    """CPU seconds so far of gunicorn (master and workers) and of PostgreSQL (postmaster,
    live backends, and the reaped ones, counted in the postmaster's children times)."""
    import psutil  # the test extra (pyproject.toml)

    def own(p) -> float:
        t = p.cpu_times()
        return t.user + t.system

    master = psutil.Process(gunicorn_pid)
    web = own(master) + sum(own(c) for c in master.children(recursive=True))
    postmaster = psutil.Process(int((pgdata / "postmaster.pid").read_text().split()[0]))
    t = postmaster.cpu_times()
    db = t.user + t.system + t.children_user + t.children_system
    db += sum(own(c) for c in postmaster.children())
    return web, db


def stop_gunicorn(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def measure(
    port: int, cookies: list[str], days: list[str], log: Path, args, cpu=lambda: None
) -> dict[str, str]:
    """Warm up, then a sequential and a concurrent run; figures as name -> formatted value."""
    warm = Requests(port, cookies, days, seed=1)
    for _ in range(200):
        warm.one()
    time.sleep(0.5)
    mark = len(log.read_text().splitlines())

    seq = Requests(port, cookies, days, seed=2)
    seq_client = [seq.one() for _ in range(300)]
    time.sleep(0.5)
    seq_server = server_times(log, mark)
    mark = len(log.read_text().splitlines())
    say(
        f"  sequential: server p50 {pct(seq_server, 50):.1f} ms p95 {pct(seq_server, 95):.1f} ms; "
        f"client p50 {pct(seq_client, 50):.1f} ms"
    )

    stop = time.perf_counter() + args.seconds
    results: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client(seed: int) -> None:
        req = Requests(port, cookies, days, seed)
        mine = []
        try:
            while time.perf_counter() < stop:
                mine.append(req.one())
        except Exception as exc:  # counted and reported: the run is then void
            errors.append(repr(exc))
        with lock:
            results.extend(mine)

    cpu_before = cpu()
    began = time.perf_counter()
    threads = [threading.Thread(target=client, args=(100 + c,)) for c in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    cpu_after = cpu()
    time.sleep(0.5)
    if errors:
        raise SystemExit(f"{len(errors)} clients failed, first: {errors[0]}")
    server = server_times(log, mark)
    rps = len(results) / elapsed
    say(
        f"  concurrent ({args.clients} clients, {elapsed:.0f} s): {rps:.1f} req/s; server p50 "
        f"{pct(server, 50):.1f} ms p95 {pct(server, 95):.1f} ms; client p50 "
        f"{pct(results, 50):.1f} ms p95 {pct(results, 95):.1f} ms"
    )
    figures = {
        "requests": str(len(results)),
        "rps": f"{rps:.1f}",
        "server_p50_ms": f"{pct(server, 50):.1f}",
        "server_p95_ms": f"{pct(server, 95):.1f}",
        "client_p50_ms": f"{pct(results, 50):.1f}",
        "client_p95_ms": f"{pct(results, 95):.1f}",
        "seq_server_p50_ms": f"{pct(seq_server, 50):.1f}",
        "seq_server_p95_ms": f"{pct(seq_server, 95):.1f}",
    }
    if cpu_before is not None and cpu_after is not None:
        # CPU per request hardly depends on the neighbours' load: it says what an idle
        # 2-core machine could serve (2 cores / (web + database CPU per request)).
        web_ms = (cpu_after[0] - cpu_before[0]) * 1000 / len(results)
        db_ms = (cpu_after[1] - cpu_before[1]) * 1000 / len(results)
        figures |= {"web_cpu_ms": f"{web_ms:.1f}", "db_cpu_ms": f"{db_ms:.1f}"}
        figures["idle_capacity_rps"] = f"{2000 / (web_ms + db_ms):.0f}"
        say(
            f"  CPU per request: gunicorn {web_ms:.1f} ms, PostgreSQL {db_ms:.1f} ms "
            f"(2 idle cores would serve ~{2000 / (web_ms + db_ms):.0f} req/s)"
        )
    return figures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--accounts", type=int, default=30_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--users", type=int, default=200, help="owners signed in and asked for")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1) + 1)
    ap.add_argument(
        "--conn-max-age", type=int, default=60,
        help="also measure with persistent database connections (CONN_MAX_AGE); 0: only the stock settings",
    )  # fmt: skip
    args = ap.parse_args()

    say("load average {:.2f} {:.2f} {:.2f} on {} cores".format(*os.getloadavg(), os.cpu_count()))
    tmp = Path(tempfile.mkdtemp(prefix="mailtrail-bench-web-"))
    tmp.chmod(0o755)  # as root, pgserver runs the server as its own user
    gunicorn: subprocess.Popen | None = None
    try:
        url = embedded_url(tmp / "pgdata", "mailtrail_bench")
        say(f"database: embedded PostgreSQL in {tmp}")
        migrate(url)
        end = datetime.now(UTC).replace(microsecond=0)
        start = end - timedelta(days=args.days)
        ensure_months(url, start, end)
        say(f"loading {args.events:,} events for {args.accounts:,} accounts over {args.days} days (COPY)")
        load_s = load(url, args.events, args.accounts, start, end)
        say(f"  loaded in {load_s:.0f} s")

        env = dict(
            os.environ,
            DATABASE_URL=url,
            DJANGO_SETTINGS_MODULE="webui.settings",
            DJANGO_SECRET_KEY=SECRET,
            DJANGO_DEBUG="false",
            DJANGO_HTTPS="false",
            DJANGO_ALLOWED_HOSTS="127.0.0.1",
            MAILTRAIL_TZ="UTC",
            MAILTRAIL_LOG_LEVEL="WARNING",
        )
        for name in (
            "DATABASE_URL",
            "DJANGO_SETTINGS_MODULE",
            "DJANGO_SECRET_KEY",
            "DJANGO_HTTPS",
            "MAILTRAIL_TZ",
        ):
            os.environ[name] = env[name]  # this process signs the owners in with the same settings
        cookies = sign_in(args.users, args.accounts)
        today = datetime.now(UTC).date()
        days = [(today - timedelta(days=d)).isoformat() for d in range(args.days)]

        runs = {"stock": "webui.settings"}
        if args.conn_max_age:
            # the same settings with persistent connections: what CONN_MAX_AGE would buy
            (tmp / "bench_settings.py").write_text(
                "from webui.settings import *  # noqa: F403\n"
                f"DATABASES['default']['CONN_MAX_AGE'] = {args.conn_max_age}  # noqa: F405\n"
                "CONN_HEALTH_CHECKS = True\n"
            )
            runs["persistent"] = "bench_settings"
        figures: dict[str, str] = {}
        for name, module in runs.items():
            run_env = dict(env, DJANGO_SETTINGS_MODULE=module, PYTHONPATH=f"{tmp}:{PROJECT_DIR}")
            say(f"-- {name} settings ({module}); load average {os.getloadavg()[0]:.2f}")
            gunicorn = start_gunicorn(run_env, free_port(), args.workers, tmp / f"access-{name}.log")
            try:
                pid = gunicorn.pid
                result = measure(
                    gunicorn.port, cookies, days, tmp / f"access-{name}.log", args,
                    cpu=lambda pid=pid: cpu_seconds(pid, tmp / "pgdata"),
                )  # fmt: skip
            finally:
                stop_gunicorn(gunicorn)
                gunicorn = None
            figures.update({(k if name == "stock" else f"{name}_{k}"): v for k, v in result.items()})

        p95 = float(figures["server_p95_ms"])
        best = min(float(v) for k, v in figures.items() if k.endswith("server_p95_ms") and "seq" not in k)
        say(
            f"goal: server p95 <= {GOAL_P95_MS:.0f} ms: stock {'met' if p95 <= GOAL_P95_MS else 'NOT met'}"
            f" ({p95:.1f} ms), best {best:.1f} ms"
        )
        head = (
            f"events={args.events} accounts={args.accounts} days={args.days} load_s={load_s:.0f} "
            f"workers={args.workers} clients={args.clients} "
        )
        print(
            head
            + " ".join(f"{k}={v}" for k, v in figures.items())
            + f" goal_p95_ms={GOAL_P95_MS:.0f} load={os.getloadavg()[0]:.2f}",
            flush=True,
        )
    finally:
        if gunicorn is not None:
            stop_gunicorn(gunicorn)
        from mailtrail import database

        server = database._embedded.pop(str(tmp / "pgdata"), None)
        if server is not None:
            server.cleanup()  # stop PostgreSQL before its directory goes
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
