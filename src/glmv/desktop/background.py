"""One slow call (rendering a document: LibreOffice, then the pages) run off the GUI thread.

:class:`BackgroundCall` runs ``function()`` on a daemon thread that touches no Qt object; a timer on the GUI thread
picks the outcome up and emits ``finished(object)`` with the result or ``failed(str)`` with the message of a
:class:`~glmv.errors.GlmvError` (any other exception is reported as unexpected), so the window stays responsive.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from glmv.errors import GlmvError

__all__ = ["BackgroundCall"]

POLL_MS = 30


class BackgroundCall(QObject):
    """``function()`` on a worker thread; ``finished(result)`` or ``failed(message)`` on the GUI thread."""

    finished = Signal(object)
    failed = Signal(str)

    def __init__(self, function: Callable[[], Any]) -> None:
        super().__init__()
        self.function = function
        self._outcome: queue.SimpleQueue[tuple[bool, Any]] = queue.SimpleQueue()
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._check)
        self._thread = threading.Thread(target=self._run, name="glmv-background", daemon=True)

    def start(self) -> BackgroundCall:
        self._timer.start()
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self._outcome.put((True, self.function()))
        except GlmvError as exc:
            self._outcome.put((False, str(exc)))
        except Exception as exc:  # a library bug must not take the window down
            self._outcome.put((False, f"unexpected {type(exc).__name__}: {exc}"))

    def _check(self) -> None:
        try:
            ok, value = self._outcome.get_nowait()
        except queue.Empty:
            return
        self._timer.stop()
        if ok:
            self.finished.emit(value)
        else:
            self.failed.emit(value)
