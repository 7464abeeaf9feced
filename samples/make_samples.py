"""Rebuild the bundled sample logs: `.venv/bin/python samples/make_samples.py` (see README.md)."""

from __future__ import annotations

import gzip
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ingest.generate import generate_lines  # noqa: E402

HERE = Path(__file__).resolve().parent
END = datetime(2026, 11, 27, 9, 40, tzinfo=UTC)
# Debian 12 rotates with logrotate.timer (daily, about midnight): mail.log.1 ends there.
ROTATED_AT = "Nov 25 00:00:00"
LINES, DAYS, ACCOUNTS, SEED = 7_000, 3.2, 60, 2026


def build() -> tuple[str, bytes]:
    """(mail.log text, mail.log.1 text): one continuous log cut where logrotate cut it."""
    lines = list(generate_lines(LINES, DAYS, ACCOUNTS, SEED, END, host="mx1", tz=UTC))
    cut = next(i for i, line in enumerate(lines) if line[:15] >= ROTATED_AT)  # all in November
    old, new = lines[:cut], lines[cut:]
    return "\n".join(new) + "\n", ("\n".join(old) + "\n").encode()


def main() -> None:
    current, rotated = build()
    (HERE / "mail.log").write_text(current, encoding="utf-8")
    # mtime=0: the same bytes on every run, so git sees no change
    (HERE / "mail.log.1.gz").write_bytes(gzip.compress(rotated, 9, mtime=0))


if __name__ == "__main__":
    main()
