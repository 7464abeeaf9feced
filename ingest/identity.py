"""Which source a file is: its first line's fingerprint, checked against what its checkpoint stands on."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from ingest.event import Event
from ingest.schema import bad_line, checkpoint, source

# The first line says which file this claims to be; the bytes just before the checkpoint
# say whether it is. Each commit stores a hash of the TAIL_BYTES before its new offset
# (checkpoint.tail_hash, in the same transaction). A plain file whose first line matches a
# source but whose bytes before that source's offset do not, or which is shorter than it,
# is another file: a log restored from a backup and written again, a file replaced by one
# that starts alike. Resuming it would start in the middle of some line and skip the rest.
# It becomes a source of its own, "<fingerprint>~N", read from byte 0; where its lines
# repeat the replaced file's (same offset, same content: the backup's part), they are not
# stored again. Compressed files are not checked: they are never rewritten in place.
TAIL_BYTES = 4096
SUCCESSOR = "~"


def tail_hash(fd: int, offset: int) -> str | None:
    """The hash of the TAIL_BYTES (or fewer, at the start) before offset; None at 0 or past the end."""
    if offset <= 0:
        return None
    n = min(offset, TAIL_BYTES)
    data = os.pread(fd, n, offset - n)
    if len(data) != n:
        return None
    return hashlib.sha256(data).hexdigest()[:32]


def first_line_fingerprint(fp: str) -> str:
    """The fingerprint of the first line behind a source's fingerprint (a successor's too)."""
    return fp.split(SUCCESSOR, 1)[0]


@dataclass(frozen=True)
class Shadow:
    """Bytes [shift, upto) of a file may repeat bytes [0, upto - shift) of source `source_id`:
    there, a line stored by that source at the same place with the same content is not
    stored again (drop_stored)."""

    source_id: int
    upto: int
    shift: int


@dataclass(frozen=True)
class Identity:
    """The source row a file is, and what it replaced."""

    fingerprint: str
    replaces: Shadow | None = None  # the file it replaced, when it did
    note: str | None = None  # set when the replacement is found now: to be said loudly


def identify(conn: sa.Connection, fp: str, path: str) -> Identity:
    """The source a plain file whose first line has fingerprint fp really is (see above)."""
    rows = conn.execute(
        sa.select(
            source.c.id,
            source.c.fingerprint,
            source.c.path,
            source.c.byte_offset,
            checkpoint.c.byte_offset.label("checked_offset"),
            checkpoint.c.tail_hash,
        )
        .select_from(source.outerjoin(checkpoint, checkpoint.c.source_id == source.c.id))
        .where(sa.or_(source.c.fingerprint == fp, source.c.fingerprint.startswith(fp + SUCCESSOR)))
        .order_by(source.c.id)
    ).all()
    if not rows:
        return Identity(fp)
    original = next((r for r in rows if r.fingerprint == fp), rows[0])
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        for r in rows:
            if _stands(r, fd, size):
                replaces = None if r is original else Shadow(original.id, original.byte_offset, 0)
                return Identity(r.fingerprint, replaces)
    finally:
        os.close(fd)
    why = (
        f"it is shorter ({size:,} bytes)"
        if size < original.byte_offset
        else "the bytes before that offset differ"
    )
    note = (
        f"replaces {original.path} (source {original.id}, read to byte {original.byte_offset:,}), "
        f"whose first line it shares, but {why}: a restored backup or a replaced file. Read as a "
        "new file from byte 0; its lines that repeat the old file's (same offset, same content) "
        "are not stored again"
    )
    return Identity(f"{fp}{SUCCESSOR}{len(rows) + 1}", Shadow(original.id, original.byte_offset, 0), note)


def _stands(row, fd: int, size: int) -> bool:
    if size < row.byte_offset:
        return False
    if row.byte_offset == 0 or row.checked_offset != row.byte_offset or row.tail_hash is None:
        return True  # nothing to check: nothing read yet, or a checkpoint from before 0004
    return tail_hash(fd, row.byte_offset) == row.tail_hash


def write_note(conn: sa.Connection, source_id: int, note: str) -> None:
    """Keep what was found out about a source for `status`."""
    conn.execute(
        pg_insert(checkpoint)
        .values(source_id=source_id, byte_offset=0, note=note)
        .on_conflict_do_update(index_elements=[checkpoint.c.source_id], set_={"note": note})
    )


_TS, _KIND, _ACCOUNT, _SESSION = (Event._fields.index(f) for f in ("ts", "kind", "account", "session"))


def drop_stored(conn: sa.Connection, batch, shadow: Shadow) -> int:  # noqa: ANN001 - a sink.Batch
    """Take out of a batch the lines the shadowed source stored already at the same place with
    the same content; they count as skipped. Returns how many."""
    old_id, upto, shift = shadow.source_id, shadow.upto, shadow.shift
    if batch.start >= upto or batch.end <= shift:
        return 0
    events = [row for row in batch.events if shift <= row[-1] < upto]
    dropped = 0
    if events:
        stored = {
            tuple(r)
            for r in conn.execute(
                sa.text(
                    "SELECT line_offset, ts, kind, account, session FROM event WHERE source_id = :id "
                    "AND ts >= :first AND ts <= :last AND line_offset = ANY(:offsets)"
                ),
                {
                    "id": old_id,
                    "first": min(row[_TS] for row in events),
                    "last": max(row[_TS] for row in events),
                    "offsets": [row[-1] - shift for row in events],
                },
            )
        }
        keep = [
            row
            for row in batch.events
            if (row[-1] - shift, row[_TS], row[_KIND], row[_ACCOUNT], row[_SESSION]) not in stored
        ]
        dropped += len(batch.events) - len(keep)
        batch.events = keep
    bad = [b for b in batch.bad if shift <= b[0] < upto]
    if bad:
        stored_bad = {
            (o + shift, bytes(raw))
            for o, raw in conn.execute(
                sa.select(bad_line.c.line_offset, bad_line.c.raw).where(
                    bad_line.c.source_id == old_id, bad_line.c.line_offset.in_([b[0] - shift for b in bad])
                )
            )
        }
        keep_bad = [b for b in batch.bad if (b[0], b[1]) not in stored_bad]
        dropped += len(batch.bad) - len(keep_bad)
        batch.bad = keep_bad
    batch.skipped += dropped
    return dropped


def remember_head(conn: sa.Connection, source_id: int, head: bytes | None) -> None:
    """Keep a source's first line (without its newline), so that a copy of it is found elsewhere."""
    if not head:
        return
    conn.execute(
        pg_insert(checkpoint)
        .values(source_id=source_id, byte_offset=0, head=head)
        .on_conflict_do_update(
            index_elements=[checkpoint.c.source_id],
            set_={"head": head},
            where=checkpoint.c.head.is_(None),
        )
    )


def first_line(path: str) -> bytes | None:
    """A log's first complete line without its newline (what its fingerprint hashes)."""
    from ingest.source import FINGERPRINT_BYTES, open_log

    try:
        with open_log(path) as fh:
            line = fh.readline(FINGERPRINT_BYTES)
    except OSError:
        return None
    return line[:-1] if line.endswith(b"\n") else None


def known_heads(conn: sa.Connection) -> dict[bytes, int]:
    """The first lines of the sources with something stored → their ids."""
    rows = conn.execute(
        sa.select(checkpoint.c.head, checkpoint.c.source_id)
        .join(source, source.c.id == checkpoint.c.source_id)
        .where(checkpoint.c.head.is_not(None), source.c.byte_offset > 0)
    )
    return {bytes(head): sid for head, sid in rows}


def shadow_at(conn: sa.Connection, source_id: int, offset: int) -> tuple[Shadow, str]:
    """What a copy of source `source_id` starting at `offset` may repeat (up to its checkpoint),
    and that source's path."""
    row = conn.execute(sa.select(source.c.byte_offset, source.c.path).where(source.c.id == source_id)).one()
    return Shadow(source_id, offset + row.byte_offset, offset), row.path


def copy_note(path: str, offset: int, shadow: Shadow, of: str) -> str:
    return (
        f"{path}: byte {offset:,} starts a copy of {of} (source {shadow.source_id}; its first line "
        f"there): its lines up to byte {shadow.upto:,} that repeat what was stored from it "
        "are not stored again"
    )


def settle(conn: sa.Connection, source_id: int, ident: Identity, path: str) -> dict[bytes, int]:
    """After opening a source: keep its note and first line; the known first lines to watch for."""
    if ident.note is not None:
        write_note(conn, source_id, ident.note)
    remember_head(conn, source_id, first_line(path))
    return known_heads(conn)
