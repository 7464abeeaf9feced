"""Log files as sources: identity by content fingerprint, streaming reads of complete lines."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import os
import stat
import zlib
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import accumulate
from operator import itemgetter
from typing import BinaryIO, NamedTuple

from ingest.speedups import fastread

# A file is known by a hash of its first line (up to FINGERPRINT_BYTES), not by name or
# inode: logrotate renames files and inodes are reused, but a log's first line (time, host,
# pid) does not change when the file is renamed or compressed. A file with no complete first
# line yet has no fingerprint and is not read until it has one.
FINGERPRINT_BYTES = 4096

# Lines longer than this are not Dovecot's; their first MAX_LINE bytes are kept as a bad line
# and the rest is skipped without holding it in memory.
MAX_LINE = 64 * 1024

GZIP_MAGIC = b"\x1f\x8b"
# Compressed formats are told by their magic bytes, never by their names: logrotate's
# `compresscmd` can write any of them under any extension.
MAGIC = {
    "gzip": GZIP_MAGIC,
    "xz": b"\xfd7zXZ\x00",
    "bzip2": b"BZh",
    "zstd": b"\x28\xb5\x2f\xfd",
}


class NotRegularFile(OSError):
    """A FIFO, device or directory given as a log: reading it could block for ever."""


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def check_regular(path: str | os.PathLike) -> None:
    """Raise NotRegularFile unless path is a regular file (checked before any open: opening
    a FIFO blocks until someone writes to it)."""
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        kind = _kind(mode)
        raise NotRegularFile(0, f"{kind}, not a regular file; only regular files are read", os.fspath(path))


def compression_of(path: str | os.PathLike) -> str | None:
    """The compressed format of a file by its magic bytes ("gzip", "xz", …), or None for plain."""
    check_regular(path)
    with open(path, "rb") as fh:
        head = fh.read(6)
    for name, magic in MAGIC.items():
        if head.startswith(magic):
            return name
    return None


def is_gzip(path: str | os.PathLike) -> bool:
    return compression_of(path) == "gzip"


class _ForwardReader(io.RawIOBase):
    """A zstd stream as a raw file that seeks forward by reading (zstandard's reader does not
    seek), so that io.BufferedReader gives it readline and peek like the other formats.

    Frames are decompressed one after the other (zstd, like gzip, may concatenate them); a
    stream that ends inside a frame raises OSError as a truncated gzip does: zstandard's own
    stream reader ends it silently.
    """

    def __init__(self, raw: BinaryIO) -> None:
        import zstandard  # only wanted for .zst files

        self.fileobj = raw  # the file on disk: compressed_position reads its position
        self._zstd = zstandard
        self._frame = zstandard.ZstdDecompressor().decompressobj()
        self._started = False  # whether the current frame has had any input
        self._out = b""
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def _fill(self) -> None:
        while not self._out:
            data = self.fileobj.read(BLOCK)
            if not data:
                if self._started and not self._frame.eof:
                    raise OSError("zstd: the compressed stream ends inside a frame")
                return
            while data:
                if self._frame.eof:
                    self._frame = self._zstd.ZstdDecompressor().decompressobj()
                try:
                    self._out += self._frame.decompress(data)
                except self._zstd.ZstdError as exc:  # damaged: a read error like gzip's
                    raise OSError(f"zstd: {exc}") from exc
                self._started = True
                data = self._frame.unused_data if self._frame.eof else b""

    def readinto(self, buffer) -> int:  # noqa: ANN001 - a writable buffer
        self._fill()
        n = min(len(buffer), len(self._out))
        buffer[:n] = self._out[:n]
        self._out = self._out[n:]
        self._pos += n
        return n

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR:
            offset += self._pos
        elif whence != io.SEEK_SET or offset < self._pos:
            raise io.UnsupportedOperation("a zstd stream can only be read forward")
        scratch = bytearray(BLOCK)
        while self._pos < offset:
            view = memoryview(scratch)[: min(BLOCK, offset - self._pos)]
            if not self.readinto(view):
                break
        return self._pos

    def close(self) -> None:
        if not self.closed:
            self.fileobj.close()
        super().close()


def open_log(path: str | os.PathLike) -> BinaryIO:
    """Open a log for binary reading, decompressed when its magic bytes say gzip, xz, bzip2
    or zstd. A FIFO or device raises NotRegularFile at once instead of blocking."""
    kind = compression_of(path)
    if kind == "gzip":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if kind == "xz":
        return lzma.open(path, "rb")  # type: ignore[return-value]
    if kind == "bzip2":
        return bz2.open(path, "rb")  # type: ignore[return-value]
    if kind == "zstd":
        return io.BufferedReader(_ForwardReader(open(path, "rb")), BLOCK)  # type: ignore[return-value]
    return open(path, "rb", buffering=1024 * 1024)


def is_compressed(fh: BinaryIO) -> bool:
    """True for a decompressing reader: it is read line by line (a seek back would restart it)."""
    return isinstance(fh, _COMPRESSED) or isinstance(getattr(fh, "raw", None), _ForwardReader)


_COMPRESSED = (gzip.GzipFile, lzma.LZMAFile, bz2.BZ2File)


def fingerprint_of(fh: BinaryIO) -> str | None:
    """The fingerprint of an open log (read from its start), or None without a complete line."""
    head = fh.readline(FINGERPRINT_BYTES)
    if not head.endswith(b"\n") and len(head) < FINGERPRINT_BYTES:
        return None
    return "l1:" + hashlib.sha256(head).hexdigest()[:40]


def fingerprint(path: str | os.PathLike) -> str | None:
    try:
        with open_log(path) as fh:
            return fingerprint_of(fh)
    except (EOFError, OSError, zlib.error, lzma.LZMAError):
        return None


class RawLine(NamedTuple):
    """One line as read: its byte offset, its bytes without the newline, and where it ends.

    A NamedTuple rather than a dataclass: one is built per line, and this is the hot path.
    """

    offset: int
    data: bytes
    end: int
    overlong: int = 0  # bytes beyond MAX_LINE that were skipped (0 for a normal line)


@dataclass
class ReadResult:
    """What a read left behind: where it stopped and why."""

    offset: int = 0
    partial_tail: int = 0  # bytes of an unterminated last line left unread
    error: str | None = None  # a read error (e.g. a truncated gzip stream)
    # (offset, source id): reading stopped before a line that is a known source's first line
    boundary: tuple[int, int] | None = None


def read_lines(
    fh: BinaryIO,
    start: int,
    result: ReadResult,
    *,
    final: bool = False,
    heads: dict[bytes, int] | None = None,
    ignore_at: int = -1,
) -> Iterator[RawLine]:
    """The complete lines of `fh` from byte `start` (of the decompressed stream), read lazily.

    An unterminated last line is left unread (its writer may still be writing it) unless
    `final` is set, as for a compressed file, which can never grow. `result` tells where
    reading stopped once the lines ran out. Memory stays bounded by SPLIT_BLOCK + MAX_LINE
    bytes and one block's lines whatever the file holds.

    `heads` maps known sources' first lines (without the newline) to their ids: reading
    stops before such a line anywhere but at byte 0 and at `ignore_at`, and
    `result.boundary` says where and which (a copy of that source starts there).

    A plain file gives a LineReader, which also hands out lists of lines (`take`); a
    compressed one a generator of its lines. Both are iterators with close().
    """
    heads = heads or _NO_HEADS
    if is_compressed(fh):
        return _read_compressed(fh, start, result, final, heads, ignore_at)
    return LineReader(fh, start, result, final, heads, ignore_at)


BLOCK = 1024 * 1024
# What LineReader reads and splits at once. A block's lines are built together (~170 bytes
# of objects a line): 32 KiB keeps a block of empty lines near 10 MB, and a normal block's
# lines still in the cache when fill_batch takes them (faster than 1 MiB: 0.31 s against
# 0.88 s for the 2M lines of bench/read_fill.py, both compiled).
SPLIT_BLOCK = 32 * 1024
_NO_HEADS: dict[bytes, int] = {}
_READ_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile, lzma.LZMAError, OSError)
_DATA = itemgetter(1)


def _read_error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _read_compressed(
    fh: BinaryIO, start: int, result: ReadResult, final: bool, heads: dict, ignore_at: int
) -> Iterator[RawLine]:
    # line by line: a reader that stops mid-block would make the next seek rewind and
    # decompress the whole stream again
    _seek(fh, start)
    result.offset = start
    try:
        yield from _read_by_line(fh, start, result, final, heads, ignore_at)
    except _READ_ERRORS as exc:
        result.error = _read_error(exc)


class LineReader:
    """The lines of a plain file, split a block (SPLIT_BLOCK) at a time (five times cheaper a
    line than readline): an iterator of RawLines, and `take` for a list of them at once.

    A block is split in one call (split_block: ingest/_fastread.pyx when built, else
    _split_block), and its lines are handed out from a list: per line there is neither a
    generator step nor, compiled, a Python loop. Reading stays lazy: the next block is read,
    and `result` is told why reading stopped (a boundary, an unterminated tail, a read
    error), only when every line before it has been handed out.
    """

    def __init__(
        self,
        fh: BinaryIO,
        start: int,
        result: ReadResult,
        final: bool = False,
        heads: dict | None = None,
        ignore_at: int = -1,
        *,
        split: Callable | None = None,  # the block splitter (default: the compiled one if built)
    ) -> None:
        self._fh, self._start, self._result = fh, start, result
        self._final, self._heads, self._ignore_at = final, heads or _NO_HEADS, ignore_at
        self._offset = start  # where the first line of the next block starts
        self._carry = b""  # the unterminated end of the last block (at most MAX_LINE bytes)
        self._skipped = 0  # bytes of an overlong line beyond the carry, dropped as they were read
        self._lines: list[RawLine] = []  # the split block's lines; those from _at on are not handed out
        self._at = 0
        self._boundary: tuple[int, int] | None = None  # where the split block stopped, before a head
        self._state = _UNREAD
        self._split = split or (fastread.split_block if fastread is not None else _split_block)

    def __iter__(self) -> LineReader:
        return self

    def __next__(self) -> RawLine:
        if self._at >= len(self._lines) and not self._refill():
            raise StopIteration
        line = self._lines[self._at]
        self._at += 1
        self._result.offset = line[2]
        return line

    def take(self, want: int, budget: int) -> tuple[list[RawLine], bool]:
        """Up to `want` lines, and whether the lines ran out. The lines' bytes pass `budget`
        only with the last line handed out: the list ends at the line that passes it (how
        fill_batch bounds the memory of bad lines; pipeline._take says the same of any
        iterator)."""
        out: list[RawLine] = []
        while len(out) < want:
            at = self._at
            if at >= len(self._lines):
                if not self._refill():
                    return out, True
                continue
            piece = self._lines[at : at + want - len(out)]
            # the lines are contiguous: their bytes are at most the span from the first's
            # start to the last's end, so only a span past the budget needs counting
            if piece[-1][2] - (out or piece)[0][0] > budget:
                used = sum(map(len, map(_DATA, out)))
                within = bisect_right(list(accumulate(map(len, map(_DATA, piece)), initial=used)), budget)
                if within <= len(piece):
                    piece = piece[:within]  # the first line past the budget is the last one
                    out += piece
                    self._at = at + len(piece)
                    self._result.offset = piece[-1][2]
                    return out, False
            out += piece
            self._at = at + len(piece)
            self._result.offset = piece[-1][2]
        return out, False

    def close(self) -> None:
        self._state = _DONE
        self._lines, self._at = [], 0

    def _refill(self) -> bool:
        """Split blocks until one gives lines; False when none is left (`result` says why)."""
        result = self._result
        self._lines, self._at = [], 0
        while not self._lines:
            if self._state is _DONE:
                return False
            if self._boundary is not None:
                result.boundary = self._boundary
                self._state = _DONE
                return False
            if self._state is _UNREAD:
                _seek(self._fh, self._start)
                result.offset = self._start
                self._state = _READING
            try:
                chunk = self._fh.read(SPLIT_BLOCK)
            except _READ_ERRORS as exc:
                result.error = _read_error(exc)
                self._state = _DONE
                return False
            if not chunk:
                self._state = _DONE
                self._tail()
                return bool(self._lines)
            if self._carry:
                chunk = self._carry + chunk
            self._lines, self._offset, self._carry, self._skipped, self._boundary = self._split(
                RawLine, chunk, self._offset, self._skipped, self._heads, self._ignore_at, MAX_LINE
            )
        return True

    def _tail(self) -> None:
        """At the end of the file: the unterminated last line, a line if `final`."""
        carry, skipped, offset = self._carry, self._skipped, self._offset
        if carry or skipped:
            if self._final:
                total = len(carry) + skipped
                self._lines = [RawLine(offset, carry, offset + total, max(0, total - MAX_LINE))]
            else:
                self._result.partial_tail = len(carry) + skipped


_UNREAD, _READING, _DONE = "unread", "reading", "done"
_new = tuple.__new__  # builds a RawLine without the Python-level __new__ of a NamedTuple


def _split_block(
    cls: type, chunk: bytes, offset: int, skipped: int, heads: dict, ignore_at: int, max_line: int
) -> tuple[list[RawLine], int, bytes, int, tuple[int, int] | None]:
    """Split a block (the carry of the last one first) into its complete lines as `cls`.

    Returns (lines, offset after them, carry, skipped, boundary). The carry is the block's
    unterminated end, cut to max_line bytes (skipped counts what was cut from the overlong
    line it starts); boundary is (offset, id) when the lines stop before a known source's
    first line (`heads`), which starts at that offset (then carry is b"" and skipped 0).
    The reference of ingest/_fastread.pyx's split_block.
    """
    lines: list[RawLine] = []
    append = lines.append
    parts = chunk.split(b"\n")
    carry = parts.pop()
    if parts and skipped:  # the overlong line ends in this block
        head = parts[0]
        total = len(head) + skipped + 1
        append(_new(cls, (offset, head[:max_line], offset + total, total - 1 - max_line)))
        offset += total
        skipped = 0
        del parts[0]
    for data in parts:
        n = len(data) + 1
        if n <= max_line + 1:
            if data in heads and offset and offset != ignore_at:
                return lines, offset, b"", 0, (offset, heads[data])
            append(_new(cls, (offset, data, offset + n, 0)))
        else:
            append(_new(cls, (offset, data[:max_line], offset + n, n - 1 - max_line)))
        offset += n
    if len(carry) > max_line:  # keep the head of an overlong line, not all of it
        skipped += len(carry) - max_line
        carry = carry[:max_line]
    return lines, offset, carry, skipped, None


def _read_by_line(
    fh: BinaryIO, offset: int, result: ReadResult, final: bool, heads: dict, ignore_at: int
) -> Iterator[RawLine]:
    readline = fh.readline
    limit = MAX_LINE + 1
    while True:
        raw = readline(limit)
        if not raw:
            break
        n = len(raw)
        if raw[-1] == 10:  # b"\n"
            if raw[:-1] in heads and offset and offset != ignore_at:
                result.boundary = (offset, heads[raw[:-1]])
                return
            yield RawLine(offset, raw[:-1], offset + n)
            offset += n
            result.offset = offset
            continue
        if n < limit:  # unterminated last line
            if final:
                yield RawLine(offset, raw, offset + n)
                offset += n
                result.offset = offset
            else:
                result.partial_tail = n
            break
        # an overlong line: keep its head, skip the rest up to the newline
        skipped, ended = _skip_to_newline(fh)
        if not ended and not final:
            result.partial_tail = n + skipped
            break
        total = n + skipped + (1 if ended else 0)
        yield RawLine(offset, raw[:MAX_LINE], offset + total, overlong=n + skipped - MAX_LINE)
        offset += total
        result.offset = offset


def _skip_to_newline(fh: BinaryIO) -> tuple[int, bool]:
    skipped = 0
    while True:
        chunk = fh.readline(MAX_LINE)
        if not chunk:
            return skipped, False
        if chunk.endswith(b"\n"):
            return skipped + len(chunk) - 1, True
        skipped += len(chunk)


def _seek(fh: BinaryIO, offset: int) -> None:
    if is_compressed(fh):
        fh.seek(offset)  # decompresses up to offset: the only way into a compressed stream
    else:
        fh.seek(offset, io.SEEK_SET)


def compressed_position(fh: BinaryIO) -> int:
    """How far into the file on disk a reader is (for progress on .gz files)."""
    raw = getattr(fh, "fileobj", None) or getattr(getattr(fh, "raw", None), "fileobj", None)
    raw = raw or getattr(fh, "_fp", None)  # LZMAFile and BZ2File keep the file on disk there
    if raw is not None:
        return raw.tell()
    return fh.tell()
