"""One reply generated on a worker thread, its chunks handed to the GUI thread as Qt signals.

:class:`Generation` iterates ``engine.generate(request)`` on a daemon thread. The thread touches no Qt object: it
puts what it reads on a queue, and a timer on the GUI thread drains the queue every :data:`POLL_MS` milliseconds
and emits the signals there, so every slot runs on the GUI thread. :meth:`Generation.cancel` makes the thread close the generator (which cancels the engine's work) at the
next chunk; nothing of a cancelled generation is emitted any more, so a late chunk never lands in the next reply.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from glmv.engine import ChatRequest, Chunk, Engine
from glmv.errors import GlmvError

__all__ = ["POLL_MS", "Generation"]

POLL_MS = 10


class Generation(QObject):
    """Streams one request. Signals: ``reasoning(str)``, ``content(str)`` (deltas), ``done(list)`` (every chunk,
    for :func:`glmv.engine.collect`), ``failed(str)`` (a message for the window)."""

    reasoning = Signal(str)
    content = Signal(str)
    done = Signal(list)
    failed = Signal(str)

    def __init__(self, engine: Engine, request: ChatRequest) -> None:
        super().__init__()
        self.engine = engine
        self.request = request
        self.chunks: list[Chunk] = []
        self._cancel = threading.Event()
        self._events: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="glmv-generation", daemon=True)
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._drain)

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def start(self) -> None:
        self._timer.start()
        self._thread.start()

    def cancel(self) -> None:
        """Stop at the next chunk; nothing more is emitted."""
        self._cancel.set()
        self._timer.stop()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end; True when it did."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _drain(self) -> None:
        """Emit on the GUI thread what the worker read since the last call."""
        while not self._cancel.is_set():
            try:
                kind, value = self._events.get_nowait()
            except queue.Empty:
                return
            if kind in ("done", "failed"):
                self._timer.stop()
            getattr(self, kind).emit(value)

    def _run(self) -> None:
        stream: Any = None
        try:
            stream = self.engine.generate(self.request)
            for chunk in stream:
                if self._cancel.is_set():
                    return
                self.chunks.append(chunk)
                if chunk.reasoning:
                    self._events.put(("reasoning", chunk.reasoning))
                if chunk.content:
                    self._events.put(("content", chunk.content))
            self._events.put(("done", list(self.chunks)))
        except GlmvError as exc:
            self._events.put(("failed", str(exc)))
        except Exception as exc:  # an engine bug or a dropped connection must not take the window down
            self._events.put(("failed", f"Generation failed unexpectedly ({type(exc).__name__}: {exc})."))
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
