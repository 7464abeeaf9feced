"""What a source will and will not read: xz, bzip2 and zstd logs, FIFOs and devices, binary data."""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import random
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa
import zstandard

from ingest.pipeline import looks_binary
from ingest.source import NotRegularFile, ReadResult, compression_of, fingerprint, open_log, read_lines
from tests.conftest import CORPUS, PROJECT_DIR
from tests.test_backfill import backfill
from tests.test_follow import login_line, sessions, wait_until

CONTENT = b"".join(login_line(n) for n in range(300))
COMPRESSORS = {
    "gzip": gzip.compress,
    "xz": lzma.compress,
    "bzip2": bz2.compress,
    "zstd": lambda data: zstandard.ZstdCompressor().compress(data),
}


def _lines(path, start=0):
    with open_log(path) as fh:
        result = ReadResult()
        return [raw.data for raw in read_lines(fh, start, result, final=True)], result


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_each_compressed_format_is_read_by_its_magic_bytes_and_resumes_inside_its_content(tmp_path, kind):
    path = tmp_path / "mail.log.2.any"  # the name says nothing: the magic bytes decide
    path.write_bytes(COMPRESSORS[kind](CONTENT))
    assert compression_of(path) == kind
    lines, result = _lines(path)
    assert b"\n".join(lines) + b"\n" == CONTENT and result.error is None
    assert fingerprint(path) == fingerprint_of_plain(tmp_path)
    half = sum(len(login_line(n)) for n in range(150))
    rest, _ = _lines(path, half)
    assert rest[0] + b"\n" == login_line(150) and len(rest) == 150


def fingerprint_of_plain(tmp_path):
    plain = tmp_path / "plain.log"
    plain.write_bytes(CONTENT)
    return fingerprint(plain)


@pytest.mark.parametrize("kind", ["xz", "bzip2", "zstd"])
def test_backfill_loads_an_xz_bzip2_or_zstd_log_once(tmp_path, engine, clean_db, kind):
    path = tmp_path / f"mail.log.1.{kind}"
    path.write_bytes(COMPRESSORS[kind](CONTENT))
    for _ in range(2):
        done = backfill(path)
        assert done.returncode == 0, done.stderr
    assert sessions(engine) == {f"S{n:015d}": 1 for n in range(300)}
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM bad_line")).scalar_one() == 0


def test_a_damaged_zstd_stream_stops_with_an_error_after_its_good_lines(tmp_path):
    whole = COMPRESSORS["zstd"](CONTENT)
    path = tmp_path / "mail.log.zst"
    path.write_bytes(whole[: len(whole) // 2] + b"\x00" * 64)
    lines, result = _lines(path)
    assert result.error is not None and "zstd" in result.error
    assert all(line + b"\n" == login_line(n) for n, line in enumerate(lines))


def _run(*args, timeout=20):
    return subprocess.run(
        [sys.executable, "-m", "ingest", *args],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("command", ["parse", "backfill"])
def test_a_fifo_is_refused_at_once_with_a_clear_message(tmp_path, clean_db, command):
    fifo = tmp_path / "mail.log"
    os.mkfifo(fifo)
    started = time.monotonic()
    done = _run(command, str(fifo))  # before the fix this blocked until the 20 s timeout
    assert time.monotonic() - started < 15
    assert done.returncode == 1
    assert f"{fifo}" in done.stderr and "FIFO (named pipe), not a regular file" in done.stderr


def test_a_device_is_refused_too(clean_db):
    done = _run("parse", "/dev/zero")
    assert done.returncode == 1 and "a device, not a regular file" in done.stderr
    with pytest.raises(NotRegularFile):
        open_log("/dev/null")


def test_follow_refuses_a_fifo_named_as_its_file_and_names_where_it_came_from(tmp_path, clean_db):
    fifo = tmp_path / "mail.log"
    os.mkfifo(fifo)
    done = _run("follow", str(fifo))
    assert done.returncode == 2
    assert "PATH argument" in done.stderr and "FIFO (named pipe), not a regular file" in done.stderr


def test_follow_reads_a_rotated_xz_copy_of_a_file_it_had_not_finished(tmp_path, clean_db, engine):
    from tests.test_follow import FollowProcess

    log = tmp_path / "mail.log"
    log.write_bytes(b"".join(login_line(n) for n in range(100)))
    first = FollowProcess(tmp_path, [str(log)])
    try:
        first.wait_ready()
        assert wait_until(lambda: len(sessions(engine)) == 100, 20), first.output()
    finally:
        first.terminate()
    # while it was stopped: the file grew, was rotated and compressed with xz, a new one began
    (tmp_path / "mail.log.1.xz").write_bytes(lzma.compress(CONTENT))
    log.unlink()
    log.write_bytes(login_line(1000))
    second = FollowProcess(tmp_path, [str(log)])
    try:
        second.wait_ready()
        assert wait_until(lambda: len(sessions(engine)) == 301, 20), second.output()
    finally:
        second.terminate()
    assert set(sessions(engine).values()) == {1}


def test_random_data_never_passes_the_binary_check_and_real_logs_always_do():
    rnd = random.Random(8)
    # before: a 10 % threshold let ~11 % of random 4 KiB blocks through
    assert not any(not looks_binary(rnd.randbytes(4096)) for _ in range(2000))
    assert not any(not looks_binary(rnd.randbytes(512)) for _ in range(2000))
    text = CORPUS.read_bytes()[:65536]
    assert not looks_binary(text)
    assert not looks_binary(text.decode().encode("latin-1", "replace"))
    for compress in COMPRESSORS.values():
        assert looks_binary(compress(CONTENT))
    # one hostile line of control bytes in a 64 KiB sample does not condemn the file
    hostile = text[:60000] + b"x" * 400 + bytes(range(1, 9)) * 50 + b"\n"
    assert not looks_binary(hostile)
