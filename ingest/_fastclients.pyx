# cython: boundscheck=False, wraparound=False
"""fold_client_ids in C: ingest/clients.py's _fold_client_ids, the reference, step for step.

Its passes over every row of a batch run here without a Python loop; the rows a session's
ID changes are changed as the reference changes them (tests/test_fastclients.py compares
both on generated batches and random rows).
"""

from ingest.event import CLIENT_ID, LOGIN, Event

cdef Py_ssize_t _KIND = Event._fields.index("kind")
cdef Py_ssize_t _HOST = Event._fields.index("host")
cdef Py_ssize_t _ACCOUNT = Event._fields.index("account")
cdef Py_ssize_t _IP = Event._fields.index("ip")
cdef Py_ssize_t _SESSION = Event._fields.index("session")
cdef Py_ssize_t _CLIENT = Event._fields.index("client_name")
cdef Py_ssize_t _END = _CLIENT + 4
cdef tuple _NO_CLIENT = (None, None, None, None)
cdef object _CLIENT_ID = CLIENT_ID, _LOGIN = LOGIN


def fold_client_ids(batch):
    """See ingest.clients._fold_client_ids."""
    cdef list events = batch.events
    cdef Py_ssize_t i, n = len(events)
    cdef list ids = [], kept
    cdef dict clients = {}
    cdef set sessions, landed = set()
    cdef object row, kind, key, client, session
    for i in range(n):
        row = events[i]
        if not isinstance(row, tuple) or len(<tuple>row) < _END:  # read below without bounds checks
            raise TypeError(f"a row is a tuple of at least {_END} values")
        if row[_KIND] == _CLIENT_ID:
            ids.append(row)
    if not ids:
        return
    for row in ids:
        if row[_SESSION] is not None:
            clients[(row[_HOST], row[_SESSION])] = row[_CLIENT:_END]
    sessions = {key[1] for key in clients}
    kept = []
    for i in range(n):
        row = events[i]
        kind = row[_KIND]
        if kind == _CLIENT_ID:
            continue
        if row[_SESSION] in sessions:
            key = (row[_HOST], row[_SESSION])
            client = clients.get(key)
            if client is not None:
                if kind == _LOGIN:
                    landed.add(key)
                if row[_CLIENT:_END] == _NO_CLIENT:
                    row = (*row[:_CLIENT], *client, *row[_END:])
                    events[i] = row
        kept.append(row)
    batch.events = kept
    batch.skipped += len(ids)
    batch.client_ids.extend(
        (row[0], row[_HOST], row[_ACCOUNT], row[_SESSION], *row[_CLIENT:_END])
        for row in ids
        if row[_IP] is None and row[_SESSION] is not None and (row[_HOST], row[_SESSION]) not in landed
    )
