"""Rotation in each form logrotate and rsyslog produce, with a writer racing it: every line once."""

from __future__ import annotations

import gzip
import os
import random
import shutil
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.test_follow import append, follow_processes, login_line, session_of, sessions, wait_until


@pytest.fixture
def follow(tmp_path, clean_db):
    yield from follow_processes(tmp_path)


class Writer(threading.Thread):
    """Appends numbered lines through one open handle, as syslog daemons and Dovecot do.

    After a rename the writer goes on writing into the renamed file until it is told to
    reopen (logrotate's postrotate HUP), which is the race the follower must survive.
    """

    def __init__(self, path: Path, start: int = 0, rate: float = 2000.0) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.n = start
        self.rate = rate
        self.lock = threading.Lock()  # held by copytruncate: see the loss window in docs/follow.md
        self.stopping = threading.Event()
        self._reopen = threading.Event()
        self.fh = open(path, "ab", buffering=0)  # noqa: SIM115 - closed in run()

    def run(self) -> None:
        started = time.monotonic()
        while not self.stopping.is_set():
            due = int((time.monotonic() - started) * self.rate) + 1
            with self.lock:
                if self._reopen.is_set():
                    self._reopen.clear()
                    self.fh.close()
                    self.fh = open(self.path, "ab", buffering=0)  # noqa: SIM115
                while self.n < due:
                    self.fh.write(login_line(self.n))
                    self.n += 1
            time.sleep(0.002)
        self.fh.close()

    def reopen(self) -> None:
        """Ask the writer to reopen by name, and wait until it has (as a HUP'd daemon does)."""
        self._reopen.set()
        deadline = time.monotonic() + 5
        while self._reopen.is_set() and self.is_alive() and time.monotonic() < deadline:
            time.sleep(0.001)

    def finish(self) -> int:
        self.stopping.set()
        if self.ident is not None:
            self.join(10)
        return self.n


def _shift(log: Path) -> None:
    """mail.log.N(.gz) → mail.log.N+1(.gz), oldest first, as logrotate numbers its copies.

    Nothing falls off the end (logrotate's `rotate N` would delete the oldest): a test that
    compares every written line with the database cannot let the rotation itself drop any.
    """
    numbers = [int(p.name[len(log.name) + 1 :].removesuffix(".gz")) for p in log.parent.glob(f"{log.name}.*")
               if p.name[len(log.name) + 1 :].removesuffix(".gz").isdigit()]  # fmt: skip
    for i in range(max(numbers, default=0), 0, -1):
        for suffix in ("", ".gz"):
            src = Path(f"{log}.{i}{suffix}")
            if src.exists():
                src.rename(f"{log}.{i + 1}{suffix}")


def _gzip(path: Path, dest: Path | None = None) -> None:
    dest = dest or Path(f"{path}.gz")
    tmp = Path(f"{dest}.tmp-gz")  # compressed beside, then renamed: logrotate writes .gz in place
    with open(path, "rb") as src, gzip.open(tmp, "wb") as dst:
        shutil.copyfileobj(src, dst)
    tmp.rename(dest)
    path.unlink()


def rename_create(log: Path, writer: Writer, rnd: random.Random, turn: int) -> None:
    _shift(log)
    log.rename(f"{log}.1")
    time.sleep(rnd.uniform(0, 0.1))  # the writer goes on into mail.log.1 for a moment
    writer.reopen()


def copytruncate(log: Path, writer: Writer, rnd: random.Random, turn: int) -> None:
    _shift(log)
    with writer.lock:  # logrotate's own race: lines between copy and truncate would be lost
        shutil.copyfile(log, f"{log}.1")
        os.truncate(log, 0)


def compress(log: Path, writer: Writer, rnd: random.Random, turn: int) -> None:
    _shift(log)
    log.rename(f"{log}.1")
    time.sleep(rnd.uniform(0, 0.05))
    writer.reopen()
    time.sleep(0.01)
    _gzip(Path(f"{log}.1"))


def delaycompress(log: Path, writer: Writer, rnd: random.Random, turn: int) -> None:
    one = Path(f"{log}.1")
    if one.exists():
        _gzip(one, Path(f"{log}.2.gz.new"))
    _shift(log)
    if Path(f"{log}.2.gz.new").exists():
        Path(f"{log}.2.gz.new").rename(f"{log}.2.gz")
    log.rename(one)
    time.sleep(rnd.uniform(0, 0.1))
    writer.reopen()


def dateext(log: Path, writer: Writer, rnd: random.Random, turn: int) -> None:
    dated = Path(f"{log}-202611{27 + turn:02d}")
    log.rename(dated)
    time.sleep(rnd.uniform(0, 0.05))
    writer.reopen()
    time.sleep(0.01)
    _gzip(dated)


STYLES = [rename_create, copytruncate, compress, delaycompress, dateext]


@pytest.mark.parametrize("rotate", STYLES, ids=[s.__name__ for s in STYLES])
def test_it_reads_every_line_once_through_rotation_racing_a_writer(rotate, tmp_path, follow, clean_db):
    _race(rotate, tmp_path, follow, clean_db)


@pytest.mark.parametrize("rotate", [rename_create, copytruncate], ids=["rename_create", "copytruncate"])
def test_it_follows_rotation_by_polling_alone_as_on_nfs(rotate, tmp_path, follow, clean_db):
    _race(rotate, tmp_path, follow, clean_db, "--poll")


def _race(rotate, tmp_path: Path, follow, clean_db, *options: str) -> None:
    log = tmp_path / "mail.log"
    append(log, login_line(0))
    writer = Writer(log, start=1, rate=1500)
    proc = follow(*options, str(log))
    writer.start()
    rnd = random.Random(rotate.__name__)
    for turn in range(3):
        time.sleep(rnd.uniform(0.2, 0.5))
        rotate(log, writer, rnd, turn)
    time.sleep(0.3)
    written = writer.finish()
    assert wait_until(lambda: sum(sessions(clean_db).values()) >= written, 20), proc.output()
    time.sleep(0.3)  # anything doubled would show up now
    counts = sessions(clean_db)
    assert set(counts) == {session_of(n) for n in range(written)}, proc.output()
    assert set(counts.values()) == {1}, [s for s, c in counts.items() if c > 1][:5]
    assert proc.terminate() == 0


@pytest.mark.parametrize("rotate", STYLES, ids=[s.__name__ for s in STYLES])
def test_it_finishes_a_file_rotated_while_it_was_stopped_before_its_successor(
    rotate, tmp_path, follow, clean_db
):
    log = tmp_path / "mail.log"
    append(log, *(login_line(n) for n in range(50)))
    first = follow(str(log))
    assert wait_until(lambda: len(sessions(clean_db)) == 50, 10)
    assert first.terminate() == 0
    writer = Writer(log, start=50)
    with writer.lock:
        for n in range(50, 100):
            writer.fh.write(login_line(n))
        writer.n = 100
    rotate(log, writer, random.Random(1), 0)
    writer.reopen()
    with writer.lock:
        writer.fh.close()
        with open(log, "ab") as fh:
            for n in range(100, 150):
                fh.write(login_line(n))
    second = follow(str(log))
    assert wait_until(lambda: sum(sessions(clean_db).values()) >= 150, 15), second.output()
    time.sleep(0.3)
    counts = sessions(clean_db)
    assert set(counts) == {session_of(n) for n in range(150)} and set(counts.values()) == {1}
    # the rotated file's unread tail was committed before any line of its successor
    with clean_db.connect() as conn:
        ids = dict(conn.execute(sa.text("SELECT session, id FROM event")).all())
    assert max(ids[session_of(n)] for n in range(50, 100)) < min(ids[session_of(n)] for n in range(100, 150))
