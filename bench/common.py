"""What every benchmark script here shares: printing as it goes, a free local port, --database-url."""

from __future__ import annotations

import argparse
import os
import socket


def say(msg: str) -> None:
    print(msg, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def add_database_url(ap: argparse.ArgumentParser) -> None:
    ap.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", ""),
        help="a server to create a scratch database on (default: $DATABASE_URL, else an "
        "embedded PostgreSQL in a temporary directory)",
    )
