"""The desktop assistant's state, shared by its windows: one :class:`Session` holds the conversation.

A :class:`Session` is the seam between the widgets and the library: the history and pending attachments live in
a :class:`glmv.messages.Conversation`, replies come from an :class:`~glmv.engine.Engine` through a
:class:`~glmv.desktop.generation.Generation`, conversations are kept in a :class:`~glmv.desktop.history.History`.
Windows call its methods and redraw on its signals; it holds no widget. Every error a user can cause (a corrupt
attachment, an engine that is not reachable) comes out as :attr:`Session.notice`, and nothing is lost: a failed
question goes back to the composer with its attachments.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QGuiApplication

from glmv.desktop.background import BackgroundCall
from glmv.desktop.capture import save_capture
from glmv.desktop.config import DesktopSettings
from glmv.desktop.costs import attachment_tokens
from glmv.desktop.generation import Generation
from glmv.desktop.history import History
from glmv.engine import ChatRequest, Engine, collect
from glmv.errors import GlmvError
from glmv.messages import Attachment, Conversation, media_in_order
from glmv.output import Box, Point, Reply, draw_boxes

__all__ = ["PendingAttachment", "Session", "attachment_kind"]

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
VIDEO_SUFFIXES = {".mp4", ".mov", ".webm", ".mkv", ".avi", ".m4v"}


def attachment_kind(path: str | Path) -> str:
    """``images``, ``videos`` or ``files`` (documents: PDF, PPT/PPTX, DOC/DOCX, ODP, …) by the file's suffix."""
    suffix = Path(path).suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "images"
    if suffix in VIDEO_SUFFIXES:
        return "videos"
    return "files"


@dataclass(frozen=True)
class PendingAttachment:
    """An attachment waiting for the next message and what it costs (image tokens)."""

    attachment: Attachment
    tokens: int


def _last_turns(messages: list[dict[str, Any]], turns: int) -> list[dict[str, Any]]:
    """The system prompt, the last ``turns`` earlier question/answer turns and the current question."""
    system = [m for m in messages[:1] if m.get("role") == "system"]
    rest = messages[len(system) :]
    starts = [i for i, message in enumerate(rest) if message.get("role") == "user"]
    if len(starts) <= turns + 1:
        return messages
    return system + rest[starts[-(turns + 1)] :]


class Session(QObject):
    """One conversation with an engine, saved to the history as it goes.

    Signals: ``attachments_changed()``; ``conversation_changed()`` (a new or loaded conversation: redraw it);
    ``question(str, list)`` (a question sent: its text and image URLs); ``reasoning(str)`` / ``content(str)``
    (streamed deltas); ``answered(object)`` (the :class:`Reply`); ``grounded(object)`` (right after it, when the
    reply holds boxes or points: the last image with them drawn); ``stopped(object)`` (the partial reply kept); ``failed(str, str)`` (a message, and the question
    given back to the composer); ``notice(str)`` (a message for the window); ``busy_changed(bool)``;
    ``history_changed()``.
    """

    attachments_changed = Signal()
    conversation_changed = Signal()
    question = Signal(str, list)
    reasoning = Signal(str)
    content = Signal(str)
    answered = Signal(object)
    grounded = Signal(object)
    stopped = Signal(object)
    failed = Signal(str, str)
    notice = Signal(str)
    busy_changed = Signal(bool)
    history_changed = Signal()

    def __init__(self, engine: Engine, settings: DesktopSettings, history: History) -> None:
        super().__init__()
        self.engine = engine
        self.settings = settings
        self.history = history
        self.conversation = self._new_conversation()
        self.conversation_id: int | None = None
        self.groundings: dict[int, list[Box | Point]] = {}
        """Message position → the boxes and points of that answer (kept in the history with the conversation)."""
        self.pending: list[PendingAttachment] = []
        self.generation: Generation | None = None
        self.rendering: list[tuple[str, BackgroundCall]] = []
        self._asked = ""
        self._asked_with: list[PendingAttachment] = []

    # ---- settings and conversations -------------------------------------------------------------------------

    def _family(self) -> Any:
        family = getattr(self.engine, "family", None)
        if family is not None:
            return family
        from glmv.errors import FamilyError
        from glmv.families import detect_family, get_family
        from glmv.settings import DEFAULT_MODEL

        if self.settings.family:
            return get_family(self.settings.family)
        try:
            return detect_family(self.settings.model)
        except FamilyError:
            return detect_family(DEFAULT_MODEL)

    def _new_conversation(self) -> Conversation:
        return Conversation(
            self._family(),
            system=self.settings.system_prompt or None,
            settings=self.settings.request_settings(),
        )

    def apply_settings(self, settings: DesktopSettings) -> None:
        """Use ``settings`` from the next question on (sampling, thinking, system prompt, history turns)."""
        self.settings = settings
        self.conversation.system = settings.system_prompt or None
        self.conversation.settings = {}
        self.conversation.configure(**settings.request_settings())

    @property
    def busy(self) -> bool:
        return self.generation is not None

    def new_conversation(self) -> None:
        self.stop()
        self.conversation = self._new_conversation()
        self.conversation_id = None
        self.groundings = {}
        self.pending.clear()
        self.attachments_changed.emit()
        self.conversation_changed.emit()

    def open_conversation(self, conversation_id: int) -> None:
        """Continue a conversation of the history (its settings give way to the current ones)."""
        try:
            conversation = self.history.load(conversation_id)
            groundings = self.history.groundings(conversation_id)
        except GlmvError as exc:
            self.notice.emit(str(exc))
            return
        self.stop()
        conversation.family = self._family()
        conversation.system = self.settings.system_prompt or conversation.system
        conversation.configure(**self.settings.request_settings())
        self.conversation = conversation
        self.conversation_id = conversation_id
        self.groundings = groundings
        self.pending.clear()
        self.attachments_changed.emit()
        self.conversation_changed.emit()

    def _save(self) -> None:
        try:
            self.conversation_id = self.history.save(
                self.conversation, self.conversation_id, groundings=self.groundings
            )
        except (GlmvError, OSError) as exc:
            self.notice.emit(f"The conversation could not be saved to the history: {exc}")
            return
        self.history_changed.emit()

    # ---- attachments ----------------------------------------------------------------------------------------

    def attach(self, paths: Iterable[str | Path]) -> int:
        """Attach files by their kind (images, videos, documents); one that cannot be read is refused with a
        notice, the others are kept. Returns how many were taken: documents are rendered on a worker thread
        (LibreOffice first for office files) and attached when their pages are ready (:attr:`rendering`)."""
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            attached = sum(self._attach_one(path) for path in paths)
        finally:
            QGuiApplication.restoreOverrideCursor()
        if attached:
            self.attachments_changed.emit()
        return attached

    def _attach_one(self, path: str | Path) -> bool:
        kind = attachment_kind(path)
        if kind == "files":
            return self._render_document(path)
        try:
            (attachment,) = self.conversation.attach(**{kind: [path]})
        except GlmvError as exc:
            self.notice.emit(f"Not attached: {exc}")
            return False
        tokens = attachment_tokens(attachment, self.conversation.family, self.conversation.policy)
        self.pending.append(PendingAttachment(attachment, tokens))
        if attachment.note:
            self.notice.emit(f"{Path(str(path)).name}: {attachment.note}")
        return True

    def _render_document(self, path: str | Path) -> bool:
        """Render a document's pages on a worker thread; they are attached when done (``rendering`` lists the
        documents under way, and a question waits for them)."""
        from glmv.media import load_document

        conversation, label = self.conversation, str(path)
        source = str(Path(path).expanduser().absolute())
        job = BackgroundCall(lambda: load_document(source, policy=conversation.policy))
        job.finished.connect(lambda document: self._rendered(job, conversation, label, document))
        job.failed.connect(lambda message: self._render_failed(job, label, message))
        self.rendering.append((label, job))
        self.notice.emit(f"Rendering {Path(label).name}… it is attached when its pages are ready.")
        job.start()
        return True

    def _done_rendering(self, job: BackgroundCall) -> None:
        self.rendering = [(label, other) for label, other in self.rendering if other is not job]

    def _rendered(self, job: BackgroundCall, conversation: Conversation, label: str, document: Any) -> None:
        self._done_rendering(job)
        if conversation is not self.conversation:
            return  # the user moved on to another conversation
        try:
            pages = conversation.attach(images=document.pages)
        except GlmvError as exc:
            self.notice.emit(f"Not attached: {label}: {exc}")
            return
        parts = tuple(part for page in pages for part in page.parts)
        attachment = Attachment("file", label, parts, document.note or "")
        tokens = attachment_tokens(attachment, conversation.family, conversation.policy)
        self.pending.append(PendingAttachment(attachment, tokens))
        if attachment.note:
            self.notice.emit(f"{Path(label).name}: {attachment.note}")
        self.attachments_changed.emit()

    def _render_failed(self, job: BackgroundCall, label: str, message: str) -> None:
        self._done_rendering(job)
        self.notice.emit(f"Not attached: {label}: {message}")

    def attach_image(self, image: Image.Image, stem: str = "screenshot") -> Path | None:
        """Save ``image`` (a capture, a pasted image) with the history's captures and attach it."""
        try:
            path = save_capture(image, self.history.captures_dir, stem)
        except OSError as exc:
            self.notice.emit(f"Cannot keep the image: {exc}")
            return None
        return path if self.attach([path]) else None

    def remove_attachment(self, index: int) -> None:
        """Forget the pending attachment ``index``; the others stay in their order."""
        if 0 <= index < len(self.pending):
            kept = self.pending[:index] + self.pending[index + 1 :]
            self._reattach(kept)
            self.attachments_changed.emit()

    def _reattach(self, kept: list[PendingAttachment]) -> None:
        """Make ``kept`` the conversation's pending attachments (re-attached from their checked parts)."""
        self.conversation.discard_attachments()
        self.pending = []
        for item in kept:
            try:
                for part in item.attachment.parts:
                    if part["type"] == "image_url":
                        self.conversation.attach(images=[part["image_url"]["url"]])
                    else:
                        self.conversation.attach(videos=[part["video_url"]["url"]])
            except GlmvError as exc:
                self.notice.emit(f"Dropped {item.attachment.label}: {exc}")
                continue
            self.pending.append(item)

    @property
    def pending_tokens(self) -> int:
        return sum(item.tokens for item in self.pending)

    # ---- turns ----------------------------------------------------------------------------------------------

    def send(self, text: str) -> bool:
        """Ask ``text`` with the pending attachments; False (and a notice) when it cannot be sent now."""
        if self.busy:
            self.notice.emit("A reply is still being written; stop it first.")
            return False
        if self.rendering:
            names = ", ".join(Path(label).name for label, _ in self.rendering)
            self.notice.emit(
                f"Wait a moment: {names} is still being rendered; send again when it is attached."
            )
            return False
        text = text.strip()
        asked_with = list(self.pending)
        try:
            request = self.conversation.ask(text)
        except GlmvError as exc:
            self.notice.emit(str(exc))
            return False
        self._asked, self._asked_with = text, asked_with
        self.pending.clear()
        self.attachments_changed.emit()
        images = [
            part["image_url"]["url"]
            for item in asked_with
            for part in item.attachment.parts
            if part["type"] == "image_url"
        ]
        self.question.emit(text, images)
        self._generate(request)
        return True

    def regenerate(self) -> bool:
        """Ask the last question again (its answer is replaced)."""
        messages = self.conversation.messages
        if self.busy or not messages:
            return False
        if messages[-1].get("role") == "assistant":
            self.groundings.pop(len(messages) - 1, None)
            messages.pop()
        if not messages or messages[-1].get("role") != "user":
            return False
        self._asked, self._asked_with = "", []
        self.conversation_changed.emit()
        self._generate(self.conversation.request())
        return True

    def _generate(self, request: dict[str, Any]) -> None:
        request = dict(request)
        request["messages"] = _last_turns(request["messages"], self.settings.history_turns)
        try:
            chat_request = ChatRequest(**request)
        except GlmvError as exc:
            self._give_back(str(exc))
            return
        generation = Generation(self.engine, chat_request)
        generation.reasoning.connect(self.reasoning)
        generation.content.connect(self.content)
        generation.done.connect(lambda chunks: self._done(generation, chunks))
        generation.failed.connect(lambda message: self._failed(generation, message))
        self.generation = generation
        self.busy_changed.emit(True)
        generation.start()

    def _finish(self) -> None:
        self.generation = None
        self.busy_changed.emit(False)

    def _done(self, generation: Generation, chunks: list[Any]) -> None:
        if generation is not self.generation:
            return
        self._finish()
        reply = collect(chunks, family=self.conversation.family)[0]
        self.conversation.answered(reply)
        shapes = [*reply.boxes, *reply.points]
        if shapes:
            self.groundings[len(self.conversation.messages) - 1] = shapes
        self._save()
        self.answered.emit(reply)
        drawn = self.grounding(reply)
        if drawn is not None:
            self.grounded.emit(drawn)

    def grounding(self, reply: Reply) -> Image.Image | None:
        """The last image of the conversation with the reply's boxes and points drawn, or None."""
        return self._drawn(self.conversation.last_image, [*reply.boxes, *reply.points])

    def grounding_at(self, position: int) -> Image.Image | None:
        """The image the answer at message ``position`` refers to (the last one before it) with that answer's
        boxes and points drawn, or None when it gave none (how a reopened conversation shows its groundings)."""
        shapes = self.groundings.get(position)
        if not shapes:
            return None
        messages = self.conversation.messages[:position]
        images = [
            ref.source
            for ref in media_in_order(messages, self.conversation.family)
            if ref.kind == "image" and isinstance(ref.source, str)
        ]
        return self._drawn(images[-1] if images else None, shapes)

    def _drawn(self, source: str | None, shapes: list[Box | Point]) -> Image.Image | None:
        if not shapes or source is None:
            return None
        from glmv.media import load_image

        try:
            return draw_boxes(load_image(source, self.conversation.policy), shapes)
        except GlmvError as exc:
            self.notice.emit(f"Cannot draw the boxes: {exc}")
            return None

    def _failed(self, generation: Generation, message: str) -> None:
        if generation is not self.generation:
            return
        self._finish()
        self._give_back(message)

    def _give_back(self, message: str) -> None:
        """Forget the failed question, give its text and attachments back, and say what happened."""
        self.conversation.forget_question()
        if self._asked_with:
            self._reattach(self._asked_with + self.pending)
            self.attachments_changed.emit()
        self.conversation_changed.emit()
        self.failed.emit(message, self._asked)

    def stop(self) -> None:
        """Cancel the reply being written; what came so far is kept as the answer (finish reason cancelled)."""
        generation = self.generation
        if generation is None:
            return
        generation.cancel()
        self._finish()
        chunks = list(generation.chunks)
        reply = Reply(
            reasoning="".join(chunk.reasoning for chunk in chunks),
            content="".join(chunk.content for chunk in chunks),
            finish_reason="cancelled",
        )
        self.conversation.answered(reply)
        self._save()
        self.stopped.emit(reply)

    def close(self) -> None:
        """Cancel a reply in progress (closing its generator) and close the history."""
        generation = self.generation
        self.stop()
        if generation is not None:
            generation.join(2.0)
        self.history.close()

    def export(self, conversation_id: int, path: str | Path) -> Path | None:
        try:
            return self.history.export(conversation_id, path)
        except GlmvError as exc:
            self.notice.emit(str(exc))
            return None

    def snapshot(self) -> list[dict[str, Any]]:
        """The conversation's messages (a copy), for a view to draw."""
        return copy.deepcopy(self.conversation.messages)
