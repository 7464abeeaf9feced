"""`make run`: mailtrail on the embedded PostgreSQL with demo data, a live follower and the site.

Steps: migrate; load the bundled sample logs (samples/) and print `ingest status`; write a
week of generated log ending now to var/demo/mail.log (or, when it is there from an earlier
run, the time since that run); create the demo users; then run the follower on that log while
a writer appends fresh lines every few seconds, and the Django development server on
http://127.0.0.1:8000/ in the foreground. Ctrl-C stops everything; the next run goes on.

The log tells the seed's story (ingest/generate.py, STORY_*): alice's old PC on the campus
network fetches and deletes her mail over POP3 every ten minutes, her phone reads it over
IMAP from a mobile network, and someone abroad now and then tries her password; every two
minutes the live log adds a sign-in of hers from a carrier network never seen before, which an
owner who opts in at /alerts/ gets an alert about (the alert sender runs too; in demo mode its
mail lands in files under var/mail/, whose path the demo prints). The demo's
zone is Asia/Taipei (MAILTRAIL_TZ) and its campus 10.16.0.0/12 (MAILTRAIL_CAMPUS_NETWORKS),
unless the environment says otherwise.
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingest.generate import STORY_ACCOUNT, STORY_OLD_PC_IP, generate_lines, write_log  # noqa: E402

PY = sys.executable
DEMO_ACCOUNTS = 60  # the generator's first two accounts are alice@ and bob@example.edu
WEEK_LINES = 60_000
# The log's first line is written with the story since this version; an older demo log is set aside.
STORY_MARK = "written-until"
# seconds between the live log's sign-ins of alice from a network she never used (an alert
# for her once she opts in at /alerts/)
STORY_NEW_NETWORK = 120  # beside the log: when the demo last appended to it (epoch seconds)


def run(*cmd: str, env: dict[str, str]) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=ROOT, env=env, check=True)


def append(log: Path, lines: int, since: datetime, until: datetime, zone: ZoneInfo, seed: int) -> None:
    """Append the log of [since, until) (the story's episodes on top of `lines` others)."""
    days = max((until - since).total_seconds(), 1.0) / 86400
    text = list(
        generate_lines(lines, days=days, accounts=DEMO_ACCOUNTS, seed=seed, end=until, tz=zone, story=True)
    )
    with open(log, "a", encoding="utf-8") as fh:
        if text:
            fh.write("\n".join(text) + "\n")
    (log.parent / STORY_MARK).write_text(f"{until.timestamp():.0f}\n")


def write_demo_log(log: Path, zone: ZoneInfo, lines: int) -> None:
    """A week of log ending now; or, after an earlier run, the time since it (up to a week)."""
    now = datetime.now(zone)
    mark = log.parent / STORY_MARK
    if log.exists() and not mark.exists():
        # a log from before the story (and maybe another zone): the follower leaves it be
        log.rename(log.with_name("mail.log.before-story"))
    if not log.exists():
        log.parent.mkdir(parents=True, exist_ok=True)
        print(f"+ writing a week of demo log to {log}", flush=True)
        write_log(
            log, lines=lines, days=7, accounts=DEMO_ACCOUNTS, seed=int(time.time()), tz=zone, story=True
        )
        mark.write_text(f"{now.timestamp():.0f}\n")
        return
    since = max(datetime.fromtimestamp(float(mark.read_text()), zone), now - timedelta(days=7))
    gap = (now - since).total_seconds()
    if gap > 1:
        print(f"+ appending the {gap / 3600:.1f} hours since the last run to {log}", flush=True)
        append(log, int(lines * gap / (7 * 86400)), since, now, zone, int(time.time()))


def new_network_sign_in(now: datetime, rng: random.Random) -> str:
    """alice's phone signing in from a carrier network (100.64.0.0/10) it never used: an alert."""
    ip = f"100.{rng.randrange(64, 128)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    session = base64.b64encode(rng.randbytes(12)).decode()
    return (
        f"{now:%b} {now.day:>2} {now:%H:%M:%S} mx1 dovecot: imap-login: Login: user=<{STORY_ACCOUNT}>, "
        f"method=PLAIN, rip={ip}, lip=192.0.2.10, mpid={rng.randrange(300, 99999)}, TLS, session=<{session}>"
    )


def append_live(log: Path, stop: threading.Event, every: float, zone: ZoneInfo) -> None:
    """Append a few seconds' worth of fresh lines to the demo log, again and again."""
    rng = random.Random()
    since = datetime.fromtimestamp(float((log.parent / STORY_MARK).read_text()), zone)
    next_alert = time.monotonic() + STORY_NEW_NETWORK / 2
    while not stop.wait(every):
        now = datetime.now(zone)
        append(log, rng.randrange(5, 30), since, now, zone, rng.randrange(1 << 30))
        if time.monotonic() >= next_alert:
            with open(log, "a", encoding="utf-8") as fh:
                fh.write(new_network_sign_in(now, rng) + "\n")
            next_alert = time.monotonic() + STORY_NEW_NETWORK
        since = now


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    # `kill` stops the demo like Ctrl-C does: children first, then the embedded PostgreSQL
    # (pgserver stops it at exit; a process killed by SIGTERM's default action never exits)
    signal.signal(signal.SIGTERM, _interrupt)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--no-server", action="store_true", help="prepare data and exit (no follower, no site)")
    ap.add_argument(
        "--lines",
        type=int,
        default=WEEK_LINES,
        help=f"lines of the demo's week of log (default {WEEK_LINES})",
    )
    args = ap.parse_args()
    try:
        return demo(args)
    except KeyboardInterrupt:  # Ctrl-C while preparing: the children have stopped too
        return 130


def demo(args: argparse.Namespace) -> int:
    env = {
        "MAILTRAIL_TZ": "Asia/Taipei",  # the zone of the site the demo stands for
        "MAILTRAIL_CAMPUS_NETWORKS": "10.16.0.0/12",  # the generator's campus
        "MAILTRAIL_SITE_URL": f"http://127.0.0.1:{args.port}",  # the alerts' links
        **os.environ,
        "DJANGO_DEBUG": "1",
        "MAILTRAIL_DEMO": "1",
        "DJANGO_SETTINGS_MODULE": "webui.settings",
    }
    zone = ZoneInfo(env["MAILTRAIL_TZ"])
    var = Path(env.get("MAILTRAIL_VAR_DIR", ROOT / "var"))
    var.mkdir(parents=True, exist_ok=True)
    var.chmod(0o755)  # as root, the embedded server runs as its own user and must get in
    if not env.get("DATABASE_URL"):
        # hold the embedded server for the whole demo: `ingest status` joins a running server
        # and never starts one, and each child would otherwise stop it when it exits
        os.environ["MAILTRAIL_VAR_DIR"] = str(var)
        from mailtrail.database import database_url

        database_url()

    run(PY, "-m", "alembic", "upgrade", "head", env=env)
    run(PY, "manage.py", "migrate", "--verbosity", "0", env=env)
    run(
        PY,
        "-m",
        "ingest",
        "backfill",
        "--progress",
        "never",
        "--tz",
        "UTC",
        "samples/mail.log.1.gz",
        "samples/mail.log",
        env=env,
    )
    # Non-zero when a source is behind or stalled: after an earlier run, the demo log is
    # behind by what was appended after its follower stopped. The follower below catches up.
    print("+ python -m ingest status", flush=True)
    status = subprocess.run([PY, "-m", "ingest", "status"], cwd=ROOT, env=env)
    if status.returncode != 0:
        print(f"  (ingest status exited {status.returncode}: the follower below catches up)", flush=True)

    demo_log = var / "demo" / "mail.log"
    write_demo_log(demo_log, zone, args.lines)
    users = subprocess.run(
        [PY, "manage.py", "demo_users"], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout
    if args.no_server:
        return 0

    children = [subprocess.Popen([PY, "-m", "ingest", "follow", str(demo_log)], cwd=ROOT, env=env)]
    # the alert sender; without EMAIL_HOST, demo mode writes each alert into a file there
    children.append(subprocess.Popen([PY, "manage.py", "send_alerts"], cwd=ROOT, env=env))
    mailbox = (
        f"{env['EMAIL_HOST']}:{env.get('EMAIL_PORT', '25')} (SMTP)" if env.get("EMAIL_HOST") else var / "mail"
    )
    stop = threading.Event()
    threading.Thread(target=append_live, args=(demo_log, stop, 3.0, zone), daemon=True).start()
    print(f"\nmailtrail demo: http://127.0.0.1:{args.port}/  (time zone {zone.key})")
    print(
        "mailbox owners sign in there; help-desk staff at /admin/ (its index links the staff search, /staff/)"
    )
    print("(account or user, password):")
    for line in users.splitlines():
        print("  " + line + ("" if "@" in line.split("\t")[0] else "\t(help-desk staff)"))
    print(f"alice's old PC is {STORY_OLD_PC_IP}: it fetches and deletes her mail over POP3 every ten minutes")
    print(
        f"every {STORY_NEW_NETWORK // 60} minutes her phone signs in from a carrier network it never used; "
        "sign in as alice and turn on alerts (/alerts/) to get one"
    )
    print(f"sign-in alerts an owner turns on at /alerts/ are delivered to: {mailbox}\n", flush=True)
    try:
        server = subprocess.Popen(
            [PY, "manage.py", "runserver", f"127.0.0.1:{args.port}", "--noreload"], cwd=ROOT, env=env
        )
        children.append(server)
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        for child in children:
            if child.poll() is None:
                # SIGTERM, not SIGINT: a demo started in the background from a script inherits
                # SIGINT ignored, and so do its children
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
