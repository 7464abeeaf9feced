"""From raw lines to a batch: decode, parse, correlate — the part backfill and follow share."""

from __future__ import annotations

from collections.abc import Iterable

from ingest.correlate import Correlator
from ingest.event import Event
from ingest.parse import Parser
from ingest.sink import Batch
from ingest.source import MAX_LINE, RawLine

# Bytes that do not occur in text logs; a file whose first block has many is not a log.
_BINARY = bytes(range(0, 9)) + bytes(range(14, 32))


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
    """True for a block that is clearly not a text log (NULs or control bytes in >10% of it)."""
    if not head:
        return False
    if head.startswith(b"\x1f\x8b"):
        return True  # gzip inside gzip, or a .gz read raw
    odd = sum(head.count(bytes([b])) for b in _BINARY)
    return odd * 10 > len(head)


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
