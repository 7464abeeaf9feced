"""ingest/writer.py: the writer thread commits in order, and written batches do not pile up."""

from __future__ import annotations

import gc
import threading
import time
import weakref

import pytest

from ingest.sink import Batch
from ingest.writer import BackgroundWriter

FREED_IN: list[str] = []


class _TracedBatch(Batch):
    def __del__(self) -> None:
        FREED_IN.append(threading.current_thread().name)


class _Recorder:
    """Stands in for Sink.commit (the edge of the database, tested on a real one elsewhere):
    records the order and the thread of each commit."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.starts: list[int] = []
        self.threads: set[str] = set()
        self.fail_at = fail_at

    def __call__(self, state, batch: Batch, size) -> None:  # noqa: ANN001
        self.threads.add(threading.current_thread().name)
        if batch.start == self.fail_at:
            raise RuntimeError("refused")
        time.sleep(0.002)
        self.starts.append(batch.start)


def test_batches_are_committed_in_order_in_the_writer_thread_and_freed_by_the_submitter() -> None:
    commit = _Recorder()
    FREED_IN.clear()
    writer = BackgroundWriter(sink=None, commit=commit)  # type: ignore[arg-type]
    alive: list[weakref.ref] = []
    most = 0
    for n in range(30):
        batch = _TracedBatch(start=n)
        batch.events = [(n, "x" * 10)] * 100
        alive.append(weakref.ref(batch))
        writer.submit(None, batch)  # type: ignore[arg-type]
        del batch
        gc.collect()
        most = max(most, sum(ref() is not None for ref in alive))
    writer.close()
    gc.collect()
    assert commit.starts == list(range(30))
    assert commit.threads == {"ingest-writer"}
    # one queued, one being written, one written and not yet freed: memory stays bounded
    assert most <= 3
    assert all(ref() is None for ref in alive)
    # freed where the batches are made, not in the thread the database waits on
    assert len(FREED_IN) == 30 and set(FREED_IN) == {threading.main_thread().name}


def test_a_failed_commit_is_raised_to_the_submitter_and_nothing_after_it_is_written() -> None:
    commit = _Recorder(fail_at=3)
    writer = BackgroundWriter(sink=None, commit=commit)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="refused"):
        for n in range(10):
            writer.submit(None, Batch(start=n))  # type: ignore[arg-type]
        writer.flush()
    assert commit.starts == [0, 1, 2]
    with pytest.raises(RuntimeError):
        writer.close()
