"""Continuous batching: one worker thread that decodes every active row one token per step.

Between two decode steps the loop

1. **admits** waiting jobs in arrival order while their choices fit in ``max_rows`` (a job bigger than that runs
   once the batch is empty); jobs submitted in one call are admitted together;
2. **prefills** admitted prompts, at most ``prefill_chunk`` prompt tokens per step over all of them, so rows that
   are decoding are never held up for longer than one chunk; a prompt whose last chunk is in samples its first
   token (one per choice: ``n`` choices share one prefill) and **joins** the batch;
3. runs one **decode step** over the active rows (:func:`~glmv.engine.local_steps.decode_step`), picks each row's
   token by its own settings (:func:`~glmv.engine.local_sampling.pick_scored`: log-probabilities too, for rows that
   asked) and hands it to the row's stop rules;
4. lets every row that finished (stop token, stop string, ``max_tokens``) or was cancelled **leave** at once;
   its slot is free for the next admission, and its KV goes to the prefix cache
   (:class:`~glmv.engine.local_prefix.PrefixCache`) for requests that start the same way.

A job cancelled while it waits leaves the queue with a ``cancelled`` end per choice; one cancelled while it
prefills or decodes ends at the next step. An error while a prompt is made ready, prefilled or joins reaches that
job alone (unless the batch's cache took part of it: then the whole batch, as below); an error inside a decode step
reaches every job in the batch (as an :class:`~glmv.errors.EngineError` unless it is a glmv error), and the loop
goes on with an empty batch. Each job's :class:`~glmv.engine.batching.Timings` record when it was submitted,
admitted, had its first token and ended.

Every loop is closed at interpreter exit (its worker joined), so a script that used an engine from threads exits
with status 0 instead of dying in torch's thread teardown.
"""

from __future__ import annotations

import atexit
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from glmv.engine.batching import End, Job
from glmv.engine.local_kv import BatchKV
from glmv.engine.local_prefix import PrefixCache
from glmv.engine.local_rows import Row
from glmv.engine.local_sampling import RowSampler, pick_scored
from glmv.engine.local_static import StaticKV
from glmv.engine.local_steps import Prompt, decode_step, prefill
from glmv.errors import EngineError, GlmvError

__all__ = ["DecodeLoop", "ReadyPrompt", "RowsFor"]

RowsFor = Callable[[Job, Prompt], list[tuple[Row, RowSampler]]]
"""Builds the rows of a job (one per choice, with its sampler) once its prompt is prefilled."""

ReadyPrompt = Callable[[Job], Prompt]
"""A job's prompt made ready to prefill (:func:`~glmv.engine.local_steps.ready_prompt`), on the worker thread."""


@dataclass(eq=False)
class _Prefilling:
    job: Job
    prompt: Prompt | None = None


class DecodeLoop:
    """The worker of a :class:`~glmv.engine.local.LocalEngine`; see the module docstring."""

    def __init__(
        self,
        model: Any,
        ready: ReadyPrompt,
        rows_for: RowsFor,
        *,
        max_rows: int = 8,
        prefill_chunk: int = 512,
        prefixes: PrefixCache | None = None,
        kv: BatchKV | StaticKV | None = None,
        name: str = "glmv-engine",
    ) -> None:
        self.model = model
        self.ready = ready
        self.rows_for = rows_for
        self.max_rows = max(1, max_rows)
        self.prefill_chunk = max(1, prefill_chunk)
        self.prefixes = prefixes
        self.steps = 0  # decode steps run, for inspection
        self._waiting: deque[Job] = deque()
        self._lock = threading.Condition()
        self._closed = False
        self._prefilling: list[_Prefilling] = []
        self._rows: list[Row] = []
        self._samplers: list[RowSampler] = []
        self._kv = kv if kv is not None else BatchKV()  # a StaticKV: the GPU path's preallocated cache
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        _OPEN.add(self)

    # -- the callers' side --------------------------------------------------------------------------------------

    def submit(self, *jobs: Job) -> None:
        """Queue ``jobs``; jobs submitted in one call are admitted together (room allowing)."""
        with self._lock:
            if self._closed:
                raise EngineError("The engine is closed; open a new one.")
            now = time.perf_counter()
            for job in jobs:
                job._scheduler = self
                job.timings.submitted = now
                self._waiting.append(job)
            self._lock.notify()

    def withdraw(self, job: Job) -> None:
        """Remove a waiting job, telling its consumer that every choice was cancelled."""
        with self._lock:
            if job not in self._waiting:
                return  # admitted: the loop ends its rows at the next step
            self._waiting.remove(job)
        for index in range(job.size):
            job.put(End(index, "cancelled", 0))

    def close(self) -> None:
        """Stop the worker: running jobs end as cancelled, waiting jobs fail with an :class:`EngineError`."""
        with self._lock:
            self._closed = True
            waiting, self._waiting = list(self._waiting), deque()
            self._lock.notify()
        for job in waiting:
            job.put(EngineError("The engine was closed before this request ran."))
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=60)
        _OPEN.discard(self)

    # -- the worker ---------------------------------------------------------------------------------------------

    def _run(self) -> None:
        with torch.inference_mode():
            while self._admit():
                try:
                    self._step()
                except Exception as exc:  # the consumers get the error; the worker goes on
                    self._fail(exc)
            self._fail(None)

    def _admit(self) -> bool:
        """Take waiting jobs that fit; wait while there is nothing to do. False once the loop is closed."""
        with self._lock:
            while not (self._closed or self._waiting or self._prefilling or self._rows):
                self._lock.wait()
            if self._closed:
                return False
            used = len(self._rows) + sum(entry.job.size for entry in self._prefilling)
            while self._waiting and (used == 0 or used + self._waiting[0].size <= self.max_rows):
                job = self._waiting.popleft()
                job.timings.admitted = time.perf_counter()
                used += job.size
                self._prefilling.append(_Prefilling(job))
            return True

    def _step(self) -> None:
        for row in self._rows:
            if row.cancelled:
                row.finish("cancelled", flush=False)
        self._prefill()
        self._leave()
        if self._rows:
            self._decode()
            self._leave()

    def _prefill(self) -> None:
        budget = self.prefill_chunk
        for entry in list(self._prefilling):
            if entry.job.cancelled.is_set():
                self._prefilling.remove(entry)
                for index in range(entry.job.size):
                    entry.job.put(End(index, "cancelled", 0))
                continue
            if budget <= 0:
                break
            try:
                if entry.prompt is None:
                    entry.prompt = self.ready(entry.job)
                size = min(budget, entry.prompt.left)
                logits = prefill(self.model, entry.prompt, size)
            except Exception as exc:  # this request fails; the rows that are decoding go on
                self._prefilling.remove(entry)
                entry.job.put(_engine_error(exc))
                continue
            budget -= size
            if logits is not None:
                self._prefilling.remove(entry)
                try:
                    self._join(entry.job, entry.prompt, logits)
                except Exception as exc:  # this request fails; the batch goes on unless its cache took a part
                    entry.job.put(_engine_error(exc))
                    if self._kv.rows != len(self._rows):
                        raise

    def _join(self, job: Job, prompt: Prompt, logits: torch.Tensor) -> None:
        """A prefilled prompt's choices take their first token and join the decoding rows."""
        job.timings.first_token = time.perf_counter()
        pairs = self.rows_for(job, prompt)
        rows = [row for row, _ in pairs]
        samplers = [sampler for _, sampler in pairs]
        for sampler in samplers:
            sampler.observe(prompt.ids, prompt.length)
        tokens, scores = pick_scored(logits.unsqueeze(0).repeat(len(rows), 1), samplers)
        self._kv.join(prompt.cache, prompt.length, copies=len(rows))
        prompt.cache = None  # the batch holds it now
        for row, sampler, token, scored in zip(rows, samplers, tokens, scores, strict=True):
            if not row.take(token, scored):
                sampler.observe([token], row.length)
        self._rows += rows
        self._samplers += samplers
        for row in self._rows:
            row.job.batch_rows = max(row.job.batch_rows, len(self._rows))

    def _decode(self) -> None:
        rows = self._rows
        logits = decode_step(self.model, self._kv, [row.last for row in rows], [row.position for row in rows])
        self.steps += 1
        tokens, scores = pick_scored(logits, self._samplers)
        for row, sampler, token, scored in zip(rows, self._samplers, tokens, scores, strict=True):
            if row.cancelled:
                row.finish("cancelled", flush=False)
            elif not row.take(token, scored):
                sampler.observe([token], row.length)

    def _leave(self) -> None:
        kept = [index for index, row in enumerate(self._rows) if not row.done]
        if len(kept) == len(self._rows):
            return
        if self.prefixes is not None and self.prefixes.budget:
            for index, row in enumerate(self._rows):
                if row.done:
                    length, layers = self._kv.row(index)
                    ids = (row.prompt_ids + row.generated)[:length]
                    self.prefixes.store(ids, row.vision_keys, layers)
        self._kv.keep(kept)
        self._rows = [self._rows[index] for index in kept]
        self._samplers = [self._samplers[index] for index in kept]

    def _fail(self, exc: Exception | None) -> None:
        """Every job in the batch gets ``exc`` (None: the loop is closing, they end as cancelled)."""
        jobs = list(dict.fromkeys([row.job for row in self._rows] + [e.job for e in self._prefilling]))
        if exc is None:
            for row in self._rows:
                row.finish("cancelled", flush=False)
            for entry in self._prefilling:
                for index in range(entry.job.size):
                    entry.job.put(End(index, "cancelled", 0))
        else:
            error = _engine_error(exc)
            for job in jobs:
                job.put(error)
        self._rows, self._samplers, self._prefilling = [], [], []
        self._kv.clear()


def _engine_error(exc: Exception) -> GlmvError:
    """``exc`` as the consumers see it: glmv's own errors as they are, anything else as an EngineError."""
    if isinstance(exc, GlmvError):
        return exc
    error = EngineError(f"Generation failed: {type(exc).__name__}: {exc}")
    error.__cause__ = exc
    return error


_OPEN: weakref.WeakSet[DecodeLoop] = weakref.WeakSet()


@atexit.register
def _close_open_loops() -> None:
    """Join every worker before the interpreter tears down the libraries a step may still be using."""
    for loop in list(_OPEN):
        loop.close()
