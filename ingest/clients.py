"""Client identity: an IMAP ID line folded into the rows of its session, never a row of its own."""

from __future__ import annotations

from itertools import compress
from operator import itemgetter

from ingest.event import CLIENT_ID, Event
from ingest.speedups import fastclients

# What the rows of a session carry, wherever its ID line came in the log:
#   * an ID before login (imap-login) comes before its Login line: the correlator remembers
#     it by (host, session) and puts it on the login, a failed sign-in, and every later row
#     of the session (ingest/correlate.py);
#   * an ID after login (the imap process) comes after the Login line: the correlator puts
#     it on the later rows, fold_client_ids on the rows of its batch before it, and the sink
#     on the rows committed in an earlier batch (ingest/sink.py, fill_committed_clients).
# An ID line is counted as a skipped line: it is never stored as an event.

_KIND, _HOST, _ACCOUNT, _IP, _SESSION = (
    Event._fields.index(f) for f in ("kind", "host", "account", "ip", "session")
)
_CLIENT = Event._fields.index("client_name")  # the four client fields end the Event
_END = _CLIENT + 4  # batch rows carry (source_id, line_offset) after the Event's fields
_NO_CLIENT = (None, None, None, None)
_kind, _session = itemgetter(_KIND), itemgetter(_SESSION)


def _fold_client_ids(batch) -> None:
    """Take the ID rows out of batch.events, give their fields to the rows of the same
    (host, session) in the batch that carry none, and keep in batch.client_ids those of an
    ID after login that had no login of theirs in the batch: the sink looks for it among the
    committed rows. Each ID line counts as skipped.

    It runs once a batch over every row, so the passes over all rows are made from C (map,
    compress); Python only visits the rows of a session that sent an ID. The reference of
    ingest/_fastclients.pyx, which makes every pass in C (fold_client_ids is that one when
    it is built)."""
    events = batch.events
    kinds = list(map(_kind, events))
    if CLIENT_ID not in kinds:
        return
    not_id = list(map(CLIENT_ID.__ne__, kinds))
    ids = [row for row, keep in zip(events, not_id, strict=True) if not keep]
    clients = {(row[_HOST], row[_SESSION]): row[_CLIENT:_END] for row in ids if row[_SESSION] is not None}
    sessions = {session for _, session in clients}
    landed = set()
    for i in compress(range(len(events)), map(sessions.__contains__, map(_session, events))):
        row = events[i]
        kind = row[_KIND]
        if kind == CLIENT_ID:
            continue
        key = (row[_HOST], row[_SESSION])
        client = clients.get(key)
        if client is not None:
            if kind == "login":
                landed.add(key)
            if row[_CLIENT:_END] == _NO_CLIENT:
                events[i] = (*row[:_CLIENT], *client, *row[_END:])
    batch.events = list(compress(events, not_id))
    batch.skipped += len(ids)
    # an ID after login (no rip: the mail process prefix) names its account; one before
    # login has its login still to come, and the correlator gives it to that login
    batch.client_ids.extend(
        (row[0], row[_HOST], row[_ACCOUNT], row[_SESSION], *row[_CLIENT:_END])
        for row in ids
        if row[_IP] is None and row[_SESSION] is not None and (row[_HOST], row[_SESSION]) not in landed
    )


fold_client_ids = fastclients.fold_client_ids if fastclients is not None else _fold_client_ids
