"""A writer thread: the sink's COPY and commit run while the next batch is being parsed."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

from ingest.sink import Batch, Sink, SourceState

# Order is the invariant: batches of one source are committed one after another, in the
# order they were read, each conditional on the checkpoint the previous one left. The queue
# holds at most `depth` batches, which bounds memory to (depth + 3) batches: one being
# filled, the queued ones, one being written and one written, waiting to be freed (_free).


class BackgroundWriter:
    def __init__(
        self,
        sink: Sink,
        depth: int = 1,
        commit: Callable[[SourceState, Batch, int | None], object] | None = None,
    ) -> None:
        self.sink = sink
        self._commit = commit or sink.commit  # e.g. refusals.store, bound to its file
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        # Batches written, for the submitting thread to free (_free): a batch's rows are tens
        # of thousands of objects, and freeing them in this thread kept the server idle
        # between two batches (2–3 ms each); the submitting thread waits for room anyway.
        self._written: list[Batch] = []
        self._thread = threading.Thread(target=self._run, name="ingest-writer", daemon=True)
        self._thread.start()

    def submit(self, state: SourceState, batch: Batch, size: int | None = None) -> None:
        """Queue a batch; raises at once if an earlier batch failed."""
        self._raise()
        self._free()  # while the writer is inside a COPY, which needs the GIL least
        self._queue.put((state, batch, size))

    def _free(self) -> None:
        while self._written:  # list.pop is atomic: the writer thread may append meanwhile
            self._written.pop()

    def flush(self) -> None:
        """Wait until every queued batch is committed; raise the first failure."""
        self._queue.join()
        self._free()
        self._raise()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        self._free()
        self._raise()

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                if self._error is None:  # after a failure, drain without writing
                    state, batch, size = item
                    self._commit(state, batch, size)
                    self._written.append(batch)
                item = batch = None  # the batch is freed by the submitting thread
            except BaseException as exc:  # handed to the reading thread
                self._error = exc
            finally:
                self._queue.task_done()
