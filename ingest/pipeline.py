"""From raw lines to a batch: decode, parse, correlate — the part backfill and follow share."""

from __future__ import annotations

from collections.abc import Iterable

from ingest.correlate import Correlator
from ingest.event import Event
from ingest.parse import Parser
from ingest.sink import Batch
from ingest.source import MAX_LINE, RawLine

# Bytes that do not occur in text logs (tab, LF, VT, FF, CR and ESC do).
_CONTROL = bytes([*range(0, 9), *range(14, 27), *range(28, 32), 127])
# How much of a file's start the binary check reads.
BINARY_SAMPLE = 64 * 1024


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
) -> bool:
    """Read up to max_lines lines into batch; True when `lines` ran out.

    Every line ends up in exactly one place: an event, the skipped count (not Dovecot, or of
    no interest) or a bad line kept byte for byte. A line with a byte-level fault (invalid
    UTF-8, NUL bytes) is still parsed with the fault repaired, and also kept as a bad line so
    that a person can see what the log really held.
    """
    events = batch.events
    append = events.append
    bad = batch.bad
    parse = parser.parse_line
    correlate = correlator.process
    n = skipped = 0
    end = batch.end
    first_ts = batch.first_ts
    last_ts = batch.last_ts
    exhausted = True
    for offset, data, end, overlong in lines:  # noqa: B007 - the last end is the batch's end
        n += 1
        if overlong:
            bad.append(
                (
                    offset,
                    data,
                    f"line of {len(data) + overlong} bytes, longer than {MAX_LINE}; "
                    f"its first {MAX_LINE} bytes are kept",
                )
            )
        else:
            fault = None
            try:
                text = data.decode()
            except UnicodeDecodeError as exc:
                text = data.decode(errors="replace")
                fault = f"invalid UTF-8 at byte {exc.start}"
            if "\x00" in text:
                text = text.replace("\x00", "")
                fault = "NUL bytes" if fault is None else fault + "; NUL bytes"
            result = parse(text)
            if result is None:
                if fault is None:
                    skipped += 1
                else:
                    bad.append((offset, data, fault + " (not a Dovecot event line)"))
            elif type(result) is Event:
                result = correlate(result)
                append((*result, source_id, offset))
                ts = result[0]
                if last_ts is None:
                    first_ts = last_ts = ts
                elif ts > last_ts:
                    last_ts = ts
                elif ts < first_ts:
                    first_ts = ts
                if fault is not None:
                    bad.append((offset, data, fault + " (event stored with the fault repaired)"))
            else:
                bad.append((offset, data, result.reason if fault is None else f"{fault}; {result.reason}"))
        if n >= max_lines:
            exhausted = False
            break
    batch.end = end
    batch.lines += n
    batch.skipped += skipped
    batch.first_ts = first_ts
    batch.last_ts = last_ts
    batch.year, batch.month = parser.year_state
    return exhausted
