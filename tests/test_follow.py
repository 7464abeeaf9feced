"""The follower as a real process on real files: latency, complete lines, SIGTERM, restarts, read-from."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from ingest.watch import Pattern, belongs_to, discover, looks_rotated, name_prefixes, parse_patterns
from mailtrail.env import ConfigError

PROJECT_DIR = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)


# ------------------------------------------------------------------------ shared helpers
# (imported by the other test_follow_* modules)


def login_line(n: int, host: str = "mx1") -> bytes:
    """An rsyslog (RFC 3339) line whose session id is its unique number."""
    ts = (T0 + timedelta(milliseconds=n)).isoformat(timespec="microseconds")
    return (
        f"{ts} {host} dovecot: imap-login: Login: user=<alice@example.edu>, method=PLAIN, "
        f"rip=192.0.2.{n % 250 + 1}, lip=192.0.2.254, mpid={1000 + n % 30000}, "
        f"session=<S{n:015d}>\n"
    ).encode()


def session_of(n: int) -> str:
    return f"S{n:015d}"


def sessions(engine: sa.Engine) -> Counter:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT session FROM event WHERE kind = 'login'")).scalars().all()
    return Counter(rows)


def wait_until(predicate, timeout: float, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


class FollowProcess:
    """`python -m ingest follow …` as a child process, its stderr kept in a file."""

    def __init__(self, tmp: Path, args: list[str], env: dict[str, str] | None = None) -> None:
        self.log_path = tmp / f"follow-{time.monotonic_ns()}.err"
        self._err = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        # retention off: it would drop old months' partitions other tests of this session use
        full_env = {
            **os.environ,
            "MAILTRAIL_FOLLOW_BATCH_SECONDS": "0.05",
            "MAILTRAIL_FOLLOW_RETENTION_HOURS": "0",
            **(env or {}),
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ingest", "follow", *args],
            cwd=PROJECT_DIR,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._err,
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 20) -> None:
        """Until its first scan is done (it says what it opened or that it follows)."""
        assert wait_until(lambda: "ready: " in self.output() or self.proc.poll() is not None, timeout)
        assert self.proc.poll() is None, self.output()

    def terminate(self, timeout: float = 10) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        finally:
            self.stop()

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)
        self._err.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._err.close()


def follow_processes(tmp_path: Path):
    """Start followers with start(*args, env=…); every one is stopped at the end."""
    started: list[FollowProcess] = []

    def start(*args: str, env: dict[str, str] | None = None) -> FollowProcess:
        p = FollowProcess(tmp_path, list(args), env)
        started.append(p)
        p.wait_ready()
        return p

    yield start
    for p in started:
        p.stop()


@pytest.fixture
def follow(tmp_path, clean_db):
    yield from follow_processes(tmp_path)


def append(path: Path, *lines: bytes) -> None:
    with open(path, "ab") as fh:
        for ln in lines:
            fh.write(ln)


# --------------------------------------------------------------------------------- tests


def test_it_commits_a_new_line_within_a_second(tmp_path, follow, clean_db):
    log = tmp_path / "mail.log"
    append(log, login_line(0))
    follow(str(log))
    assert wait_until(lambda: sessions(clean_db)[session_of(0)] == 1, 10)
    took = []
    for n in range(1, 6):
        written = time.monotonic()
        append(log, login_line(n))
        assert wait_until(lambda n=n: sessions(clean_db)[session_of(n)] == 1, 10, interval=0.01)
        took.append(time.monotonic() - written)
        time.sleep(0.2)
    took.sort()
    assert took[2] < 1.0, f"median write → queryable {took[2]:.2f}s; all {took}"


def test_it_waits_for_the_newline_of_a_partial_last_line(tmp_path, follow, clean_db):
    log = tmp_path / "mail.log"
    whole = login_line(1)
    append(log, login_line(0), whole[:40])
    follow(str(log))
    assert wait_until(lambda: sessions(clean_db)[session_of(0)] == 1, 10)
    time.sleep(0.6)
    assert session_of(1) not in sessions(clean_db)
    append(log, whole[40:])
    assert wait_until(lambda: sessions(clean_db)[session_of(1)] == 1, 10)
    with clean_db.connect() as conn:
        offset = conn.execute(sa.text("SELECT byte_offset FROM source")).scalar_one()
    assert offset == log.stat().st_size


def test_it_finishes_its_batch_and_exits_cleanly_on_sigterm(tmp_path, follow, clean_db):
    log = tmp_path / "mail.log"
    append(log, login_line(0))
    proc = follow(str(log))
    append(log, *(login_line(n) for n in range(1, 20_001)))
    time.sleep(0.3)
    started = time.monotonic()
    assert proc.terminate(timeout=10) == 0, proc.output()
    assert time.monotonic() - started < 5
    assert "stopped" in proc.output()
    # whatever it committed is whole; a restart reads the rest, nothing twice
    follow(str(log))
    assert wait_until(lambda: sum(sessions(clean_db).values()) >= 20_001, 30)
    counts = sessions(clean_db)
    assert len(counts) == 20_001 and set(counts.values()) == {1}


def test_it_says_what_lock_it_waits_for_and_honours_sigterm_while_a_lock_is_held(tmp_path, follow, clean_db):
    log = tmp_path / "mail.log"
    append(log, login_line(0))
    proc = follow(str(log))
    assert wait_until(lambda: len(sessions(clean_db)) == 1, 10)
    with clean_db.connect() as carol:  # an operator's session holding a table lock
        carol.execute(sa.text("LOCK TABLE event IN ACCESS EXCLUSIVE MODE"))
        append(log, login_line(1))
        assert wait_until(lambda: "LOCK TABLE event" in proc.output(), 15), proc.output()
        assert "a commit has waited 2s for the database: a lock held by pid" in proc.output()
        started = time.monotonic()
        assert proc.terminate(timeout=15) == 0, proc.output()
        # before: no lock timeout, and the follower waited as long as the lock was held
        assert time.monotonic() - started < 8, proc.output()
        carol.rollback()
    follow(str(log))
    assert wait_until(lambda: len(sessions(clean_db)) == 2, 10)
    assert set(sessions(clean_db).values()) == {1}


def test_it_resumes_after_a_restart_without_reading_a_line_twice(tmp_path, follow, clean_db):
    log = tmp_path / "mail.log"
    append(log, *(login_line(n) for n in range(100)))
    first = follow(str(log))
    assert wait_until(lambda: len(sessions(clean_db)) == 100, 10)
    assert first.terminate() == 0
    append(log, *(login_line(n) for n in range(100, 150)))
    second = follow(str(log))
    assert wait_until(lambda: len(sessions(clean_db)) == 150, 10)
    assert set(sessions(clean_db).values()) == {1}
    assert "resuming at byte" in second.output()


def test_it_starts_a_first_follow_at_the_end_with_read_from_end(tmp_path, follow, clean_db):
    log = tmp_path / "mail.log"
    append(log, *(login_line(n) for n in range(10)))
    proc = follow("--read-from", "end", str(log))
    append(log, login_line(10))
    assert wait_until(lambda: session_of(10) in sessions(clean_db), 10)
    assert set(sessions(clean_db)) == {session_of(10)}
    # after a rotation the new file is read from its beginning: read-from is for a first start
    log.rename(tmp_path / "mail.log.1")
    append(log, login_line(11), login_line(12))
    assert wait_until(lambda: len(sessions(clean_db)) == 3, 10), proc.output()
    proc.terminate()
    # and a restart with the same options does not skip what came while it was down
    append(log, login_line(13))
    follow("--read-from", "end", str(log))
    assert wait_until(lambda: len(sessions(clean_db)) == 4, 10)
    assert set(sessions(clean_db).values()) == {1}


def test_it_leaves_older_rotated_files_to_backfill_even_when_a_glob_names_them(tmp_path, follow, clean_db):
    import gzip

    day_ago = time.time() - 86_400
    old = tmp_path / "mail.log.1"
    append(old, *(login_line(n) for n in range(5)))
    with gzip.open(tmp_path / "mail.log.2.gz", "wb") as gz:
        gz.write(b"".join(login_line(n) for n in range(5, 10)))
    for path in (old, tmp_path / "mail.log.2.gz"):
        os.utime(path, (day_ago, day_ago))
    log = tmp_path / "mail.log"
    append(log, *(login_line(n) for n in range(10, 15)))
    first = follow("--read-from", "end", f"{tmp_path}/mail.log*")
    append(log, login_line(15))
    assert wait_until(lambda: session_of(15) in sessions(clean_db), 10)
    assert first.terminate() == 0
    append(log, login_line(16))
    follow("--read-from", "end", f"{tmp_path}/mail.log*")
    assert wait_until(lambda: session_of(16) in sessions(clean_db), 10)
    time.sleep(0.5)
    assert set(sessions(clean_db)) == {session_of(15), session_of(16)}


def test_it_polls_where_inotify_does_not_fire(tmp_path, follow, clean_db):
    log = tmp_path / "mail.log"
    append(log, login_line(0))
    proc = follow("--poll", str(log))
    assert "(polling every" in proc.output()
    append(log, login_line(1))
    assert wait_until(lambda: len(sessions(clean_db)) == 2, 10)


def test_it_follows_several_files_from_configuration(tmp_path, follow, clean_db):
    (tmp_path / "mx1").mkdir()
    (tmp_path / "mx2").mkdir()
    a, b = tmp_path / "mx1" / "mail.log", tmp_path / "mx2" / "mail.log"
    append(a, login_line(0, "mx1"))
    append(b, login_line(1, "mx2"))
    follow(env={"MAILTRAIL_FOLLOW": f"mx1={a}, {tmp_path}/mx*/mail.log"})
    append(a, login_line(2, "mx1"))
    append(b, login_line(3, "mx2"))
    assert wait_until(lambda: len(sessions(clean_db)) == 4, 10)
    with clean_db.connect() as conn:
        hosts = dict(conn.execute(sa.text("SELECT session, host FROM event")).all())
    assert hosts[session_of(3)] == "mx2" and hosts[session_of(2)] == "mx1"


def test_it_refuses_to_start_without_files(tmp_path, clean_db):
    env = {k: v for k, v in os.environ.items() if k != "MAILTRAIL_FOLLOW"}
    done = subprocess.run(
        [sys.executable, "-m", "ingest", "follow"], cwd=PROJECT_DIR, env=env, capture_output=True, timeout=60
    )
    assert done.returncode == 2
    assert b"MAILTRAIL_FOLLOW" in done.stderr


# ------------------------------------------------------------------ configuration, discovery


def test_patterns_take_a_host_before_an_equals_sign():
    got = parse_patterns(["mx1=/var/log/mx1/mail.log", "/var/log/mail.log*"], default_host="mx0")
    assert got == [Pattern("/var/log/mx1/mail.log", "mx1"), Pattern("/var/log/mail.log*", "mx0")]
    with pytest.raises(ConfigError, match="MAILTRAIL_FOLLOW"):
        parse_patterns(["m x=/var/log/mail.log"])


def test_rotated_names_are_told_from_live_ones():
    for name in (
        "mail.log.1",
        "mail.log.2.gz",
        "mail.log-20261127",
        "mail.log-20261127.gz",
        "x.log-2026-11-27",
    ):
        assert looks_rotated(name), name
    for name in ("mail.log", "dovecot.log", "mail.log.bak"):
        assert not looks_rotated(name), name


def test_discovery_finds_rotated_siblings_of_a_plain_path(tmp_path):
    for name in ("mail.log", "mail.log.1", "mail.log.2.gz", "mail.log-20261127", "mail.logger", "other.log"):
        (tmp_path / name).write_bytes(b"x\n")
    p = Pattern(str(tmp_path / "mail.log"))
    found = {Path(c.path).name: c for c in discover([p])}
    assert set(found) == {"mail.log", "mail.log.1", "mail.log.2.gz", "mail.log-20261127"}
    assert found["mail.log"].live and not found["mail.log.1"].live
    assert belongs_to(p, str(tmp_path / "mail.log.2.gz")) and not belongs_to(p, str(tmp_path / "mail.logger"))


def test_a_value_the_database_refuses_is_kept_as_a_bad_line_and_the_rest_goes_in(tmp_path, clean_db):
    from ingest.follow import Follower, Settings
    from ingest.pipeline import fill_batch
    from ingest.refusals import store
    from ingest.sink import Batch
    from ingest.source import ReadResult, read_lines

    log = tmp_path / "mail.log"
    append(log, *(login_line(n) for n in range(6)))
    said: list[str] = []
    follower = Follower(Settings(patterns=parse_patterns([str(log)]), tz=UTC), clean_db, log=said.append)
    follower.scan()
    (tail,) = follower.tails.values()
    batch = Batch(start=0)
    fill_batch(
        read_lines(tail.fh, 0, ReadResult()), batch, tail.parser, follower.correlator, tail.state.id, 100
    )
    row = batch.events[3]
    batch.events[3] = (*row[:5], "999.1.1.1", *row[6:])  # an IP no inet column takes
    # as pump() submits it
    tail.inflight = follower.committer.submit(store, follower.sink, tail.state, batch, None, tail.line_at)
    assert follower._await(tail)
    tail.close()
    follower.committer.shutdown()
    assert set(sessions(clean_db)) == {session_of(n) for n in (0, 1, 2, 4, 5)}
    with clean_db.connect() as conn:
        bad = conn.execute(sa.text("SELECT line_offset, raw, reason FROM bad_line")).one()
        offset = conn.execute(sa.text("SELECT byte_offset FROM source")).scalar_one()
    assert bad.line_offset == row[-1] and bytes(bad.raw) + b"\n" == login_line(3)
    assert "refused by the database" in bad.reason
    assert offset == log.stat().st_size
    assert any("refused" in m for m in said)


def test_only_names_that_could_be_followed_wake_the_follower():
    patterns = parse_patterns(["/var/log/mail.log", "/var/log/remote/*/dovecot.log*", "/srv/x/*"])
    assert name_prefixes(patterns) == ["", "dovecot.log", "mail.log"]
