"""Soak test: owners and staff sign in and browse while the follower ingests a live log.

Usage: .venv/bin/python bench/soak.py [--duration 600] [--users 16] [--rate 10000] [--think 1.0]
                                      [--relogin 120] [--workers 4] [--owners typical|busiest]
                                      [--alerts [--alerts-share 0.1]]

Everything is real and local: an embedded PostgreSQL in a temporary directory, migrated;
gunicorn with deploy/gunicorn.conf.py; `python -m ingest follow` on a log file that a writer
process appends to at --rate lines/s (the lines come from ingest.generate, written to a
file before the clock starts); and --users simulated people, half mailbox owners and half
help-desk staff, each in its own thread of a load process:
  - an owner (one of --users/2 accounts: by default a seeded random draw from the log's
    accounts; --owners busiest takes its busiest, a worst case) signs in on /accounts/login/ (the real form, captcha in its test mode, the
    password checked by the real IMAP backend against a stand-in IMAP server on the loopback
    that knows the owners' passwords: only the mail server's word makes an owner), then browses its day
    view, yesterday, a range, the timeline, the Message-ID search and the CSV export;
  - a staff member signs in on /admin/login/, then uses the staff search page and the event
    admin's account, IP and today lists.
Each signs out and in again every --relogin seconds, and pauses --think seconds (±50%)
between pages, as a person does. Every request's latency is kept; any status >= 400 (other
than what a step expects), connection error or timeout is an error.

With --alerts, a share of the log's accounts (--alerts-share, the owners among them) has
opted into sign-in alerts and `manage.py send_alerts` runs too, mailing to an aiosmtpd server on the loopback: compare its p95 with a
run without (issue 11: the sender must add < 5 % to it).

Reported: lines written and the rate reached, events stored, follower lag at the end,
requests, errors, and latency percentiles, for all requests and for pages only (sign-in
POSTs hash a password on purpose: they are slow by design and reported apart).
Goal: 0 errors, p95 <= 100 ms. The last line is machine-readable.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing as mp
import os
import random
import re
import secrets
import shutil
import signal
import socket
import socketserver
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlencode

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from bench.common import free_port, say  # noqa: E402
from mailtrail.database import embedded_url  # noqa: E402

GOAL_P95_MS = 100
PASSWORD = "soak-password-%d"
SOAK_SETTINGS = '''"""Soak-test settings: production settings, with the captcha in its test mode (answer "passed")."""
from webui.settings import *  # noqa: F401,F403

CAPTCHA_TEST_MODE = True
SILENCED_SYSTEM_CHECKS = ["accounts.E001"]
'''


class StandInImap(socketserver.ThreadingTCPServer):
    """A loopback IMAP server that answers LOGIN for the soak's owners, and nothing more.

    The site's ImapBackend asks it exactly as it asks Dovecot (CAPABILITY, LOGIN, LOGOUT,
    security none on the loopback), so an owner's session is made the one way a real owner's
    is; a wrong password gets the NO a real server gives.
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, passwords: dict[str, str]) -> None:
        self.passwords = passwords
        super().__init__(("127.0.0.1", 0), _ImapHandler)


class _ImapHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        self.wfile.write(b"* OK soak IMAP stand-in ready\r\n")
        for raw in self.rfile:
            tag, _, rest = raw.decode("utf-8", "replace").strip().partition(" ")
            command, _, args = rest.partition(" ")
            command = command.upper()
            if command == "CAPABILITY":
                self.wfile.write(f"* CAPABILITY IMAP4rev1\r\n{tag} OK done\r\n".encode())
            elif command == "LOGIN":
                user, _, password = args.partition(" ")
                user, password = (
                    user.strip('"'),
                    password.strip('"').replace('\\"', '"').replace("\\\\", "\\"),
                )
                ok = self.server.passwords.get(user) == password
                self.wfile.write(f"{tag} {'OK' if ok else 'NO [AUTHENTICATIONFAILED]'} done\r\n".encode())
            elif command == "LOGOUT":
                self.wfile.write(f"* BYE\r\n{tag} OK done\r\n".encode())
                return
            else:
                self.wfile.write(f"{tag} OK done\r\n".encode())


def tree_cpu(root: int) -> float:
    """CPU seconds of a process and its descendants (live ones, and the dead it has waited for)."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, list[str]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    stats[int(entry)] = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
    children: dict[int, list[int]] = {}
    for pid, fields in stats.items():
        children.setdefault(int(fields[1]), []).append(pid)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            f = stats[pid]
            total += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])  # utime stime cutime cstime
        todo += children.get(pid, [])
    return total / tick


# --- the log writer --------------------------------------------------------------------


def write_at_rate(source: str, target: str, rate: int, duration: float, done: mp.Value) -> None:
    """Append `source`'s lines to `target` at `rate` lines/s for `duration` seconds."""
    start = time.monotonic()
    written = 0
    with open(source, "rb") as src, open(target, "ab", buffering=0) as out:
        while True:
            elapsed = time.monotonic() - start
            if elapsed >= duration:
                break
            due = int(rate * elapsed) - written
            if due > 0:
                chunk = b"".join(src.readline() for _ in range(due))
                if not chunk:
                    break
                out.write(chunk)
                written += due
            time.sleep(0.05)
    done.value = written


# --- the simulated people --------------------------------------------------------------


class Browser:
    """One person's HTTP/1.1 connection with its cookies."""

    def __init__(self, port: int, record) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}
        self.record = record
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def request(self, method: str, path: str, body: dict | None = None, expect=(200,), kind="page") -> str:
        headers = {"Host": "127.0.0.1", "Accept-Language": "zh-hant"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        data = None
        if body is not None:
            data = urlencode(body, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Referer"] = f"http://127.0.0.1:{self.port}{path}"
        t = time.perf_counter()
        try:
            self.conn.request(method, path, body=data, headers=headers)
            response = self.conn.getresponse()
            text = response.read().decode("utf-8", "replace")
        except (OSError, http.client.HTTPException) as exc:
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.record(kind, (time.perf_counter() - t) * 1000, f"{method} {path}: {exc!r}", path)
            return ""
        ms = (time.perf_counter() - t) * 1000
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        error = None if response.status in expect else f"{method} {path}: HTTP {response.status}"
        self.record(kind, ms, error, path)
        return text

    def csrf(self, html: str) -> str:
        found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
        return found.group(1) if found else ""


def owner_session(b: Browser, account: str, password: str) -> None:
    local = account.split("@")[0]
    page = b.request("GET", "/accounts/login/")
    key = re.search(r'name="captcha_0" value="([^"]+)"', page)
    form = {
        "csrfmiddlewaretoken": b.csrf(page),
        "account": local,
        "domain": "example.edu",
        "password": password,
        "captcha_0": key.group(1) if key else "",
        "captcha_1": "passed",
        "next": "/",
    }
    b.request("POST", "/accounts/login/", form, expect=(302,), kind="signin")


def owner_pages(msgids: list[str]) -> list[str]:
    today = date.today()
    return [
        "/",
        "/?" + urlencode({"date": (today - timedelta(days=1)).isoformat()}),
        "/?" + urlencode({"date": (today - timedelta(days=6)).isoformat(), "end": today.isoformat()}),
        "/timeline.svg",
        "/search/?" + urlencode({"q": random.choice(msgids) if msgids else "<none@example.org>"}),
        "/export.csv",
    ]


def staff_session(b: Browser, name: str, password: str) -> None:
    page = b.request("GET", "/admin/login/?next=/admin/")
    key = re.search(r'name="captcha_0" value="([^"]+)"', page)
    form = {
        "csrfmiddlewaretoken": b.csrf(page),
        "username": name,
        "password": password,
        "captcha_0": key.group(1) if key else "",
        "captcha_1": "passed",
        "next": "/admin/",
    }
    b.request("POST", "/admin/login/?next=/admin/", form, expect=(302,), kind="signin")


def staff_pages(owners: list[str], ips: list[str]) -> list[str]:
    account = random.choice(owners)
    return [
        "/staff/?" + urlencode({"account": account}),
        "/admin/records/event/?" + urlencode({"q": account}),
        "/admin/records/event/?" + urlencode({"q": random.choice(ips) if ips else "192.0.2.1"}),
        "/admin/records/event/",
    ]


def sign_out(b: Browser, path: str) -> None:
    page = b.request("GET", "/" if path.startswith("/accounts") else "/admin/")
    b.request("POST", path, {"csrfmiddlewaretoken": b.csrf(page)}, expect=(200, 302), kind="signout")
    b.cookies.clear()


def page_name(path: str) -> str:
    """The page a path shows, for the per-page table: the path, and which admin list."""
    base, _, query = path.partition("?")
    if base == "/admin/records/event/":
        if not query:
            return base + " (today)"
        return base + (" (ip search)" if re.search(r"q=[0-9.]+$", query) else " (account search)")
    return base + (" (a past period)" if query and base == "/" else "")


def person(i: int, port: int, plan: dict, stop: threading.Event, record) -> None:
    rng = random.Random(i)
    b = Browser(port, record)
    owner = i % 2 == 0
    while not stop.is_set():
        started = time.monotonic()
        if owner:
            account = plan["owners"][i // 2 % len(plan["owners"])]
            owner_session(b, account, PASSWORD % (i // 2 % len(plan["owners"])))
        else:
            staff_session(b, f"staff{i // 2}", PASSWORD % (100 + i // 2))
        while not stop.is_set() and time.monotonic() - started < plan["relogin"]:
            pages = owner_pages(plan["msgids"]) if owner else staff_pages(plan["owners"], plan["ips"])
            for path in pages:
                if stop.is_set():
                    break
                b.request("GET", path)
                stop.wait(plan["think"] * rng.uniform(0.5, 1.5))
        if not stop.is_set():
            sign_out(b, "/accounts/logout/" if owner else "/admin/logout/")


def load(port: int, plan: dict, users: int, duration: float, results: mp.Queue) -> None:
    """The load process: `users` people in threads for `duration` seconds."""
    lock = threading.Lock()
    samples: list[tuple[str, float]] = []
    errors: list[str] = []

    def record(kind: str, ms: float, error: str | None, path: str) -> None:
        with lock:
            samples.append((kind, ms, page_name(path)))
            if error:
                errors.append(error)

    stop = threading.Event()
    threads = [
        threading.Thread(target=person, args=(i, port, plan, stop, record), daemon=True) for i in range(users)
    ]
    arrival = min(30.0, duration / 10) / users  # people arrive one by one, not in one instant
    for t in threads:
        t.start()
        time.sleep(arrival)
    stop.wait(max(0.0, duration - arrival * users))
    stop.set()
    for t in threads:
        t.join(timeout=40)
    results.put((samples, errors))


# --- setup -----------------------------------------------------------------------------


def django_env(url: str, tmp: Path, settings: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": settings,
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_HTTPS": "no",  # plain HTTP on the loopback; TLS is the proxy's
        "MAILTRAIL_DOMAINS": "example.edu",
        "PYTHONPATH": f"{tmp}{os.pathsep}{PROJECT_DIR}",
    }


def prepare(url: str, env: dict[str, str], subscribers: list[str], staff: int) -> None:
    """Migrate, then create the help-desk staff (owners are made by their first sign-in) and
    the alert subscriptions of `subscribers`."""
    subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head"], cwd=PROJECT_DIR, env=env, check=True)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--verbosity", "0"], cwd=PROJECT_DIR, env=env, check=True
    )
    script = f"""
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
User = get_user_model()
group, _ = Group.objects.get_or_create(name="help desk")
group.permissions.add(*Permission.objects.filter(codename__in=["view_any_mailbox", "view_event"]))
from datetime import timedelta
from django.utils import timezone
from webui.alerts.models import Subscription
Subscription.objects.bulk_create([Subscription(account=a, email=a, language="en", opted_in_at=timezone.now() - timedelta(days=1))
                                  for a in {subscribers!r}])
for i in range({staff}):
    u = User.objects.create_user(f"staff{{i}}", password={PASSWORD!r} % (100 + i), is_staff=True)
    u.groups.add(group)
"""
    subprocess.run([sys.executable, "manage.py", "shell", "-c", script], cwd=PROJECT_DIR, env=env, check=True)


class Mailed:
    """aiosmtpd handler that counts the alerts it is handed."""

    count = 0

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's name)
        self.count += 1
        return "250 OK"


def percentile(sorted_ms: list[float], p: float) -> float:
    if not sorted_ms:
        return 0.0
    return sorted_ms[min(len(sorted_ms) - 1, round(p * (len(sorted_ms) - 1)))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=600, help="seconds of load (default: 600)")
    ap.add_argument("--users", type=int, default=16, help="concurrent people, half owners (default: 16)")
    ap.add_argument("--rate", type=int, default=10_000, help="log lines per second appended (default: 10000)")
    ap.add_argument(
        "--think", type=float, default=1.0, help="mean seconds between a person's pages (default: 1)"
    )
    ap.add_argument(
        "--relogin", type=float, default=120, help="seconds between a person's sign-ins (default: 120)"
    )
    ap.add_argument("--workers", type=int, default=4, help="gunicorn workers (default: 4)")
    ap.add_argument(
        "--owners", choices=("typical", "busiest"), default="typical",
        help="which accounts the owners are: a seeded random draw from the log's accounts (default), "
        "or its busiest ones (a worst case: tens of thousands of events a day each)",
    )  # fmt: skip
    ap.add_argument(
        "--alerts", action="store_true",
        help="accounts opt into sign-in alerts (see --alerts-share) and `manage.py send_alerts` runs during the soak",
    )  # fmt: skip
    ap.add_argument(
        "--alerts-share", type=float, default=0.1,
        help="with --alerts, the share of the log's accounts opted in, the owners always among them (default: 0.1)",
    )  # fmt: skip
    args = ap.parse_args()

    say("load average {:.2f} {:.2f} {:.2f} (2 cores, shared)".format(*os.getloadavg()))
    tmp = Path(tempfile.mkdtemp(prefix="mailtrail-soak-"))
    tmp.chmod(0o755)  # as root, pgserver runs the server as its own user
    procs: list[subprocess.Popen] = []
    try:
        url = embedded_url(tmp / "pgdata", "mailtrail_soak")
        (tmp / "soak_settings.py").write_text(SOAK_SETTINGS)
        env = django_env(url, tmp, "webui.settings")

        lines = int(args.rate * args.duration * 1.05)
        say(f"generating {lines:,} log lines")
        from ingest.generate import write_log

        source, live = tmp / "source.log", tmp / "mail.log"
        # the log spans the soak's length, ending now: the owners' "today" fills as it is read
        write_log(source, lines, days=args.duration / 86400, accounts=2000, seed=7)
        msgids, ips, seen = set(), set(), {}
        with open(source, encoding="utf-8", errors="replace") as fh:
            head = [fh.readline() for _ in range(200_000)]
        for line in head:
            if m := re.search(r"user=<([a-z.]+\d*@example\.edu)>", line):
                seen[m.group(1)] = seen.get(m.group(1), 0) + 1
            if m := re.search(r"msgid=(<[^ ,>]+>)", line):
                msgids.add(m.group(1))
            if m := re.search(r"rip=([0-9.]+),", line):
                ips.add(m.group(1))
        by_activity = sorted(seen, key=lambda a: (-seen[a], a))
        if args.owners == "busiest":  # the generator's busiest accounts: alice alone is 2 % of the log
            owners = by_activity[: args.users // 2]
        else:  # people as they come: a seeded draw from every account in the log
            owners = random.Random(7).sample(sorted(seen), min(len(seen), args.users // 2))
        say("owners' events in the first 200,000 lines: " + ", ".join(str(seen[a]) for a in owners)
            + f" (median account {seen[by_activity[len(by_activity) // 2]]}, busiest {seen[by_activity[0]]})")  # fmt: skip
        subscribers: list[str] = []
        if args.alerts:
            others = [a for a in sorted(seen) if a not in owners]
            share = round(args.alerts_share * len(seen)) - len(owners)
            subscribers = owners + random.Random(8).sample(others, max(0, min(len(others), share)))
            say(f"alerts: {len(subscribers)} of {len(seen)} accounts opted in")
        prepare(url, env, subscribers, args.users - args.users // 2)
        live.touch()

        imap = StandInImap({account: PASSWORD % i for i, account in enumerate(owners)})
        threading.Thread(target=imap.serve_forever, daemon=True).start()
        port = free_port()
        web_env = {**django_env(url, tmp, "soak_settings"), "MAILTRAIL_BIND": f"127.0.0.1:{port}",
                   "MAILTRAIL_WEB_WORKERS": str(args.workers), "MAILTRAIL_IMAP_HOST": "127.0.0.1",
                   "MAILTRAIL_IMAP_PORT": str(imap.server_address[1]), "MAILTRAIL_IMAP_SECURITY": "none"}  # fmt: skip
        web_log = open(tmp / "web.log", "w")
        procs.append(
            subprocess.Popen(
                [str(Path(sys.executable).parent / "gunicorn"), "--config", "deploy/gunicorn.conf.py"],
                cwd=PROJECT_DIR, env=web_env, stdout=web_log, stderr=subprocess.STDOUT,
            )
        )  # fmt: skip
        follow_log = open(tmp / "follow.log", "w")
        follower = subprocess.Popen(
            [sys.executable, "-m", "ingest", "follow", "--read-from", "beginning", str(live)],
            cwd=PROJECT_DIR, env=env, stdout=follow_log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        procs.append(follower)
        mailed = None
        if args.alerts:
            from aiosmtpd.controller import Controller

            mailed = Mailed()
            smtp = Controller(mailed, hostname="127.0.0.1", port=free_port())
            smtp.start()
            alerts_env = {**env, "EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(smtp.port),
                          "MAILTRAIL_SITE_URL": "https://mailtrail.example.edu"}  # fmt: skip
            alerts_log = open(tmp / "alerts.log", "w")
            procs.append(
                subprocess.Popen(
                    [sys.executable, "manage.py", "send_alerts"],
                    cwd=PROJECT_DIR, env=alerts_env, stdout=alerts_log, stderr=subprocess.STDOUT,
                )
            )  # fmt: skip
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)

        say(f"soak: {args.duration:.0f} s, {args.users} people ({len(owners)} owners' accounts), "
            f"{args.rate:,} lines/s, {args.workers} gunicorn workers")  # fmt: skip
        written = mp.Value("q", 0)
        results: mp.Queue = mp.Queue()
        plan = {"owners": owners, "msgids": sorted(msgids)[:200], "ips": sorted(ips)[:200],
                "think": args.think, "relogin": args.relogin}  # fmt: skip
        writer = mp.Process(
            target=write_at_rate, args=(str(source), str(live), args.rate, args.duration, written)
        )
        loader = mp.Process(target=load, args=(port, plan, args.users, args.duration, results))
        postmaster = int((tmp / "pgdata" / "postmaster.pid").read_text().split()[0])
        parts = {"web": procs[0].pid, "follower": follower.pid, "postgres": postmaster}
        if args.alerts:
            parts["alerts"] = procs[-1].pid
        cpu0 = {name: tree_cpu(pid) for name, pid in parts.items()}
        t0 = time.monotonic()
        writer.start()
        loader.start()
        samples, errors = results.get()
        cpu = {name: tree_cpu(pid) - cpu0[name] for name, pid in parts.items()}
        loader.join()
        writer.join()
        wall = time.monotonic() - t0

        # the follower's lag: how long after the writer stops until every line is stored
        size = live.stat().st_size
        import psycopg

        caught_up = None
        t_end = time.monotonic()
        with psycopg.connect(url, autocommit=True) as conn:
            while time.monotonic() - t_end < 120:
                offset = conn.execute("SELECT coalesce(max(byte_offset), 0) FROM source").fetchone()[0]
                if offset >= size:
                    caught_up = time.monotonic() - t_end
                    break
                time.sleep(0.5)
            events = conn.execute("SELECT count(*) FROM event").fetchone()[0]
            lookups = conn.execute("SELECT count(*) FROM webui_staff_lookup").fetchone()[0]
            alert_rows = conn.execute("SELECT count(*) FROM alerts_alert").fetchone()[0]
            behind = conn.execute(
                "SELECT (SELECT max(id) FROM event) - coalesce((SELECT last_id FROM alerts_checkpoint), 0)"
            ).fetchone()[0]
        follower.send_signal(signal.SIGTERM)
        follower_rc = follower.wait(timeout=60)

        pages = sorted(ms for kind, ms, _ in samples if kind == "page")
        every = sorted(ms for _kind, ms, _ in samples)
        signins = sorted(ms for kind, ms, _ in samples if kind == "signin")
        say(f"lines written {written.value:,} in {args.duration:.0f} s ({written.value / args.duration:,.0f}/s); "
            f"events stored {events:,}; follower caught up {caught_up if caught_up is None else round(caught_up, 1)} s "
            f"after the writer stopped; follower exit {follower_rc}")  # fmt: skip
        say(f"requests {len(every):,} ({len(every) / wall:.1f}/s), sign-ins {len(signins)}, "
            f"staff lookups audited {lookups:,}, errors {len(errors)}")  # fmt: skip
        for e in sorted(set(errors))[:20]:
            say(f"  error: {e} (x{errors.count(e)})")
        say(f"pages: p50 {percentile(pages, 0.5):.1f} ms, p95 {percentile(pages, 0.95):.1f} ms, "
            f"p99 {percentile(pages, 0.99):.1f} ms; sign-in POST p50 {percentile(signins, 0.5):.0f} ms")  # fmt: skip
        say("CPU seconds during the load: " + ", ".join(f"{k} {v:.0f}" for k, v in cpu.items())
            + f" (the machine has {os.cpu_count()} cores x {wall:.0f} s = {os.cpu_count() * wall:.0f})")  # fmt: skip
        by_page: dict[str, list[float]] = {}
        for kind, ms, name in samples:
            by_page.setdefault(f"{kind:7} {name}", []).append(ms)
        for name, values in sorted(by_page.items()):
            values.sort()
            say(
                f"  {name:48} n={len(values):5}  p50 {percentile(values, 0.5):7.1f}  p95 {percentile(values, 0.95):7.1f} ms"
            )
        if args.alerts:
            say(
                f"alerts: {alert_rows} decided, {mailed.count} mailed; the sender was {behind} event ids behind at the end"
            )
        say("load average at the end {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
        say(f"goal: 0 errors and p95 <= {GOAL_P95_MS} ms (all requests): "
            f"{'met' if not errors and percentile(every, 0.95) <= GOAL_P95_MS else 'NOT met'}")  # fmt: skip
        fields = {
            "duration_s": round(args.duration),
            "users": args.users,
            "owners": args.owners,
            "alerts_share": args.alerts_share if args.alerts else 0,
            "lines_per_s": round(written.value / args.duration),
            "events": events,
            "caught_up_s": -1 if caught_up is None else round(caught_up, 1),
            "requests": len(every),
            "errors": len(errors),
            "p50_ms": round(percentile(every, 0.5), 1),
            "p95_ms": round(percentile(every, 0.95), 1),
            "pages_p95_ms": round(percentile(pages, 0.95), 1),
            "signin_p50_ms": round(percentile(signins, 0.5)),
            "mean_ms": round(statistics.fmean(every), 1) if every else 0,
            **{f"{k}_cpu_s": round(v) for k, v in cpu.items()},
        }
        print(" ".join(f"{k}={v}" for k, v in fields.items()), flush=True)
        return 0 if not errors else 1
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=40)
                except subprocess.TimeoutExpired:
                    p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
