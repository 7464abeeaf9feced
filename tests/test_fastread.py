"""The compiled block splitter (ingest/_fastread.pyx) reads exactly what the Python one reads.

Three readers of a plain file are compared on hostile and random bytes: LineReader with the
compiled split_block, LineReader with the pure-Python _split_block (the reference), and the
line-by-line reader of compressed files, which shares no code with either. Small blocks
and a small MAX_LINE put block ends and overlong lines everywhere.
"""

import importlib
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest import pipeline, source
from ingest.source import LineReader, RawLine, ReadResult, _read_compressed, _split_block, read_lines

# imported directly, not through ingest.speedups: MAILTRAIL_PURE_PYTHON must not hide a
# missing build from this test (make setup builds it)
fastread = importlib.import_module("ingest._fastread")
SPLITTERS = {"compiled": fastread.split_block, "python": _split_block}


def _read_each_way(data: bytes, start=0, final=False, heads=None, ignore_at=-1):
    """{reader: (its RawLines, its ReadResult)} for the same bytes."""
    answers = {}
    for name, split in SPLITTERS.items():
        result = ReadResult()
        lines = list(LineReader(io.BytesIO(data), start, result, final, heads, ignore_at, split=split))
        answers[name] = (lines, result)
    result = ReadResult()
    lines = list(_read_compressed(io.BytesIO(data), start, result, final, heads or {}, ignore_at))
    answers["line by line"] = (lines, result)
    return answers


def _agree(data: bytes, **kwargs) -> tuple[list[RawLine], ReadResult]:
    answers = _read_each_way(data, **kwargs)
    lines, result = answers["python"]
    for name, (their_lines, their_result) in answers.items():
        assert their_lines == lines, name
        assert all(type(line) is RawLine for line in their_lines), name
        assert their_result == result, name
    return lines, result


@pytest.fixture
def small(monkeypatch):
    """Blocks of 7 bytes and lines of at most 10: every case below crosses block ends."""
    monkeypatch.setattr(source, "SPLIT_BLOCK", 7)
    monkeypatch.setattr(source, "MAX_LINE", 10)


def test_lines_their_offsets_and_an_unterminated_tail_agree(small):
    data = b"one\r\n\n\ntwo\x00x\n\x00\x00three\nfour"
    lines, result = _agree(data)
    assert [line.data for line in lines] == [b"one\r", b"", b"", b"two\x00x", b"\x00\x00three"]
    assert (result.offset, result.partial_tail) == (len(data) - 4, 4)
    lines, result = _agree(data, final=True)
    assert lines[-1] == RawLine(len(data) - 4, b"four", len(data), 0)
    assert (result.offset, result.partial_tail) == (len(data), 0)


def test_overlong_lines_across_block_ends_keep_their_heads_and_count_the_rest(small):
    data = b"a" * 25 + b"\nok\n" + b"b" * 11 + b"\n" + b"c" * 10 + b"\n" + b"d" * 31
    lines, result = _agree(data)
    assert [(line.data, line.overlong) for line in lines] == [
        (b"a" * 10, 15),
        (b"ok", 0),
        (b"b" * 10, 1),
        (b"c" * 10, 0),
    ]
    assert result.partial_tail == 31
    lines, result = _agree(data, final=True)
    assert (lines[-1].data, lines[-1].overlong, lines[-1].end) == (b"d" * 10, 21, len(data))
    assert result.offset == len(data)


def test_a_known_first_line_stops_reading_except_at_the_start_and_at_ignore_at(small):
    head = b"HEAD"
    data = head + b"\nx\n" + head + b"\ny\n" + head + b"\nz\n"
    heads = {head: 42}
    lines, result = _agree(data, heads=heads)
    assert [line.data for line in lines] == [head, b"x"]
    assert result.boundary == (7, 42) and result.offset == 7
    lines, result = _agree(data, heads=heads, start=7, ignore_at=7)
    assert [line.data for line in lines] == [head, b"y"]
    assert result.boundary == (14, 42)
    lines, result = _agree(data, heads=heads, start=12)
    assert [line.data for line in lines] == [b"y"] and result.boundary == (14, 42)


def test_a_read_error_ends_the_lines_and_is_reported(small):
    class Failing(io.BytesIO):
        def read(self, n=-1):
            if self.tell() >= 14:
                raise OSError("disk gone")
            return super().read(n)

    for split in SPLITTERS.values():
        result = ReadResult()
        lines = list(LineReader(Failing(b"line one\nline two\nline three\n"), 0, result, split=split))
        assert [line.data for line in lines] == [b"line one"]
        assert result.error == "OSError: disk gone" and result.offset == 9


_BYTES = st.lists(
    st.sampled_from([b"\n", b"\r\n", b"\x00", b"a", b"bc", b"HEAD", b"\xff\xfe", b"0123456789abc", b" "]),
    max_size=60,
).map(b"".join) | st.binary(max_size=200)


@settings(max_examples=300, deadline=None)
@given(
    data=_BYTES,
    block=st.integers(1, 40),
    max_line=st.integers(1, 16),
    final=st.booleans(),
    start_at=st.integers(0, 100),
    pick=st.integers(0, 100),
)
def test_random_bytes_read_the_same_three_ways(data, block, max_line, final, start_at, pick):
    starts = [0] + [i + 1 for i, byte in enumerate(data) if byte == 10]
    start = starts[start_at % len(starts)]
    firsts = data.split(b"\n")
    heads = {firsts[pick % len(firsts)]: 7, b"HEAD": 8}
    ignore_at = starts[pick % len(starts)]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(source, "SPLIT_BLOCK", block)
        mp.setattr(source, "MAX_LINE", max_line)
        _agree(data, start=start, final=final)
        _agree(data, start=start, final=final, heads=heads, ignore_at=ignore_at)


@settings(max_examples=300, deadline=None)
@given(
    chunk=_BYTES,
    offset=st.integers(0, 10**12),
    skipped=st.integers(0, 50) | st.just(0),
    max_line=st.integers(1, 20),
    pick=st.integers(0, 50),
)
def test_one_block_splits_the_same_compiled_and_in_python(chunk, offset, skipped, max_line, pick):
    firsts = chunk.split(b"\n")
    heads = {firsts[pick % len(firsts)]: pick}
    for known, ignore_at in (({}, -1), (heads, -1), (heads, offset + pick)):
        args = (RawLine, chunk, offset, skipped, known, ignore_at, max_line)
        assert fastread.split_block(*args) == _split_block(*args)


@settings(max_examples=200, deadline=None)
@given(
    data=_BYTES,
    wants=st.lists(st.tuples(st.integers(1, 12), st.integers(0, 40)), min_size=1, max_size=30),
    block=st.integers(1, 30),
)
def test_take_hands_out_what_the_generic_take_does(data, wants, block):
    """LineReader.take against pipeline._take over a plain iterator of the same lines: the
    same chunks (cut at the line whose bytes pass the budget), the same ran-out flags."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(source, "SPLIT_BLOCK", block)
        mp.setattr(source, "MAX_LINE", 8)
        for split in SPLITTERS.values():
            fast_result, slow_result = ReadResult(), ReadResult()
            fast = LineReader(io.BytesIO(data), 0, fast_result, split=split)
            slow = iter(list(LineReader(io.BytesIO(data), 0, slow_result, split=split)))
            for want, budget in wants:
                held = pipeline.MAX_BAD_BYTES - budget
                got = pipeline._take(fast, want, held)
                assert got == pipeline._take(slow, want, held)
                if got[1]:
                    break
            else:
                continue
            assert fast_result == slow_result


def test_read_lines_gives_a_line_reader_for_plain_files_and_closes(tmp_path):
    log = tmp_path / "mail.log"
    log.write_bytes(b"one\ntwo\nthree\n")
    with open(log, "rb") as fh:
        lines = read_lines(fh, 4, ReadResult())
        assert isinstance(lines, LineReader)
        assert next(lines) == RawLine(4, b"two", 8, 0)
        lines.close()
        assert list(lines) == []


_LINES = st.lists(
    st.builds(
        lambda data, overlong: RawLine(0, data, len(data) + 1, overlong),
        st.sampled_from([b"", b"ascii", "é ü 中".encode(), b"\xed\xa0\x80", b"\xff", b"a\x00b", b"\x00x"])
        | st.binary(max_size=12),
        st.sampled_from([0, 0, 0, 5]),
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(chunk=_LINES)
def test_a_chunk_decodes_the_same_compiled_and_in_python(chunk):
    texts = fastread.decode_clean(chunk)
    assert texts == pipeline._decode_clean(chunk)
    if texts is not None:
        assert all(type(text) is str for text in texts)


def test_a_chunk_with_a_bad_line_is_left_to_the_line_by_line_decoder():
    good = RawLine(0, "Grüße".encode(), 11, 0)
    assert fastread.decode_clean([good]) == ["Grüße"]
    for bad in (b"\xed\xa0\x80", b"\xc3", b"x\x00y"):  # a surrogate, a cut sequence, a NUL
        assert fastread.decode_clean([good, RawLine(11, bad, 12, 0)]) is None
    assert fastread.decode_clean([good, RawLine(11, b"x" * 10, 99, 88)]) is None  # overlong


def test_a_file_of_empty_lines_is_read_in_bounded_memory(tmp_path):
    """A block's lines are built at once: the block, not the file, bounds them."""
    import tracemalloc

    log = tmp_path / "mail.log"
    log.write_bytes(b"\n" * (512 * 1024))
    tracemalloc.start()
    try:
        with open(log, "rb") as fh:
            reader, n = read_lines(fh, 0, ReadResult()), 0
            while True:
                chunk, ran_out = pipeline._take(reader, pipeline.CHUNK_LINES, 0)
                n += len(chunk)
                if ran_out:
                    break
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert n == 512 * 1024
    assert peak < 16 * 1024 * 1024  # 5 MB; a 1 MiB block of them would hold 76 MB
