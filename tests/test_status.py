"""`ingest status`: each source against its file, lag, bad lines; non-zero when one is stalled."""

from __future__ import annotations

import argparse
import gzip
import json

import sqlalchemy as sa

from ingest.commands import status_command
from ingest.sink import Batch, Sink
from ingest.source import fingerprint
from tests.test_follow import login_line


def _status(capsys, *, json_out=False, prometheus=False) -> tuple[int, str]:
    code = status_command(argparse.Namespace(json=json_out, prometheus=prometheus))
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
