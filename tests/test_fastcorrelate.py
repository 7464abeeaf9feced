"""The compiled correlate loop (ingest/_fastcorrelate.pyx) answers and remembers as Correlator.process.

Two correlators read the same events, one through the compiled extend_rows and one through
the pure-Python reference (_extend_rows, which calls Correlator.process): the rows must be
the same, and so must every table they keep, entry for entry and in LRU order.
"""

import importlib
import zoneinfo
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest import correlate
from ingest.correlate import Correlator, _extend_rows
from ingest.event import CLIENT_ID, KINDS, Event
from ingest.generate import generate_lines
from ingest.parse import Parser

# imported directly: MAILTRAIL_PURE_PYTHON must not hide a missing build (make setup builds it)
fastcorrelate = importlib.import_module("ingest._fastcorrelate")
TZ = zoneinfo.ZoneInfo("Europe/Berlin")
T = datetime(2026, 11, 27, 9, 0, tzinfo=TZ)
REAL = Path(__file__).parent / "data" / "dovecot-real"


def _state(c: Correlator) -> list:
    """Everything a correlator remembers, in order (the LRU order is state too)."""
    tables = (c._by_session, c._by_pid, c._by_account, c._clients)
    return [
        [(key, dict(value) if isinstance(value, dict) else value) for key, value in t.items()] for t in tables
    ]


def _agree(events: list[Event], max_sessions: int = 200_000, chunk: int = 97) -> list[tuple]:
    """Feed both correlators the events a chunk at a time; the rows of the compiled one."""
    fast, slow = Correlator(max_sessions), Correlator(max_sessions)
    fast_rows: list[tuple] = []
    slow_rows: list[tuple] = []
    for at in range(0, len(events), chunk):
        part = events[at : at + chunk]
        offsets = list(range(at * 100, (at + len(part)) * 100, 100))
        fastcorrelate.extend_rows(fast, part, offsets, 7, fast_rows)
        _extend_rows(slow, part, offsets, 7, slow_rows)
        assert fast_rows == slow_rows
        assert _state(fast) == _state(slow)
    assert all(type(row) is tuple for row in fast_rows)
    return fast_rows


def test_the_compiled_loop_knows_the_same_kinds_that_need_an_ip():
    assert fastcorrelate.NEEDS_IP == correlate._NEEDS_IP


def test_a_generated_day_correlates_the_same_compiled_and_in_python():
    parser = Parser(TZ, now=T)
    results = parser.parse_lines(list(generate_lines(20_000, days=1, accounts=300, end=T, tz=TZ)))
    events = [r for r in results if type(r) is Event]
    rows = _agree(events)
    assert len(rows) == len(events) > 5000
    # it is the correlator's work that was compared: IPs and clients were filled in
    assert sum(e.ip is None for e in events) > sum(row[5] is None for row in rows)
    assert sum(e.client_name is None for e in events) > sum(row[-6] is None for row in rows)
    _agree(events, max_sessions=50)  # and with eviction all the time


def test_real_dovecot_logs_correlate_the_same_compiled_and_in_python():
    parser = Parser(TZ, now=T)
    lines = [
        ln for path in sorted(REAL.glob("*.log")) for ln in path.read_text(errors="replace").splitlines()
    ]
    events = [r for r in parser.parse_lines(lines) if type(r) is Event]
    assert events
    _agree(events)


_MIDDLE = (None,) * (len(Event._fields) - 12)  # from deleted to reason
_HOSTS = st.sampled_from(["mx1", "mx1", "mx2"])
_MAYBE = st.none() | st.sampled_from(["s1", "s2"])
_EVENTS = st.lists(
    st.builds(
        lambda kind, host, account, ip, session, pid, client: Event(
            T, host, "imap", kind, account, ip, session, pid, *_MIDDLE, *client
        ),
        st.sampled_from([*KINDS, CLIENT_ID, CLIENT_ID, "login", "login", "logout", "auth_fail"]),
        _HOSTS,
        st.sampled_from(["alice", "bob"]),
        st.none() | st.sampled_from(["192.0.2.1", "192.0.2.2"]),
        _MAYBE,
        st.none() | st.integers(1, 3),
        st.sampled_from([(None,) * 4, ("Thunderbird", "115", None, None), ("K-9", None, "Android", "x")]),
    ),
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(events=_EVENTS, max_sessions=st.integers(1, 5), chunk=st.integers(1, 20))
def test_random_event_sequences_correlate_the_same_compiled_and_in_python(events, max_sessions, chunk):
    _agree(events, max_sessions, chunk)


def test_the_compiled_loop_refuses_what_is_not_an_event_row():
    with pytest.raises(ValueError):
        fastcorrelate.extend_rows(Correlator(), [Event(T, "mx1", "imap", "login", "a")], [], 1, [])
    with pytest.raises(TypeError):
        fastcorrelate.extend_rows(Correlator(), ["not an event"], [0], 1, [])
