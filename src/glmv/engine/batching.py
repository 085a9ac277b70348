"""Batching: requests that arrive together run as one batch instead of waiting one behind another.

A :class:`Job` is one request (``size`` rows: its ``n`` choices) with a compatibility ``key`` (requests with
different sampling settings cannot share one ``generate`` call) and a queue of events its consumer reads.
:class:`Scheduler` owns one worker thread: it takes the oldest waiting job, waits for company, gathers every
waiting job with the same key up to ``max_rows`` rows, and hands the group to ``run``. Jobs with another key wait
for the next round, in arrival order.

Waiting for company is deterministic enough for requests sent together from many threads (an HTTP server calls
``generate`` from one thread per request): a caller announces its request with :meth:`Scheduler.arriving` before
the slow part (rendering, loading images, tokenising) and submits it after. The worker starts a batch when

- it is full (``max_rows`` compatible rows wait), or
- nothing has been announced or submitted for ``window`` seconds and no announced request is still being
  prepared, or
- ``max_wait`` seconds have passed since the first job of the batch was submitted (a slow preparation never holds
  the others back for longer).

Jobs that queued behind a running batch have usually had their quiet ``window`` by the time it ends, so they
start at once.

Every scheduler is closed at interpreter exit (its worker joined), so a script that used an engine from threads
and returns exits with status 0 instead of dying in torch's thread teardown.

A job can be cancelled at any time: a waiting job leaves the queue at once (its consumer gets a ``cancelled``
end for each choice); a running job's rows are stopped by the runner at the next step while the rest of the
batch goes on.
"""

from __future__ import annotations

import atexit
import queue
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from glmv.errors import EngineError, GlmvError

__all__ = ["End", "Job", "Scheduler", "Text"]


@dataclass(frozen=True)
class Text:
    """New text of choice ``index``."""

    index: int
    text: str


@dataclass(frozen=True)
class End:
    """Choice ``index`` finished: why, and how many tokens it generated."""

    index: int
    reason: str
    completion_tokens: int


@dataclass(eq=False)
class Job:
    """One request waiting for or running in a batch; ``payload`` is whatever the runner needs."""

    key: Hashable
    size: int
    payload: Any
    events: queue.SimpleQueue = field(default_factory=queue.SimpleQueue, repr=False)
    cancelled: threading.Event = field(default_factory=threading.Event, repr=False)
    batch_rows: int = 0  # rows of the batch this job ran in (0 while waiting)
    _scheduler: Scheduler | None = field(default=None, repr=False)

    def cancel(self) -> None:
        """Stop this job: drop it if it is waiting, stop its rows at the next step if it is running."""
        self.cancelled.set()
        if self._scheduler is not None:
            self._scheduler.withdraw(self)

    def put(self, event: Text | End | BaseException) -> None:
        self.events.put(event)

    def stream(self) -> Iterator[Text | End]:
        """The job's events until every choice has ended; a runner error is raised here."""
        ended = 0
        while ended < self.size:
            event = self.events.get()
            if isinstance(event, BaseException):
                raise event
            if isinstance(event, End):
                ended += 1
            yield event


class Scheduler:
    """One worker thread running batches of compatible jobs through ``run(jobs)``."""

    def __init__(
        self,
        run: Callable[[list[Job]], None],
        *,
        max_rows: int = 8,
        window: float = 0.01,
        max_wait: float = 0.1,
        name: str = "glmv-engine",
    ) -> None:
        self._run = run
        self.max_rows = max_rows
        self.window = window
        self.max_wait = max(max_wait, window)
        self._waiting: list[tuple[float, Job]] = []
        self._arriving = 0  # announced requests still being prepared
        self._last_arrival = 0.0  # when the latest request was announced, submitted or given up
        self._running: list[Job] = []
        self._lock = threading.Condition()
        self._closed = False
        self.batches: deque[int] = deque(maxlen=256)  # rows of the latest batches, for inspection
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()
        _OPEN.add(self)

    def submit(self, *jobs: Job) -> None:
        """Queue ``jobs``; jobs submitted in one call always arrive together."""
        with self._lock:
            if self._closed:
                raise EngineError("The engine is closed; open a new one.")
            now = time.monotonic()
            for job in jobs:
                job._scheduler = self
                self._waiting.append((now, job))
            self._last_arrival = now
            self._lock.notify()

    @contextmanager
    def arriving(self, count: int = 1) -> Iterator[None]:
        """Announce ``count`` requests that will be submitted inside this block (once they are prepared).

        While announced requests are being prepared, a forming batch waits for them (up to ``max_wait``).
        """
        with self._lock:
            self._arriving += count
            self._last_arrival = time.monotonic()
        try:
            yield
        finally:
            with self._lock:
                self._arriving -= count
                self._last_arrival = time.monotonic()
                self._lock.notify()

    def withdraw(self, job: Job) -> None:
        """Remove a waiting job, telling its consumer that every choice was cancelled."""
        with self._lock:
            for entry in self._waiting:
                if entry[1] is job:
                    self._waiting.remove(entry)
                    break
            else:
                return
        for index in range(job.size):
            job.put(End(index, "cancelled", 0))

    def close(self) -> None:
        """Stop the worker: the running batch is cancelled, waiting jobs fail with an :class:`EngineError`."""
        with self._lock:
            self._closed = True
            waiting, self._waiting = self._waiting, []
            for job in self._running:
                job.cancelled.set()
            self._lock.notify()
        for _, job in waiting:
            job.put(EngineError("The engine was closed before this request ran."))
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=60)
        _OPEN.discard(self)

    def _next_batch(self) -> list[Job] | None:
        with self._lock:
            while not self._waiting and not self._closed:
                self._lock.wait()
            while not self._closed and self._waiting and (remaining := self._time_to_start()) > 0:
                self._lock.wait(remaining)  # requests arriving meanwhile join this batch
            if self._closed:
                return None
            if not self._waiting:  # the first job was cancelled while waiting
                return []
            first = self._waiting[0][1]
            batch, rows = [], 0
            for entry in list(self._waiting):
                job = entry[1]
                if job.key == first.key and (not batch or rows + job.size <= self.max_rows):
                    batch.append(job)
                    rows += job.size
                    self._waiting.remove(entry)
            for job in batch:
                job.batch_rows = rows
            self.batches.append(rows)
            self._running = batch
            return batch

    def _time_to_start(self) -> float:
        """Seconds the oldest waiting job should still wait for company (≤ 0: start now); holds the lock."""
        started, first = self._waiting[0]
        if sum(job.size for _, job in self._waiting if job.key == first.key) >= self.max_rows:
            return 0.0
        cap = started + self.max_wait
        quiet = cap if self._arriving else self._last_arrival + self.window
        return min(cap, quiet) - time.monotonic()

    def _loop(self) -> None:
        while (batch := self._next_batch()) is not None:
            if not batch:
                continue
            try:
                self._run(batch)
            except Exception as exc:  # the consumers get the error; the worker goes on
                error = exc
                if not isinstance(exc, GlmvError):
                    error = EngineError(f"Generation failed: {type(exc).__name__}: {exc}")
                    error.__cause__ = exc
                for job in batch:
                    job.put(error)
            with self._lock:
                self._running = []


_OPEN: weakref.WeakSet[Scheduler] = weakref.WeakSet()


@atexit.register
def _close_open_schedulers() -> None:
    """Join every worker before the interpreter tears down the libraries a batch may still be using."""
    for scheduler in list(_OPEN):
        scheduler.close()
