"""Reading log files: fingerprints that survive renames and compression, complete lines only, bounded memory."""

import gzip
import shutil

from ingest.source import MAX_LINE, ReadResult, fingerprint, open_log, read_lines

FIRST = b"Nov 27 06:11:11 mx1 dovecot: imap-login: Login: user=<alice@example.edu>, rip=192.0.2.1\n"


def _read(path, start=0, final=False):
    result = ReadResult()
    with open_log(path) as fh:
        lines = list(read_lines(fh, start, result, final=final))
    return lines, result


def test_a_renamed_and_a_compressed_copy_keep_the_fingerprint(tmp_path):
    log = tmp_path / "mail.log"
    log.write_bytes(FIRST + b"second line\n")
    rotated = tmp_path / "mail.log.1"
    shutil.copy(log, rotated)
    with open(log, "rb") as src, gzip.open(tmp_path / "mail.log.2.gz", "wb") as dst:
        dst.write(src.read())
    fp = fingerprint(log)
    assert fp is not None
    assert fingerprint(rotated) == fp
    assert fingerprint(tmp_path / "mail.log.2.gz") == fp


def test_files_with_different_first_lines_differ(tmp_path):
    (tmp_path / "a").write_bytes(FIRST)
    (tmp_path / "b").write_bytes(FIRST.replace(b"06:11:11", b"06:11:12"))
    assert fingerprint(tmp_path / "a") != fingerprint(tmp_path / "b")


def test_a_file_without_a_complete_first_line_has_no_fingerprint_yet(tmp_path):
    log = tmp_path / "mail.log"
    log.write_bytes(FIRST[:-10])
    assert fingerprint(log) is None
    log.write_bytes(b"")
    assert fingerprint(log) is None


def test_lines_carry_their_byte_offsets_and_resume_from_one(tmp_path):
    log = tmp_path / "mail.log"
    log.write_bytes(b"one\ntwo\nthree\n")
    lines, result = _read(log)
    assert [(ln.offset, ln.data, ln.end) for ln in lines] == [
        (0, b"one", 4),
        (4, b"two", 8),
        (8, b"three", 14),
    ]
    assert result.offset == 14
    again, _ = _read(log, start=4)
    assert [ln.data for ln in again] == [b"two", b"three"]


def test_an_unterminated_last_line_waits_unless_the_file_is_final(tmp_path):
    log = tmp_path / "mail.log"
    log.write_bytes(b"one\ntwo\nhalf a li")
    lines, result = _read(log)
    assert [ln.data for ln in lines] == [b"one", b"two"]
    assert result.offset == 8 and result.partial_tail == 9
    lines, result = _read(log, final=True)
    assert lines[-1].data == b"half a li" and result.offset == 17


def test_a_gzip_file_resumes_inside_its_decompressed_stream(tmp_path):
    path = tmp_path / "mail.log.2.gz"
    with gzip.open(path, "wb") as fh:
        fh.write(b"".join(b"line %d\n" % i for i in range(1000)))
    lines, _ = _read(path, start=len(b"line 0\n"), final=True)
    assert lines[0].data == b"line 1" and len(lines) == 999


def test_an_overlong_line_keeps_its_head_and_the_next_line_survives(tmp_path):
    log = tmp_path / "mail.log"
    big = b"x" * (10 * 1024 * 1024)
    log.write_bytes(b"before\n" + big + b"\nafter\n")
    lines, result = _read(log)
    assert [ln.data[:6] for ln in lines] == [b"before", b"xxxxxx", b"after"]
    assert len(lines[1].data) == MAX_LINE
    assert lines[1].overlong == len(big) - MAX_LINE
    assert lines[2].offset == 7 + len(big) + 1
    assert result.offset == log.stat().st_size


def test_a_truncated_gzip_stream_stops_with_an_error_after_its_good_lines(tmp_path):
    path = tmp_path / "cut.gz"
    with gzip.open(path, "wb") as fh:
        fh.write(b"".join(b"line %d\n" % i for i in range(50_000)))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    lines, result = _read(path, final=True)
    assert result.error is not None
    assert 0 < len(lines) < 50_000
    assert [ln.data for ln in lines[:3]] == [b"line 0", b"line 1", b"line 2"]


def test_an_overlong_unterminated_tail_waits_or_is_kept_when_final(tmp_path):
    log = tmp_path / "mail.log"
    tail = b"y" * (3 * 1024 * 1024)
    log.write_bytes(b"first\n" + tail)
    lines, result = _read(log)
    assert [ln.data for ln in lines] == [b"first"]
    assert result.offset == 6 and result.partial_tail == len(tail)
    lines, result = _read(log, final=True)
    assert len(lines[1].data) == MAX_LINE and lines[1].overlong == len(tail) - MAX_LINE
    assert result.offset == 6 + len(tail)


def test_lines_that_straddle_read_blocks_come_out_whole(tmp_path):
    log = tmp_path / "mail.log"
    body = b"".join(b"%07d %s\n" % (i, b"z" * (i % 300)) for i in range(20_000))
    log.write_bytes(body)
    lines, result = _read(log)
    assert len(lines) == 20_000 and result.offset == len(body)
    assert all(ln.data.startswith(b"%07d " % i) for i, ln in enumerate(lines))
    assert all(body[ln.offset : ln.end] == ln.data + b"\n" for ln in lines[::997])
