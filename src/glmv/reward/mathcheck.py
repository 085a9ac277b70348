"""Math answer equivalence: an in-process fast path, then math-verify in worker processes with hard timeouts.

:meth:`MathChecker.check` answers in three steps:

1. identical answers, and answers that are both plain numbers (``42``, ``-0.5``, ``3/4``, ``\\frac{3}{4}``), are
   decided in-process under the relative tolerance ``|a - g| / (|g| + 1e-6) < tolerance``;
2. everything else goes to math-verify (LaTeX, fractions, sets, intervals, units, percent) in a persistent
   pool of worker processes (``python -m glmv.reward.mathworker``, so no ``__main__`` guard is needed in the
   caller). A task that runs past ``timeout`` seconds has its process killed (SIGKILL) and replaced; the item comes back as a *timeout*, never as a silent wrong answer. No SIGALRM is used, so the
   checker works from any thread;
3. results are cached by ``(ground truth, answer, tolerance)`` — timeouts included, so one pathological answer
   (``5^{5^{5^{5^5}}}``) costs one timeout, not one per rollout.
"""

from __future__ import annotations

import json
import os
import queue
import re
import select
import subprocess
import sys
import threading
from concurrent.futures import Future
from dataclasses import dataclass

from glmv.reward.cache import LruCache
from glmv.reward.text import parse_number, relative_close

__all__ = ["MathChecker", "MathOutcome", "fast_check"]

_NOISE = re.compile(r"\s+|\\[,;!:]|\\left|\\right|\\displaystyle|^\$+|\$+$")


@dataclass(frozen=True)
class MathOutcome:
    """The answer of one math check. ``error`` is an internal failure (worker crash), not a wrong answer."""

    equal: bool
    reason: str
    timed_out: bool = False
    error: str | None = None
    in_process: bool = False


def _normalise(text: str) -> str:
    return _NOISE.sub("", text).replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")


def fast_check(gold: str, pred: str, tolerance: float) -> MathOutcome | None:
    """The in-process step: a verdict for identical answers and for plain numbers, else None."""
    if gold.strip() == pred.strip() or _normalise(gold) == _normalise(pred):
        return MathOutcome(True, "identical answers", in_process=True)
    g, p = parse_number(gold), parse_number(pred)
    if g is None or p is None:
        return None
    if relative_close(p, g, tolerance):
        return MathOutcome(True, f"numbers equal within tolerance {tolerance:g}", in_process=True)
    return MathOutcome(False, "numbers differ", in_process=True)


class _Worker:
    """One ``python -m glmv.reward.mathworker`` process behind two pipes; killed and replaced when a task overruns."""

    startup_timeout = 120.0

    def __init__(self) -> None:
        self._ready = False
        self._start()

    def _start(self) -> None:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "glmv.reward.mathworker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            text=True,
            encoding="utf-8",
        )
        self._ready = False

    def _readline(self, timeout: float) -> str | None:
        stdout = self.process.stdout
        if stdout is None:
            raise EOFError("the math worker has no output pipe")
        ready, _, _ = select.select([stdout], [], [], max(timeout, 0.0))
        if not ready:
            return None
        line = stdout.readline()
        if not line:
            raise EOFError("the math worker closed its output")
        return line

    def wait_ready(self) -> None:
        if not self._ready:
            if self._readline(self.startup_timeout) is None:
                raise EOFError("the math worker did not start")
            self._ready = True

    def _close_pipes(self) -> None:
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()

    def _restart(self) -> None:
        self.process.kill()
        self.process.wait()
        self._close_pipes()
        self._start()

    def run(self, gold: str, pred: str, tolerance: float, timeout: float) -> MathOutcome:
        try:
            self.wait_ready()
            stdin = self.process.stdin
            if stdin is None:
                raise EOFError("the math worker has no input pipe")
            stdin.write(json.dumps([gold, pred, tolerance]) + "\n")
            stdin.flush()
            line = self._readline(timeout)
        except (EOFError, OSError, ValueError) as exc:
            self._restart()
            return MathOutcome(False, "math check failed", error=f"the math worker process failed: {exc}")
        if line is None:
            self._restart()
            return MathOutcome(False, f"math check timed out after {timeout:g} s", timed_out=True)
        status, equal, reason = json.loads(line)
        if status == "ok":
            return MathOutcome(bool(equal), reason)
        return MathOutcome(False, "math check failed", error=reason)

    def close(self) -> None:
        self._close_pipes()
        try:
            self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class MathChecker:
    """Thread-safe math equivalence with ``workers`` math-verify processes and a hard per-item ``timeout``."""

    def __init__(self, workers: int = 2, timeout: float = 10.0, cache_size: int = 100_000) -> None:
        self.workers = max(1, workers)
        self.timeout = timeout
        self.cache: LruCache[MathOutcome] = LruCache(cache_size)
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: list[_Worker] = []
        self._lock = threading.Lock()
        self._running: dict[tuple[str, str, float], Future[MathOutcome]] = {}

    def start(self, *, wait: bool = False) -> None:
        """Start the worker processes now instead of on the first check that needs them; with ``wait``, return
        once they are ready (math-verify imported)."""
        with self._lock:
            if not self._all:
                for _ in range(self.workers):
                    worker = _Worker()
                    self._all.append(worker)
                    self._idle.put(worker)
            workers = list(self._all) if wait else []
        for worker in workers:
            worker.wait_ready()

    def check(self, gold: str, pred: str, tolerance: float = 1e-5) -> MathOutcome:
        """Is ``pred`` equivalent to the ground truth ``gold``? (see the module docstring)"""
        fast = fast_check(gold, pred, tolerance)
        if fast is not None:
            return fast
        key = (gold, pred, tolerance)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        with self._lock:  # the same pair already running in another thread: wait for that answer
            running = self._running.get(key)
            owner = running is None
            if owner:
                running = self._running[key] = Future()
        if not owner:
            return running.result()
        try:
            self.start()
            worker = self._idle.get()
            try:
                outcome = worker.run(gold, pred, tolerance, self.timeout)
            finally:
                self._idle.put(worker)
            if outcome.error is None:
                self.cache.put(key, outcome)
        except BaseException as exc:
            outcome = MathOutcome(False, "math check failed", error=f"{type(exc).__name__}: {exc}")
            raise
        finally:
            with self._lock:
                self._running.pop(key, None)
            running.set_result(outcome)
        return outcome

    def close(self) -> None:
        """Stop the worker processes (a later check starts new ones)."""
        with self._lock:
            workers, self._all = self._all, []
            self._idle = queue.Queue()
        for worker in workers:
            worker.close()

    def __enter__(self) -> MathChecker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
