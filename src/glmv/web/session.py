"""Per-browser-session state: the :class:`~glmv.messages.Conversation`, the turns as shown, the upload folder and
the documents rendered for it.

A :class:`Session` belongs to one browser tab (Gradio's ``session_hash``); :class:`Sessions` creates them on first
use and removes each (its upload folder with it) when the tab goes away. A :class:`Turn` is one question and its
reply as the page shows it: it may hold an error the conversation never saw (a refused upload, a failed reply).
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from glmv.messages import Conversation
    from glmv.output import Reply
    from glmv.web.uploads import DocumentCache, Upload

__all__ = ["Session", "Sessions", "Turn", "TurnStatus"]

TurnStatus = Literal["thinking", "answering", "done", "stopped", "failed"]


@dataclass
class Turn:
    """One question and its reply as the page shows them.

    ``message_index`` is the position of the question in the conversation's messages (``None`` when it was
    never sent: a refused upload). ``notes`` say what the attachments cost and what budgets changed.
    """

    text: str
    uploads: list[Upload] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    status: TurnStatus = "thinking"
    reasoning: str = ""
    content: str = ""
    error: str | None = None
    reasoning_tokens: int = 0
    started: float = field(default_factory=time.monotonic)
    thinking_seconds: float | None = None
    reply: Reply | None = None
    message_index: int | None = None

    @property
    def streaming(self) -> bool:
        return self.status in ("thinking", "answering")


class Session:
    """One browser session: its conversation, its turns, its upload folder, its rendered documents and its stop
    switch.

    ``stop`` is the switch of the reply streaming now: :meth:`new_stop` gives each reply its own, so a Stop or Clear
    meant for one reply stays set for it even when the next question arrives before it has seen the switch.
    """

    def __init__(
        self, conversation: Conversation, folder: Path, documents: DocumentCache | None = None
    ) -> None:
        from glmv.web.uploads import DocumentCache

        self.conversation = conversation
        self.folder = folder
        self.documents = documents if documents is not None else DocumentCache(None)
        self.turns: list[Turn] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def new_stop(self) -> threading.Event:
        """A fresh stop switch for the reply about to stream (the last reply keeps its own)."""
        self.stop = threading.Event()
        return self.stop

    @property
    def streaming(self) -> bool:
        """Whether a reply is being generated (regenerate and edit wait for it to end or be stopped)."""
        return bool(self.turns) and self.turns[-1].streaming

    @property
    def last_reply(self) -> Reply | None:
        for turn in reversed(self.turns):
            if turn.reply is not None:
                return turn.reply
        return None

    def clear(self) -> None:
        """Forget the conversation and the turns; the system prompt and settings stay."""
        self.conversation.clear()
        self.turns.clear()


class Sessions:
    """The sessions of one app, keyed by Gradio's ``session_hash``; each has a folder under one root (a temporary
    folder removed with the app when none is given) and renders documents within ``document_tokens`` each."""

    def __init__(
        self,
        make_conversation: Callable[[Path], Conversation],
        root: Path | None = None,
        document_tokens: int | None = None,
    ) -> None:
        self._make = make_conversation
        self.document_tokens = document_tokens
        if root is None:
            root = Path(tempfile.mkdtemp(prefix="glmv-web-"))
            weakref.finalize(self, shutil.rmtree, root, True)  # gone with the app (or at exit)
        self.root = root
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Session:
        from glmv.web.uploads import DocumentCache

        with self._lock:
            session = self._sessions.get(key)
            if session is None:
                folder = Path(tempfile.mkdtemp(prefix="session-", dir=self.root))
                documents = DocumentCache(self.document_tokens)
                session = self._sessions[key] = Session(self._make(folder), folder, documents)
            return session

    def close(self, key: str) -> None:
        """End a session: stop its reply and remove its upload folder."""
        with self._lock:
            session = self._sessions.pop(key, None)
        if session is not None:
            session.stop.set()
            shutil.rmtree(session.folder, ignore_errors=True)

    def __len__(self) -> int:
        return len(self._sessions)

    def __iter__(self) -> Iterator[Session]:
        with self._lock:
            return iter(list(self._sessions.values()))
