"""From raw lines to a batch: decode, parse, correlate — the part backfill and follow share."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from itertools import compress, islice
from operator import itemgetter

from ingest.clients import fold_client_ids
from ingest.correlate import Correlator, extend_rows
from ingest.event import SHORTEST_LIMIT, Event, over_limit
from ingest.parse import Parser
from ingest.sink import REPAIRED, Batch
from ingest.source import MAX_LINE, RawLine
from ingest.speedups import fastread

# Lines decoded and parsed together (Parser.parse_lines); fewer when bad lines near MAX_BAD_BYTES.
CHUNK_LINES = 512
_DATA = itemgetter(1)
_TS = itemgetter(0)
_TYPES_EVENT = frozenset((Event,))
_OVERLONG = itemgetter(3)
_OFFSET = itemgetter(0)

# Bytes that do not occur in text logs (tab, LF, VT, FF, CR and ESC do).
_CONTROL = bytes([*range(0, 9), *range(14, 27), *range(28, 32), 127])
# How much of a file's start the binary check reads.
BINARY_SAMPLE = 64 * 1024


# The raw bytes of bad lines one batch holds, at most: a batch of random bytes (25,000 lines
# of ~256 bytes, their reasons and tuples) would otherwise hold ~11 MB, three batches in flight.
MAX_BAD_BYTES = 2 * 1024 * 1024


def tune_gc() -> None:
    """Make the collector cheap for a long-running reader.

    A batch holds up to a hundred thousand event tuples until it commits, and the default
    thresholds make the collector walk them again and again (13 % of parsing time). The hot
    path makes no reference cycles, so collecting rarely loses nothing; what start-up
    imported is frozen out of the collector's way for good.
    """
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def tune_switching() -> None:
    """Hand the GIL over within 0.2 ms instead of 5: the writer thread (ingest/writer.py)
    wakes for every few hundred kB PostgreSQL takes from the socket and for every statement
    of a batch, and waited up to the default 5 ms each time for the parsing thread, which
    holds the GIL in compiled code; meanwhile the server sat idle (bench/ingest.py: the
    loop of a 2M-line backfill 8.9 s → 7.7 s, the same CPU)."""
    import sys

    sys.setswitchinterval(0.0002)


def looks_binary(head: bytes) -> bool:
    """True for a start of file that is clearly not a text log: compressed data of a format
    the reader did not open, or control bytes in more than 2 % of it.

    Random bytes hold 10.5 % control bytes, so a sample of a few hundred bytes is judged
    right with near certainty (1 KiB of random data passes with a probability below 1e-20);
    text, UTF-8 or Latin-1, holds almost none. One hostile line cannot make a log look
    binary: it would have to fill 2 % of the sample (BINARY_SAMPLE) with control bytes, and
    syslog daemons escape them (rsyslog writes #000 for NUL).
    """
    if not head:
        return False
    from ingest.source import MAGIC

    if head.startswith(tuple(MAGIC.values())):
        return True  # compressed inside compressed, or a compressed file read raw
    odd = len(head) - len(head.translate(None, _CONTROL))
    return odd * 50 > len(head)


def fill_batch(
    lines: Iterable[RawLine],
    batch: Batch,
    parser: Parser,
    correlator: Correlator,
    source_id: int,
    max_lines: int,
    window: tuple[datetime, datetime] | None = None,
) -> bool:
    """Read up to max_lines lines into batch; True when `lines` ran out.

    Every line is counted in exactly one place: an event, the skipped count (not Dovecot, or
    of no interest) or a bad line kept byte for byte with its reason. A line with invalid
    UTF-8 is parsed with U+FFFD for the bad bytes (a damaged name never becomes another
    one), and NULs before a line (crash padding) are dropped; if the line is then an event,
    it counts as an event and its raw bytes are also kept in bad_line for review, with a
    reason that starts with REPAIRED (batch.repaired counts those). A NUL inside a line
    makes it a bad line. An event whose values are over their MAX_LENGTH, or whose time is
    outside `window` (oldest, newest), is a bad line instead. A batch also ends once its bad
    lines hold MAX_BAD_BYTES.
    """
    events = batch.events
    append = events.append
    bad = batch.bad
    parse_lines = parser.parse_lines
    correlate = correlator.process
    n = skipped = repaired = held = 0
    end = batch.end
    first_ts = batch.first_ts
    last_ts = batch.last_ts
    check_time = window is not None
    oldest, newest = window if check_time else (None, None)
    if check_time:
        # in the parser's zone: most event times carry that very tzinfo, and two datetimes
        # with the same tzinfo compare without asking it for their UTC offsets
        oldest, newest = oldest.astimezone(parser.tz), newest.astimezone(parser.tz)
    exhausted = True
    lines = iter(lines)
    while True:
        # A chunk of lines is decoded and parsed at once (Parser.parse_lines), then its
        # events, bad lines and skipped lines are counted as one line at a time would be.
        chunk, ran_out = _take(lines, min(max(max_lines - n, 1), CHUNK_LINES), held)
        if not chunk:
            break
        n += len(chunk)
        end = chunk[-1][2]
        texts, faults = _decode(chunk)
        results = parse_lines(texts)
        seen = 0
        if faults is None:  # the usual chunk: valid UTF-8, no NUL, no overlong line
            hits = list(compress(range(len(chunk)), results))
            visit = iter(hits)
            found = list(map(results.__getitem__, hits))
            if found and _TYPES_EVENT.issuperset(map(type, found)):
                # only events: when all are in the window and none holds a value over its
                # limit (only a long line can), none is a bad line; the chunk's earliest and
                # latest times are the batch's bookkeeping below in one step
                times = list(map(_TS, found))
                try:
                    early, late = min(times), max(times)
                    fits = not check_time or (oldest <= early and late <= newest)
                except OverflowError:
                    fits = False
                if fits:
                    long = compress(found, map(SHORTEST_LIMIT.__lt__, map(len, map(texts.__getitem__, hits))))
                    fits = not any(map(over_limit, long))
                if fits:
                    extend_rows(
                        correlator, found, list(map(_OFFSET, map(chunk.__getitem__, hits))), source_id, events
                    )
                    if last_ts is None:
                        first_ts, last_ts = early, late
                    else:
                        if late > last_ts:
                            last_ts = late
                        if early < first_ts:
                            first_ts = early
                    seen, visit = len(hits), iter(())
        else:
            visit = compress(range(len(chunk)), map(_worth_a_look, results, faults, chunk))
        for i in visit:
            seen += 1
            offset, data, _, overlong = chunk[i]
            if overlong:
                bad.append((offset, data, overlong_reason(len(data) + overlong)))
                held += len(data)
                continue
            fault = None if faults is None else faults[i]
            result = results[i]
            if result is None:  # only with a fault: a line that had to be repaired
                bad.append((offset, data, fault if not texts[i] else fault + " (not a Dovecot event line)"))
                held += len(data)
            elif type(result) is Event:
                ts = result[0]
                try:
                    plausible = not check_time or oldest <= ts <= newest
                except OverflowError:  # year 1 or 9999 with an offset: beyond what UTC holds
                    plausible = False
                if not plausible or (len(texts[i]) > SHORTEST_LIMIT and over_limit(result)):
                    why = over_limit(result) or implausible(ts, oldest, newest)
                    bad.append((offset, data, why if fault is None else f"{fault}; {why}"))
                    held += len(data)
                else:
                    result = correlate(result)
                    append((*result, source_id, offset))
                    if last_ts is None:
                        first_ts = last_ts = ts
                    elif ts > last_ts:
                        last_ts = ts
                    elif ts < first_ts:
                        first_ts = ts
                    if fault is not None:
                        bad.append((offset, data, f"{REPAIRED}{fault}; stored as an event"))
                        held += len(data)
                        repaired += 1
            else:
                bad.append((offset, data, result.reason if fault is None else f"{fault}; {result.reason}"))
                held += len(data)
        skipped += len(chunk) - seen
        if n >= max_lines or held > MAX_BAD_BYTES:
            exhausted = False  # a batch of bad lines ends early too: memory stays bounded
            break
        if ran_out:
            break
    batch.end = end
    batch.lines += n
    batch.skipped += skipped
    batch.repaired += repaired
    batch.first_ts = first_ts
    batch.last_ts = last_ts
    batch.year, batch.month = parser.year_state
    fold_client_ids(batch)
    return exhausted


def _take(lines: Iterator[RawLine], want: int, held: int) -> tuple[list[RawLine], bool]:
    """Up to `want` lines, and whether `lines` ran out. No more than bad lines can use: the
    lines before the last one hold at most what MAX_BAD_BYTES leaves, so a batch still ends
    at the very line whose bytes pass it, and no line after it is read or parsed.

    A LineReader (plain files) does the same in one call, from the lists it splits blocks into."""
    take = getattr(lines, "take", None)
    if take is not None:
        return take(want, MAX_BAD_BYTES - held)
    chunk: list[RawLine] = []
    size = 0  # bytes of the lines taken
    while len(chunk) < want:
        k = min(want - len(chunk), (MAX_BAD_BYTES - held - size) // MAX_LINE + 1)
        if k <= 0:
            return chunk, False
        more = list(islice(lines, k))
        chunk += more
        if len(more) < k:
            return chunk, True
        size += sum(map(len, map(_DATA, more)))
    return chunk, False


def _decode(chunk: list[RawLine]) -> tuple[list[str], list[str | None] | None]:
    """The chunk's lines as text, and each one's fault (None: no line has one)."""
    texts = decode_clean(chunk)
    if texts is not None:
        return texts, None
    texts, faults = [], []
    for _, data, _, overlong in chunk:
        fault = None
        if overlong:
            text = ""  # not parsed (parsing "" reads nothing and changes nothing)
        else:
            try:
                text = data.decode()
            except UnicodeDecodeError as exc:
                text = data.decode(errors="replace")
                fault = f"invalid UTF-8 at byte {exc.start}"
            if "\x00" in text:
                text, fault = _without_nul(text, fault)
        texts.append(text)
        faults.append(fault)
    return texts, faults


def _decode_clean(chunk: list[RawLine]) -> list[str] | None:
    """The usual chunk's lines as text; None when a line is overlong, holds a NUL or is not
    valid UTF-8 (then each line is decoded on its own). The reference of
    ingest/_fastread.pyx's decode_clean, which makes the same checks in one pass."""
    datas = list(map(_DATA, chunk))
    if not any(map(_OVERLONG, chunk)) and b"\x00" not in b"".join(datas):
        try:
            return list(map(bytes.decode, datas))
        except UnicodeDecodeError:
            pass
    return None


decode_clean = fastread.decode_clean if fastread is not None else _decode_clean


def _worth_a_look(result: object, fault: str | None, line: RawLine) -> bool:
    return result is not None or fault is not None or line[3] > 0


def overlong_reason(length: int) -> str:
    return f"line of {length:,} bytes, longer than {MAX_LINE:,}; its first {MAX_LINE:,} bytes are kept"


def _without_nul(text: str, fault: str | None) -> tuple[str, str]:
    """NULs before a line are a file system's padding after a crash: the line is whole after
    them. Dovecot never writes a NUL inside a line (it sanitises control characters), and
    removing one would make "alice\\0x" another name: such a line is emptied (a bad line)."""
    text = text.lstrip("\x00")
    if "\x00" in text:
        return "", "NUL bytes inside the line" + (f"; {fault}" if fault else "")
    return text, "NUL bytes before the line" if fault is None else f"{fault}; NUL bytes before the line"


def implausible(ts: datetime, oldest: datetime, newest: datetime) -> str | None:
    """Why an event time cannot be right for this source now (see plausible_window), or None."""
    try:
        if oldest <= ts <= newest:
            return None
        later = ts > newest
    except OverflowError:  # year 1 or 9999 with an offset: outside anything representable
        later = ts.year > 1
    if later:
        return f"time {ts.isoformat()} is more than a day after the newest time of this source or of now"
    return f"time {ts.isoformat()} is before the retention window (from {oldest.date().isoformat()})"
