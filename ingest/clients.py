"""Client identity: an IMAP ID line folded into the rows of its session, never a row of its own."""

from __future__ import annotations

from ingest.event import CLIENT_ID, Event

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


def fold_client_ids(batch) -> None:
    """Take the ID rows out of batch.events, give their fields to the rows of the same
    (host, session) in the batch that carry none, and keep in batch.client_ids those of an
    ID after login that had no login of theirs in the batch: the sink looks for it among the
    committed rows. Each ID line counts as skipped."""
    events = batch.events
    ids = [row for row in events if row[_KIND] == CLIENT_ID]
    if not ids:
        return
    clients = {(row[_HOST], row[_SESSION]): row[_CLIENT:_END] for row in ids if row[_SESSION] is not None}
    landed = set()
    kept = []
    for row in events:
        kind = row[_KIND]
        if kind == CLIENT_ID:
            continue
        key = (row[_HOST], row[_SESSION])
        client = clients.get(key)
        if client is not None:
            if kind == "login":
                landed.add(key)
            if row[_CLIENT:_END] == (None, None, None, None):
                row = (*row[:_CLIENT], *client, *row[_END:])
        kept.append(row)
    batch.events = kept
    batch.skipped += len(ids)
    # an ID after login (no rip: the mail process prefix) names its account; one before
    # login has its login still to come, and the correlator gives it to that login
    batch.client_ids.extend(
        (row[0], row[_HOST], row[_ACCOUNT], row[_SESSION], *row[_CLIENT:_END])
        for row in ids
        if row[_IP] is None and row[_SESSION] is not None and (row[_HOST], row[_SESSION]) not in landed
    )
