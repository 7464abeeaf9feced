"""From raw lines to a batch: decode, parse, correlate — the part backfill and follow share."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from ingest.clients import fold_client_ids
from ingest.correlate import Correlator
from ingest.event import SHORTEST_LIMIT, Event, over_limit
from ingest.parse import Parser
from ingest.sink import REPAIRED, Batch
from ingest.source import MAX_LINE, RawLine

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
    parse = parser.parse_line
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
    for offset, data, end, overlong in lines:  # noqa: B007 - the last end is the batch's end
        n += 1
        if overlong:
            bad.append((offset, data, overlong_reason(len(data) + overlong)))
            held += len(data)
        else:
            fault = None
            try:
                text = data.decode()
            except UnicodeDecodeError as exc:
                text = data.decode(errors="replace")
                fault = f"invalid UTF-8 at byte {exc.start}"
            if "\x00" in text:
                text, fault = _without_nul(text, fault)
            result = parse(text)
            if result is None:
                if fault is None:
                    skipped += 1
                else:
                    bad.append((offset, data, fault if not text else fault + " (not a Dovecot event line)"))
                    held += len(data)
            elif type(result) is Event:
                ts = result[0]
                try:
                    plausible = not check_time or oldest <= ts <= newest
                except OverflowError:  # year 1 or 9999 with an offset: beyond what UTC holds
                    plausible = False
                if not plausible or (len(text) > SHORTEST_LIMIT and over_limit(result)):
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
        if n >= max_lines or held > MAX_BAD_BYTES:
            exhausted = False  # a batch of bad lines ends early too: memory stays bounded
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
