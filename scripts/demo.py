"""`make run`: mailtrail on the embedded PostgreSQL with demo data, a live follower and the site.

Steps: migrate; load the bundled sample logs (samples/) and print `ingest status`; write a
week of generated log ending now to var/demo/mail.log; create the demo users; then run the
follower on that log while a writer appends fresh lines every few seconds, and the Django
development server on http://127.0.0.1:8000/ in the foreground. Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingest.generate import generate_lines, write_log  # noqa: E402

PY = sys.executable
DEMO_ACCOUNTS = 60  # the generator's first two accounts are alice@ and bob@example.edu


def run(*cmd: str, env: dict[str, str]) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=ROOT, env=env, check=True)


def append_live(log: Path, stop: threading.Event, every: float) -> None:
    """Append a few seconds' worth of fresh lines to the demo log, again and again."""
    rng = random.Random()
    while not stop.wait(every):
        lines = list(
            generate_lines(
                rng.randrange(5, 30),
                days=every / 86400,
                accounts=DEMO_ACCOUNTS,
                seed=rng.randrange(1 << 30),
                end=datetime.now().astimezone(),
            )
        )
        with open(log, "a", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    # `kill` stops the demo like Ctrl-C does: children first, then the embedded PostgreSQL
    # (pgserver stops it at exit; a process killed by SIGTERM's default action never exits)
    signal.signal(signal.SIGTERM, _interrupt)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--no-server", action="store_true", help="prepare data and exit (no follower, no site)")
    args = ap.parse_args()

    env = {
        **os.environ,
        "DJANGO_DEBUG": "1",
        "MAILTRAIL_DEMO": "1",
        "DJANGO_SETTINGS_MODULE": "webui.settings",
    }
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
    run(PY, "-m", "ingest", "status", env=env)

    demo_log = var / "demo" / "mail.log"
    if not demo_log.exists():
        demo_log.parent.mkdir(parents=True, exist_ok=True)
        print(f"+ writing a week of demo log to {demo_log}", flush=True)
        write_log(demo_log, lines=60_000, days=7, accounts=DEMO_ACCOUNTS, seed=int(time.time()))
    users = subprocess.run(
        [PY, "manage.py", "demo_users"], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout
    if args.no_server:
        return 0

    children = [subprocess.Popen([PY, "-m", "ingest", "follow", str(demo_log)], cwd=ROOT, env=env)]
    stop = threading.Event()
    threading.Thread(target=append_live, args=(demo_log, stop, 3.0), daemon=True).start()
    print(f"\nmailtrail demo: http://127.0.0.1:{args.port}/  (staff admin: /admin/)")
    print("sign in as (account, password):\n" + users, flush=True)
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
