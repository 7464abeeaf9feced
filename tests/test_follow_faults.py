"""Exactly once under faults: SIGKILL at random moments during rotation, and a database that goes away."""

from __future__ import annotations

import gzip
import random
import shutil
import tempfile
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from ingest.source import fingerprint
from mailtrail.database import embedded_url, sqlalchemy_url
from tests.conftest import migrate_alembic
from tests.test_follow import FollowProcess, append, login_line, session_of, sessions, wait_until
from tests.test_follow_rotation import Writer, compress, copytruncate, dateext, delaycompress, rename_create

KILLS = 20


def _files(directory: Path) -> str:
    """Which numbered lines each file holds: what a failure needs to be understood."""
    out = []
    for path in sorted(directory.glob("mail.log*")):
        opener = gzip.open if path.name.endswith(".gz") else open
        try:
            with opener(path, "rb") as fh:
                lines = fh.read().splitlines()
        except (OSError, EOFError) as exc:
            out.append(f"{path.name}: {exc}")
            continue
        nums = [int(ln.rsplit(b"session=<S", 1)[1][:15]) for ln in lines if b"session=<S" in ln]
        span = f"{nums[0]}..{nums[-1]}" if nums else "-"
        out.append(f"{path.name}: {len(nums)} lines {span} fp={fingerprint(path)}")
    return "\n".join(out)


def _sources(engine: sa.Engine) -> str:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT fingerprint, path, byte_offset, lines FROM source ORDER BY id"))
        return "\n".join(
            f"{r.fingerprint} {Path(r.path).name} offset={r.byte_offset} lines={r.lines}" for r in rows
        )


def _assert_exactly_once(
    engine: sa.Engine, written: int, output: str = "", directory: Path | None = None
) -> None:
    counts = sessions(engine)
    missing = {session_of(n) for n in range(written)} - set(counts)
    where = f"\n{_files(directory)}\n{_sources(engine)}" if directory is not None and missing else ""
    assert not missing, f"{len(missing)} lost, e.g. {sorted(missing)[:3]}\n{output[-3000:]}{where}"
    doubled = [s for s, c in counts.items() if c > 1]
    assert not doubled, f"{len(doubled)} doubled, e.g. {doubled[:3]}"
    assert len(counts) == written


def test_it_stores_every_line_exactly_once_across_sigkills_during_rotation(tmp_path, clean_db):
    """SIGKILL the follower at KILLS random moments while a writer appends and rotates."""
    rnd = random.Random(20261127)
    log = tmp_path / "mail.log"
    append(log, login_line(0))
    writer = Writer(log, start=1, rate=800)
    styles = [rename_create, delaycompress, copytruncate, compress, dateext]
    next_rotation = time.monotonic() + 0.4
    turn = 0
    outputs = []
    last = None
    # Following begins when the first start has recorded its file: lines rotated away before
    # that are history, for backfill (docs/follow.md).
    proc = FollowProcess(tmp_path, [str(log)])
    try:
        proc.wait_ready()
        assert wait_until(lambda: session_of(0) in sessions(clean_db), 15), proc.output()
        writer.start()
        for kill in range(KILLS):
            if kill:
                proc = FollowProcess(tmp_path, [str(log)])
            # from its very start (imports, first scan) to well into steady following
            deadline = time.monotonic() + rnd.uniform(0.2, 3.0)
            while time.monotonic() < deadline:
                if time.monotonic() >= next_rotation and log.exists():
                    styles[turn % len(styles)](log, writer, rnd, turn)
                    turn += 1
                    next_rotation = time.monotonic() + rnd.uniform(0.3, 0.9)
                time.sleep(0.01)
            proc.kill()
            outputs.append(proc.output())
        last = FollowProcess(tmp_path, [str(log)])
        time.sleep(0.5)
        written = writer.finish()
        wait_until(lambda: sum(sessions(clean_db).values()) >= written, 60)
        time.sleep(0.5)  # a double would land now
        _assert_exactly_once(clean_db, written, "\n=====\n".join([*outputs[-3:], last.output()]), tmp_path)
        assert turn >= 10, f"only {turn} rotations happened"
        assert last.terminate() == 0
    finally:
        writer.finish()
        proc.stop()
        if last is not None:
            last.stop()
    # the kills landed at different stages, committed work included
    assert sum("ready:" in out for out in outputs) >= KILLS // 4


class OwnPostgres:
    """A PostgreSQL of this test's own (not the session's): stopped and started at will."""

    def __init__(self) -> None:
        # under /tmp and world-traversable: as root, pgserver runs the server as its own user
        self.root = Path(tempfile.mkdtemp(prefix="mailtrail-outage-"))
        self.root.chmod(0o755)
        self.pgdata = self.root / "pgdata"
        self.url = embedded_url(self.pgdata, "mailtrail_outage")
        import pgserver

        self.server = pgserver.get_server(self.pgdata)

    def stop(self) -> None:
        from pgserver import pg_ctl

        pg_ctl(["-w", "stop", "-m", "fast"], pgdata=self.pgdata, user=self.server.system_user, timeout=30)

    def start(self) -> None:
        self.server.ensure_postgres_running()

    def remove(self) -> None:
        try:
            self.server.cleanup()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def own_postgres():
    pg = OwnPostgres()
    migrate_alembic(pg.url)
    yield pg
    pg.remove()


def test_it_keeps_its_place_through_a_database_outage_and_loses_nothing(tmp_path, own_postgres):
    engine = sa.create_engine(sqlalchemy_url(own_postgres.url), poolclass=sa.pool.NullPool)
    log = tmp_path / "mail.log"
    append(log, login_line(0))
    writer = Writer(log, start=1, rate=500)
    proc = FollowProcess(tmp_path, [str(log)], env={"DATABASE_URL": own_postgres.url})
    try:
        proc.wait_ready()
        writer.start()
        assert wait_until(lambda: sum(sessions(engine).values()) > 200, 15)
        own_postgres.stop()
        time.sleep(1.0)
        rename_create(log, writer, random.Random(3), 0)  # rotation while the database is away
        time.sleep(1.5)
        assert proc.proc.poll() is None, proc.output()
        own_postgres.start()
        time.sleep(0.5)
        written = writer.finish()
        assert wait_until(lambda: sum(sessions(engine).values()) >= written, 40), proc.output()
        time.sleep(0.3)
        _assert_exactly_once(engine, written, proc.output())
        out = proc.output()
        assert out.count("database unavailable") == 1, out
        assert out.count("database is back") == 1, out
        assert proc.terminate() == 0
    finally:
        writer.finish()
        proc.stop()
        engine.dispose()


def test_it_exits_on_sigterm_while_the_database_is_down(tmp_path, own_postgres):
    log = tmp_path / "mail.log"
    append(log, login_line(0))
    proc = FollowProcess(tmp_path, [str(log)], env={"DATABASE_URL": own_postgres.url})
    try:
        proc.wait_ready()
        own_postgres.stop()
        append(log, *(login_line(n) for n in range(1, 50)))
        assert wait_until(lambda: "database unavailable" in proc.output(), 10), proc.output()
        started = time.monotonic()
        assert proc.terminate(timeout=15) == 0
        assert time.monotonic() - started < 8
    finally:
        proc.stop()
