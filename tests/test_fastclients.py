"""The compiled fold of IMAP ID rows (ingest/_fastclients.pyx) folds as clients._fold_client_ids does."""

import copy
import importlib
import zoneinfo
from datetime import datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.clients import _fold_client_ids
from ingest.correlate import Correlator, _extend_rows
from ingest.event import CLIENT_ID, Event
from ingest.generate import generate_lines
from ingest.parse import Parser
from ingest.sink import Batch

# imported directly: MAILTRAIL_PURE_PYTHON must not hide a missing build (make setup builds it)
fastclients = importlib.import_module("ingest._fastclients")
TZ = zoneinfo.ZoneInfo("Europe/Berlin")
T = datetime(2026, 11, 27, 9, 0, tzinfo=TZ)


def _agree(rows: list[tuple]) -> Batch:
    """Fold the same batch both ways; the compiled one's batch."""
    fast, slow = Batch(start=0, events=list(rows), skipped=3), Batch(start=0, events=list(rows), skipped=3)
    fast.client_ids.append(("earlier",))
    slow.client_ids.append(("earlier",))
    fastclients.fold_client_ids(fast)
    _fold_client_ids(slow)
    assert fast == slow
    assert all(type(row) is tuple for row in fast.events)
    return fast


def test_generated_batches_fold_the_same_compiled_and_in_python():
    parser = Parser(TZ, now=T)
    results = parser.parse_lines(list(generate_lines(20_000, days=1, accounts=300, end=T, tz=TZ)))
    events = [r for r in results if type(r) is Event]
    rows: list[tuple] = []
    _extend_rows(Correlator(), events, list(range(len(events))), 1, rows)
    folded = ids = after_login = 0
    for at in range(0, len(rows), 97):  # small batches: sessions span them
        batch = rows[at : at + 97]
        fast = _agree(copy.copy(batch))
        ids += sum(row[3] == CLIENT_ID for row in batch)
        folded += sum(
            a != b for a, b in zip([r for r in batch if r[3] != CLIENT_ID], fast.events, strict=True)
        )
        after_login += len(fast.client_ids) - 1
    assert ids and folded and after_login  # each of the fold's cases was met


_EVENTS = st.lists(
    st.builds(
        lambda kind, host, ip, session, client, offset: (
            *Event(T, host, "imap", kind, "alice", ip, session, None)[:-4],
            *client,
            1,
            offset,
        ),
        st.sampled_from([CLIENT_ID, CLIENT_ID, "login", "logout", "message_delete"]),
        st.sampled_from(["mx1", "mx1", "mx2"]),
        st.none() | st.just("192.0.2.1"),
        st.none() | st.sampled_from(["s1", "s2"]),
        st.sampled_from([(None,) * 4, ("Thunderbird", "115", None, None), ("K-9", None, "Android", "x")]),
        st.integers(0, 10**9),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(rows=_EVENTS)
def test_random_rows_fold_the_same_compiled_and_in_python(rows):
    _agree(rows)
