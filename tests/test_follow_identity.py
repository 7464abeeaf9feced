"""A checkpoint knows what it stands on: restored backups and replaced files are new files, read once."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from tests.conftest import PROJECT_DIR
from tests.test_backfill import backfill
from tests.test_follow import append, follow_processes, login_line, sessions, wait_until


@pytest.fixture
def follow(tmp_path, clean_db):
    yield from follow_processes(tmp_path)


def _lines(numbers) -> bytes:
    return b"".join(login_line(n) for n in numbers)


def _restore_backup(log, backup: bytes, *new: int) -> None:
    """The log replaced by an older copy of itself (a new file renamed over it), then written to."""
    restored = log.with_name(log.name + ".restoring")
    restored.write_bytes(backup + _lines(new))
    restored.rename(log)


def test_a_followed_log_replaced_by_an_older_backup_and_written_again_is_read_once_as_a_new_file(
    tmp_path, follow, clean_db
):
    log = tmp_path / "mail.log"
    log.write_bytes(_lines(range(200)))
    alice = follow(str(log))
    assert wait_until(lambda: len(sessions(clean_db)) == 200, 20), alice.output()
    # the backup holds the first 120 lines; after the restore 100 new lines are written
    _restore_backup(log, _lines(range(120)), *range(500, 600))
    assert wait_until(lambda: len(sessions(clean_db)) == 300, 20), alice.output()
    time.sleep(0.5)  # nothing more may arrive: the backup's lines were stored already
    counts = sessions(clean_db)
    assert set(counts.values()) == {1} and len(counts) == 300
    assert "NOT the file its first line says" in alice.output()
    with clean_db.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM bad_line")).scalar_one() == 0
        fps = conn.execute(sa.text("SELECT fingerprint FROM source ORDER BY id")).scalars().all()
    assert len(fps) == 2 and fps[1] == fps[0] + "~2"
    report = json.loads(_status("--json").stdout)
    old, new = sorted(report["sources"], key=lambda r: r["id"])
    assert "restored backup or a replaced file" in new["note"] and new["bytes_behind"] == 0
    assert new["current"] and new["offset"] == log.stat().st_size
    assert old["replaced"] and not old["current"] and old["bytes_behind"] == 0
    assert report["exit"] == 0
    text = _status().stdout
    assert "NOTE: replaces" in text and "[replaced]" in text
    # restarted, it knows the new file by what its checkpoint stands on and reads on from there
    assert alice.terminate() == 0
    append(log, *(login_line(n) for n in range(600, 610)))
    bob = follow(str(log))
    assert wait_until(lambda: len(sessions(clean_db)) == 310, 20), bob.output()
    assert set(sessions(clean_db).values()) == {1}
    assert "resuming at byte" in bob.output() and "NOT the file" not in bob.output()


def test_a_log_restored_while_the_follower_was_stopped_is_not_resumed_in_the_middle_of_a_line(
    tmp_path, follow, clean_db
):
    log = tmp_path / "mail.log"
    log.write_bytes(_lines(range(200)))
    carol = follow(str(log))
    assert wait_until(lambda: len(sessions(clean_db)) == 200, 20)
    carol.kill()
    # longer than the checkpoint after the restore: before, the follower resumed inside a line
    _restore_backup(log, _lines(range(120)), *range(500, 700))
    dave = follow(str(log))
    assert wait_until(lambda: len(sessions(clean_db)) == 400, 20), dave.output()
    assert set(sessions(clean_db).values()) == {1}


def test_backfill_reads_a_restored_and_rewritten_log_as_a_new_file_without_doubling(tmp_path, clean_db):
    log = tmp_path / "mail.log"
    log.write_bytes(_lines(range(200)))
    assert backfill(log).returncode == 0
    _restore_backup(log, _lines(range(120)), *range(500, 600))
    done = backfill(log)
    assert done.returncode == 0, done.stderr
    assert "NOT the file its first line says" in done.stderr
    counts = sessions(clean_db)
    assert len(counts) == 300 and set(counts.values()) == {1}
    assert backfill(log).returncode == 0  # and again: nothing more
    assert sum(sessions(clean_db).values()) == 300


def _status(*args):
    return subprocess.run(
        [sys.executable, "-m", "ingest", "status", *args],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_backfill_of_concatenated_rotations_stores_only_what_was_never_stored(tmp_path, clean_db):
    # the reproduction of issue 8: `cat mail.log.2 mail.log.1 mail.log > all.log; backfill all.log`
    parts = {"mail.log.2": range(0, 300), "mail.log.1": range(300, 600), "mail.log": range(600, 700)}
    for name, numbers in parts.items():
        (tmp_path / name).write_bytes(_lines(numbers))
    done = backfill(*(tmp_path / name for name in parts))
    assert done.returncode == 0, done.stderr
    append(tmp_path / "mail.log", *(login_line(n) for n in range(700, 750)))  # grew since
    all_log = tmp_path / "all.log"
    all_log.write_bytes(b"".join((tmp_path / name).read_bytes() for name in parts))
    done = backfill(all_log)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("starts a copy of") == 2  # mail.log.1 and mail.log inside all.log
    counts = sessions(clean_db)
    assert len(counts) == 750 and set(counts.values()) == {1}  # before: 15,171 events twice
    with clean_db.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM bad_line")).scalar_one() == 0
    assert backfill(all_log).returncode == 0
    assert sum(sessions(clean_db).values()) == 750


def test_a_known_first_line_inside_another_file_drops_only_what_was_stored_at_that_place(tmp_path, clean_db):
    first = tmp_path / "mx1.log"
    first.write_bytes(_lines(range(10)))
    assert backfill(first).returncode == 0
    # another file holding that first line once, then other lines: only that one line repeats mx1.log
    other = tmp_path / "mx2.log"
    other.write_bytes(login_line(5000) + login_line(0) + _lines(range(6000, 6010)))
    done = backfill(other)
    assert done.returncode == 0, done.stderr
    counts = sessions(clean_db)
    assert counts[f"S{0:015d}"] == 1 and all(counts[f"S{n:015d}"] == 1 for n in range(6000, 6010))


def test_the_follower_stores_a_copy_of_a_known_file_inside_a_new_one_only_where_it_is_new(
    tmp_path, follow, clean_db
):
    mx1 = tmp_path / "mx1.log"
    mx1.write_bytes(_lines(range(100)))
    erin = follow(str(tmp_path / "*.log"))
    assert wait_until(lambda: len(sessions(clean_db)) == 100, 20), erin.output()
    # a new file that holds mx1.log whole between lines of its own
    (tmp_path / "all.log").write_bytes(
        _lines(range(1000, 1010)) + mx1.read_bytes() + _lines(range(2000, 2010))
    )
    assert wait_until(lambda: len(sessions(clean_db)) == 120, 20), erin.output()
    time.sleep(0.5)
    counts = sessions(clean_db)
    assert len(counts) == 120 and set(counts.values()) == {1}
    assert "starts a copy of" in erin.output() and str(mx1) in erin.output()
