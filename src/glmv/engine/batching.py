"""The events of a running request: what the engine's worker and the request's consumer exchange.

A :class:`Job` is one request (``size`` rows: its ``n`` choices) with a queue of events its consumer reads:
:class:`Text` (new text of one choice), :class:`End` (a choice finished: why, and how many tokens it generated), or
an exception the worker hit. Every glmv engine streams its replies as these events through
:class:`~glmv.engine.pump.ChunkPump`. The local engine's continuous-batching worker
(:class:`~glmv.engine.local_loop.DecodeLoop`) runs the jobs; ``Job.cancel`` asks it to stop one (a waiting job
leaves the queue at once, a running one ends at the next step while the rest of the batch goes on).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from glmv.output.reply import RequestTimings, TokenLogprob

__all__ = ["End", "Job", "Text", "Timings"]


@dataclass(frozen=True)
class Text:
    """New text of choice ``index``; ``logprobs`` of the tokens it came from, when the request asked for them
    (a token whose text is held back, e.g. part of a character, has its logprob on a later event)."""

    index: int
    text: str
    logprobs: tuple[TokenLogprob, ...] = ()


@dataclass(frozen=True)
class End:
    """Choice ``index`` finished: why, how many tokens it generated, the logprobs not sent yet, and the
    request's timings as far as they are known (engines that measure them)."""

    index: int
    reason: str
    completion_tokens: int
    logprobs: tuple[TokenLogprob, ...] = ()
    timings: RequestTimings | None = None


@dataclass
class Timings:
    """When a job's stages happened (``time.perf_counter()`` seconds; None until they do) and the tokens it made."""

    submitted: float | None = None
    admitted: float | None = None  # its prefill began
    first_token: float | None = None  # its prompt was in and its first token picked
    ended: float | None = None  # its last choice ended
    tokens: int = 0  # completion tokens of all its choices

    def summary(self) -> dict[str, float]:
        """``queue_s``, ``prefill_s``, ``first_token_s`` (from submission) and ``decode_tokens_per_s``, as far as
        they are known."""
        out: dict[str, float] = {}
        if self.submitted is not None and self.admitted is not None:
            out["queue_s"] = self.admitted - self.submitted
        if self.admitted is not None and self.first_token is not None:
            out["prefill_s"] = self.first_token - self.admitted
        if self.submitted is not None and self.first_token is not None:
            out["first_token_s"] = self.first_token - self.submitted
        if self.first_token is not None and self.ended is not None and self.ended > self.first_token:
            out["decode_tokens_per_s"] = max(self.tokens - 1, 0) / (self.ended - self.first_token)
        return out

    def request_timings(self) -> RequestTimings:
        """:meth:`summary` as the :class:`~glmv.output.RequestTimings` a reply's usage carries."""
        return RequestTimings(**self.summary())


class _Runner(Protocol):
    def withdraw(self, job: Job) -> None: ...


@dataclass(eq=False)
class Job:
    """One request waiting for or running in a batch; ``payload`` is whatever the runner needs."""

    size: int
    payload: Any
    events: queue.SimpleQueue = field(default_factory=queue.SimpleQueue, repr=False)
    cancelled: threading.Event = field(default_factory=threading.Event, repr=False)
    batch_rows: int = 0  # most rows that decoded together while this job ran (0 while waiting)
    timings: Timings = field(default_factory=Timings, repr=False)
    _scheduler: _Runner | None = field(default=None, repr=False)

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
