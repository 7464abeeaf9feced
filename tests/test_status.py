"""`ingest status`: each source against its file, lag, bad lines; non-zero when one is stalled."""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys

import pytest
import sqlalchemy as sa

from ingest.sink import Batch, Sink
from ingest.source import fingerprint
from ingest.status import status_command
from tests.conftest import PROJECT_DIR
from tests.dovecot_server import free_port
from tests.test_follow import append, follow_processes, login_line, sessions, wait_until


@pytest.fixture
def follow(tmp_path, clean_db):
    yield from follow_processes(tmp_path)


def _status(capsys, *, json_out=False, prometheus=False) -> tuple[int, str]:
    code = status_command(argparse.Namespace(json=json_out, prometheus=prometheus, output=None))
    return code, capsys.readouterr().out


def _source(engine, path, upto: int, bad: int = 0):
    """A source row committed up to byte `upto` of its file, as the follower leaves it."""
    sink = Sink(engine)
    state = sink.open_source(fingerprint(path), str(path), "mx1")
    batch = Batch(start=0, end=upto, lines=3)
    batch.bad = [(i, b"garbage", "not a line") for i in range(bad)]
    sink.commit(state, batch, size=path.stat().st_size)
    return state


def test_it_shows_each_source_against_its_file(tmp_path, clean_db, capsys):
    log = tmp_path / "mail.log"
    log.write_bytes(login_line(0) + login_line(1) + login_line(2))
    _source(clean_db, log, upto=len(login_line(0)), bad=2)
    code, out = _status(capsys, json_out=True)
    assert code == 0
    (row,) = json.loads(out)["sources"]
    assert row["path"] == str(log) and row["fingerprint"] == fingerprint(log)
    assert row["offset"] == len(login_line(0)) and row["size"] == log.stat().st_size
    assert row["bytes_behind"] == log.stat().st_size - len(login_line(0))
    assert row["bad_lines"] == 2 and row["current"] and not row["stalled"]
    code, text = _status(capsys)
    assert "[current]" in text and "bad=2" in text and str(log) in text


def test_it_exits_non_zero_when_a_source_with_unread_bytes_stopped_moving(tmp_path, clean_db, capsys):
    log = tmp_path / "mail.log"
    log.write_bytes(login_line(0) + login_line(1))
    state = _source(clean_db, log, upto=len(login_line(0)))
    with clean_db.begin() as conn:
        conn.execute(
            sa.text("UPDATE source SET updated_at = now() - interval '1 hour' WHERE id = :id"),
            {"id": state.id},
        )
    code, out = _status(capsys)
    assert code == 1 and "STALLED" in out
    # read to its end, an idle file is not stalled however old its last commit
    with clean_db.begin() as conn:
        conn.execute(
            sa.text("UPDATE source SET byte_offset = :end WHERE id = :id"),
            {"end": log.stat().st_size, "id": state.id},
        )
    code, out = _status(capsys)
    assert code == 0 and "STALLED" not in out


def test_it_measures_a_compressed_copy_by_its_content(tmp_path, clean_db, capsys):
    log = tmp_path / "mail.log"
    content = login_line(0) + login_line(1)
    log.write_bytes(content)
    _source(clean_db, log, upto=len(content))
    with gzip.open(tmp_path / "mail.log.1.gz", "wb") as gz:
        gz.write(content)
    log.unlink()
    with clean_db.begin() as conn:
        conn.execute(sa.text("UPDATE source SET path = :p"), {"p": str(tmp_path / "mail.log.1.gz")})
    code, out = _status(capsys, json_out=True)
    (row,) = json.loads(out)["sources"]
    assert code == 0 and row["current"] and row["size"] == len(content) and row["bytes_behind"] == 0


def test_it_writes_prometheus_text_with_escaped_labels(tmp_path, clean_db, capsys):
    odd = tmp_path / 'we"ird\\dir'
    odd.mkdir()
    log = odd / "mail.log"
    log.write_bytes(login_line(0) + login_line(1))
    _source(clean_db, log, upto=len(login_line(0)), bad=1)
    code, out = _status(capsys, prometheus=True)
    assert code == 0
    escaped = str(log).replace("\\", "\\\\").replace('"', '\\"')
    assert f'mailtrail_source_offset_bytes{{path="{escaped}",host="mx1",' in out
    assert "# TYPE mailtrail_source_bad_lines_total counter" in out
    assert f'mailtrail_source_behind_bytes{{path="{escaped}"' in out
    assert "mailtrail_sources_stalled 0" in out
    for line in out.splitlines():
        assert line.startswith("#") or line.startswith("mailtrail_"), line


def test_it_says_when_there_is_nothing_yet(clean_db, capsys):
    code, out = _status(capsys)
    assert code == 0 and "no sources yet" in out


# ------------------------------------------------------------------ followers and outages


def _status_process(*args, env=None):
    full = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "ingest", "status", *args],
        cwd=PROJECT_DIR,
        env=full,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_follower_killed_before_a_rotation_is_reported_with_the_file_it_never_read(
    tmp_path, clean_db, follow
):
    # the reproduction of issue 8: follow, SIGKILL, `mv mail.log mail.log.1`, a new mail.log
    log = tmp_path / "mail.log"
    append(log, *(login_line(n) for n in range(100)))
    alice = follow(str(log))
    assert wait_until(lambda: len(sessions(clean_db)) == 100, 20), alice.output()
    done = _status_process("--json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["followers"][0]["state"] == "running"
    alice.kill()
    append(log, *(login_line(n) for n in range(100, 150)))  # written after the kill: unread
    log.rename(tmp_path / "mail.log.1")
    append(log, *(login_line(n) for n in range(1000, 1050)))
    done = _status_process("--json")
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["followers"][0]["state"] == "dead"
    (source,) = report["sources"]
    assert source["found_at"] == str(tmp_path / "mail.log.1") and source["behind"]
    assert source["bytes_behind"] == sum(len(login_line(n)) for n in range(100, 150))
    (unread,) = report["unread"]
    assert unread["path"] == str(log) and unread["behind"] and unread["size"] == log.stat().st_size
    text = _status_process().stdout
    assert "DEAD" in text and "[UNREAD]" in text and f"[BEHIND, now at {tmp_path / 'mail.log.1'}]" in text
    prom = _status_process("--prometheus").stdout
    assert "mailtrail_follower_up{" in prom and "} 0" in prom and "mailtrail_unread_files 1" in prom
    # restarted, the follower reads everything once, and status is healthy again
    follow(str(log))
    assert wait_until(lambda: len(sessions(clean_db)) == 200, 20)
    assert set(sessions(clean_db).values()) == {1}
    assert wait_until(lambda: _status_process().returncode == 0, 20), _status_process().stdout


def test_a_follower_stopped_with_sigterm_is_stopped_not_dead_and_its_unread_lines_count(
    tmp_path, clean_db, follow
):
    log = tmp_path / "mail.log"
    append(log, login_line(0))
    bob = follow(str(log))
    assert wait_until(lambda: len(sessions(clean_db)) == 1, 20)
    assert bob.terminate() == 0
    done = _status_process("--json")
    assert done.returncode == 0 and json.loads(done.stdout)["followers"][0]["state"] == "stopped"
    append(log, login_line(1))
    done = _status_process("--json")
    assert done.returncode == 1 and json.loads(done.stdout)["sources"][0]["behind"]


def test_during_an_outage_it_prints_one_line_exits_3_and_writes_mailtrail_up_0_atomically(tmp_path):
    port = free_port()  # nothing listens there
    metrics = tmp_path / "mailtrail.prom"
    metrics.write_text("mailtrail_up 1\nmailtrail_sources_stalled 0\n")  # the last good report
    env = {"DATABASE_URL": f"postgresql://nobody@127.0.0.1:{port}/mailtrail"}
    done = _status_process(env=env)
    assert done.returncode == 3 and done.stdout == ""
    assert len(done.stderr.splitlines()) == 1 and "database unreachable" in done.stderr
    assert "Traceback" not in done.stderr
    done = _status_process("--prometheus", "--output", str(metrics), env=env)
    assert done.returncode == 3
    assert "mailtrail_up 0" in metrics.read_text() and "stalled" not in metrics.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mailtrail.prom"]  # no temporary left
    done = _status_process("--json", env=env)
    assert done.returncode == 3 and json.loads(done.stdout)["database"] == "unreachable"


def test_it_never_starts_a_stopped_embedded_database(tmp_path):
    env = {"DATABASE_URL": "", "MAILTRAIL_VAR_DIR": str(tmp_path)}
    done = _status_process(env=env)
    assert done.returncode == 3 and "is not running; status does not start it" in done.stderr
    assert list(tmp_path.iterdir()) == []  # pgserver would have made and started ./pgdata


def test_its_output_file_is_replaced_whole(tmp_path, clean_db):
    metrics = tmp_path / "mailtrail.prom"
    metrics.write_text("old\n")
    done = _status_process("--prometheus", "-o", str(metrics))
    assert done.returncode == 0 and done.stdout == ""
    assert metrics.read_text().startswith("# HELP mailtrail_up") and "mailtrail_up 1" in metrics.read_text()


def test_a_follower_on_another_host_is_judged_by_its_heartbeat(tmp_path, clean_db, capsys):
    log = tmp_path / "mail.log"
    log.write_bytes(login_line(0))
    _source(clean_db, log, upto=log.stat().st_size)
    with clean_db.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO follower (hostname, pid, paths, beat_at, waiting) "
                "VALUES ('mx-erin', 1, ARRAY[:p], now() - interval '5 seconds', 'a lock held by pid 7')"
            ),
            {"p": str(log)},
        )
    code, out = _status(capsys, json_out=True)
    (erin,) = json.loads(out)["followers"]
    assert code == 0 and erin["state"] == "running" and erin["waiting"] == "a lock held by pid 7"
    with clean_db.begin() as conn:
        conn.execute(sa.text("UPDATE follower SET beat_at = now() - interval '61 seconds'"))
    code, out = _status(capsys)
    assert code == 1 and "follower pid 1 on mx-erin: DEAD" in out


def test_a_stale_postmaster_pid_is_not_taken_for_a_running_embedded_server(tmp_path, monkeypatch):
    from mailtrail.database import DatabaseUnavailable, running_database_url

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a pid that no longer runs
    (tmp_path / "pgdata").mkdir()
    (tmp_path / "pgdata" / "postmaster.pid").write_text(
        f"{gone.pid}\n{tmp_path}/pgdata\n0\n5432\n{tmp_path}\n"
    )
    monkeypatch.setenv("DATABASE_URL", "")
    monkeypatch.setenv("MAILTRAIL_VAR_DIR", str(tmp_path))
    with pytest.raises(DatabaseUnavailable, match="stale postmaster.pid"):
        running_database_url()
    (tmp_path / "pgdata" / "postmaster.pid").write_text(
        f"{os.getpid()}\n{tmp_path}/pgdata\n0\n5432\n/run/pg\n"
    )
    assert running_database_url() == "postgresql://postgres:@/mailtrail?host=/run/pg&port=5432"
