"""No line can stop the sink: backfill and follow over a generated log that is mostly hostile.

20 MB of random bytes, 20,000 Latin-1 lines, 4,000-character and NUL-bearing user names, years
1, 1970 and 9999, a clock three days ahead and a 70 KiB line, interleaved with 20,000 valid
logins (tests/hostile_log.py). For both commands: every valid event stored exactly once, each
hostile line in bad_line with a reason, each line counted once, no partition for an
implausible time, peak memory under 100 MB, exit 0.
"""

import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from tests.conftest import PROJECT_DIR
from tests.hostile_log import write_hostile_log
from tests.test_follow import wait_until

pytestmark = pytest.mark.usefixtures("clean_db")

MAX_RSS_MB = 100
ENV = {
    "MAILTRAIL_TZ": "UTC",
    "MAILTRAIL_RETENTION_DAYS": "180",
    "MAILTRAIL_FOLLOW_RETENTION_HOURS": "0",
    "MAILTRAIL_FOLLOW_BATCH_SECONDS": "0.05",
}


# Runs a command and says its peak RSS from wait4(). Through this small process, because a
# child's peak starts at its parent's size when it forks (pytest holds the whole log's plan).
PEAK_RSS = (
    "import os, subprocess, sys; p = subprocess.Popen(sys.argv[1:]); _, st, ru = os.wait4(p.pid, 0); "
    "print(f'peak_rss_kb={ru.ru_maxrss}', file=sys.stderr); sys.exit(os.waitstatus_to_exitcode(st))"
)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    return write_hostile_log(tmp_path_factory.mktemp("hostile") / "mail.log")


def partitions(engine) -> set[str]:
    with engine.connect() as conn:
        return set(
            conn.execute(
                sa.text(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "WHERE i.inhparent = 'event'::regclass"
                )  # fmt: skip
            ).scalars()
        )


def assert_stored_exactly_as_planned(engine, hostile) -> None:
    with engine.connect() as conn:
        sessions = Counter(conn.execute(sa.text("SELECT session FROM event")).scalars())
        bad = dict(conn.execute(sa.text("SELECT line_offset, reason FROM bad_line")).all())
        src = conn.execute(sa.text("SELECT lines, events, skipped, bad_lines, byte_offset FROM source")).one()
    # every valid event exactly once, and nothing else became an event
    assert sessions == Counter(hostile.valid)
    # each hostile line in bad_line with a reason; a repaired line's reason says so
    assert set(bad) == set(hostile.hostile)
    assert all(bad[o].startswith("repaired: invalid UTF-8") for o in hostile.repaired)
    reasons = Counter(hostile.hostile[o] for o, why in bad.items() if why)
    assert reasons == Counter(hostile.hostile.values())
    assert all("longer than 320" in bad[o] for o, k in hostile.hostile.items() if k == "long-user")
    assert all("NUL bytes inside" in bad[o] for o, k in hostile.hostile.items() if k.startswith("nul"))
    assert all(
        "retention window" in bad[o] for o, k in hostile.hostile.items() if k in ("year-1", "year-1970")
    )
    assert all(
        "after the newest" in bad[o] for o, k in hostile.hostile.items() if k in ("year-9999", "clock-jump")
    )
    # each line counted in exactly one place: a repaired line is an event, not also a bad line
    assert src.lines == hostile.lines
    assert src.events == len(hostile.valid)
    assert src.bad_lines == len(hostile.hostile) - len(hostile.repaired)
    assert src.lines == src.events + src.skipped + src.bad_lines
    assert src.byte_offset == hostile.size


def new_months_are_only_this_hour(before: set[str], after: set[str]) -> bool:
    now = datetime.now(UTC)
    return all(name.endswith(f"{now.year:04d}_{now.month:02d}") or name.endswith(
        f"{now.year:04d}_{now.month - 1:02d}") for name in after - before)  # fmt: skip


def test_backfill_stores_every_valid_line_once_and_keeps_each_hostile_one(hostile, engine):
    before = partitions(engine)
    proc = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, sys.executable, "-m", "ingest", "backfill", "--progress", "never",
         str(hostile.path)],
        cwd=PROJECT_DIR, env={**os.environ, **ENV}, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    stderr, peak = proc.stderr.rsplit("peak_rss_kb=", 1)
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert_stored_exactly_as_planned(engine, hostile)
    assert new_months_are_only_this_hour(before, partitions(engine)), partitions(engine) - before
    assert int(peak) / 1024 <= MAX_RSS_MB, f"peak RSS {int(peak) / 1024:.0f} MB"
    # and a rerun changes nothing
    again = subprocess.run(
        [sys.executable, "-m", "ingest", "backfill", "--progress", "never", str(hostile.path)],
        cwd=PROJECT_DIR, env={**os.environ, **ENV}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert_stored_exactly_as_planned(engine, hostile)


def test_follow_stores_every_valid_line_once_and_keeps_each_hostile_one(hostile, engine, tmp_path):
    before = partitions(engine)
    err = tmp_path / "follow.err"
    with open(err, "wb") as errors:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ingest", "follow", str(hostile.path)],
            cwd=PROJECT_DIR, env={**os.environ, **ENV}, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=errors,
        )  # fmt: skip
        try:

            def caught_up() -> bool:
                with engine.connect() as conn:
                    done = conn.execute(sa.text("SELECT byte_offset FROM source")).scalar()
                return done == hostile.size or proc.poll() is not None

            assert wait_until(caught_up, timeout=240, interval=0.5), err.read_text(errors="replace")
            status = open(f"/proc/{proc.pid}/status").read()
            peak_kb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0, err.read_text(errors="replace")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    said = err.read_text(errors="replace")
    assert "Traceback" not in said and "database unavailable" not in said
    assert_stored_exactly_as_planned(engine, hostile)
    assert new_months_are_only_this_hour(before, partitions(engine)), partitions(engine) - before
    assert peak_kb / 1024 <= MAX_RSS_MB, f"peak RSS {peak_kb / 1024:.0f} MB"
