# cython: boundscheck=False, wraparound=False
"""Correlator.extend_rows in C: the correlate stage and the batch row of each event in one loop.

The same steps as Correlator.process (ingest/correlate.py), on the correlator's own tables
and in the same order, so that the answers and the state (what each LRU table holds, in
which order) are those of the Python code, which stays the reference
(tests/test_fastcorrelate.py compares both on the corpus, generated logs and random event
sequences). The row is built at once as (*event, source_id, line_offset), with the IP and
the client fields the correlator gives, without an Event in between.
"""

from cpython.ref cimport Py_INCREF
from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM

from ingest.event import (AUTH_FAIL, CLIENT_ID, COPY, FLAG_DELETE, LOGIN, LOGOUT, MAILBOX_CREATE,
                          MAILBOX_DELETE, MAILBOX_RENAME, MESSAGE_DELETE, SAVE, UNDELETE, Event)

# ingest/correlate.py's _NEEDS_IP (a test checks they are the same)
NEEDS_IP = frozenset((LOGOUT, MESSAGE_DELETE, MAILBOX_DELETE, MAILBOX_RENAME, MAILBOX_CREATE,
                      FLAG_DELETE, UNDELETE, COPY, SAVE))

cdef Py_ssize_t _FIELDS = len(Event._fields)
cdef Py_ssize_t _IP = Event._fields.index("ip")
cdef Py_ssize_t _CLIENT = Event._fields.index("client_name")
cdef object _CLIENT_ID = CLIENT_ID, _LOGIN = LOGIN, _LOGOUT = LOGOUT, _AUTH_FAIL = AUTH_FAIL
cdef object _NEEDS = NEEDS_IP


cdef inline tuple _row(tuple event, object ip, object client, object source_id, object offset):
    """(*event, source_id, offset), with ip (if not None) and the client fields (if any) put in."""
    cdef Py_ssize_t n = len(event), j
    cdef tuple row = PyTuple_New(n + 2)
    cdef object value
    for j in range(n):
        if j == _IP and ip is not None:
            value = ip
        elif j >= _CLIENT and client is not None:
            value = (<tuple>client)[j - _CLIENT]
        else:
            value = event[j]
        Py_INCREF(value)
        PyTuple_SET_ITEM(row, j, value)
    Py_INCREF(source_id)
    PyTuple_SET_ITEM(row, n, source_id)
    Py_INCREF(offset)
    PyTuple_SET_ITEM(row, n + 1, offset)
    return row


cdef inline void _remember(object table, object key, object value, Py_ssize_t most):
    table[key] = value
    table.move_to_end(key)
    if len(table) > most:
        table.popitem(last=False)


def extend_rows(correlator, list events, list offsets, object source_id, list rows):
    """rows += [(*correlator.process(event), source_id, offset) …]: see Correlator.extend_rows."""
    cdef object by_session = correlator._by_session
    cdef object by_pid = correlator._by_pid
    cdef object by_account = correlator._by_account
    cdef object clients = correlator._clients
    cdef Py_ssize_t most = correlator.max_sessions
    cdef Py_ssize_t i, count = len(events)
    cdef tuple event
    cdef object item, kind, key, client, ip, host, session, pid, ips, offset
    if len(offsets) != count:
        raise ValueError("one offset an event")
    for i in range(count):
        item = events[i]
        if not isinstance(item, tuple):
            raise TypeError(f"an event is a tuple, not {type(item).__name__}")
        event = <tuple>item
        if len(event) != _FIELDS:  # read below without bounds checks
            raise TypeError(f"an event has {_FIELDS} fields, not {len(event)}")
        offset = offsets[i]
        kind = event[3]
        if kind == _CLIENT_ID:
            if event[6] is not None:
                key = (event[1], event[6])
                clients[key] = event[_CLIENT:]
                clients.move_to_end(key)
                if len(clients) > most:
                    clients.popitem(last=False)
            rows.append(_row(event, None, None, source_id, offset))
            continue
        client = None
        if clients and event[6] is not None:
            key = (event[1], event[6])
            client = clients.get(key)
            if client:
                if kind == _LOGOUT or kind == _AUTH_FAIL:
                    del clients[key]
            else:
                client = None
        if kind == _LOGIN:
            ip = event[5]
            if ip is not None:
                host, session, pid = event[1], event[6], event[7]
                if session is not None:
                    _remember(by_session, (host, session), ip, most)
                if pid is not None:
                    _remember(by_pid, (host, pid), ip, most)
                key = (host, event[2], event[4])
                ips = by_account.pop(key, None) or {}
                ips[ip] = ips.get(ip, 0) + 1
                by_account[key] = ips
                if len(by_account) > most:
                    by_account.popitem(last=False)
            rows.append(_row(event, None, client, source_id, offset))
            continue
        if kind not in _NEEDS:
            rows.append(_row(event, None, client, source_id, offset))
            continue
        ip = event[5]
        host, session, pid = event[1], event[6], event[7]
        if ip is None:
            if session is not None and (ip := by_session.get(key := (host, session))) is not None:
                by_session.move_to_end(key)
            elif pid is not None and (ip := by_pid.get(key := (host, pid))) is not None:
                by_pid.move_to_end(key)
            elif session is None and pid is None:  # a 2.2 or older prefix
                ips = by_account.get((host, event[2], event[4]))
                if ips is not None and len(ips) == 1:
                    ip = next(iter(ips))
        if kind == _LOGOUT:
            if session is not None:
                by_session.pop((host, session), None)
            if pid is not None:
                by_pid.pop((host, pid), None)
            if ip is not None:
                key = (host, event[2], event[4])
                ips = by_account.get(key)
                if ips is not None and ip in ips:
                    ips[ip] -= 1
                    if not ips[ip]:
                        del ips[ip]
                        if not ips:
                            del by_account[key]
        rows.append(_row(event, ip, client, source_id, offset))
