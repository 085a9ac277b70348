"""The conversation panel both windows show: the chat column, the attachment tray, the composer and its buttons,
bound to one :class:`~glmv.desktop.session.Session`.

The composer sends on Enter (Shift+Enter for a new line), takes pasted images and files, and gets a failed
question back; Stop keeps the partial answer, Regenerate asks the last question again.
"""

from __future__ import annotations

from typing import Any

from PIL import Image
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

from glmv.desktop.chatview import ChatView
from glmv.desktop.session import Session
from glmv.desktop.tray import AttachmentTray
from glmv.output import Reply

__all__ = ["Composer", "ConversationPanel", "image_from_qimage"]


def image_from_qimage(image: QImage) -> Image.Image:
    """A PIL RGB image of a QImage (a pasted or dropped image)."""
    rgba = image.convertToFormat(QImage.Format.Format_RGBA8888)
    data = bytes(rgba.constBits())[: rgba.bytesPerLine() * rgba.height()]
    return Image.frombuffer(
        "RGBA", (rgba.width(), rgba.height()), data, "raw", "RGBA", rgba.bytesPerLine(), 1
    ).convert("RGB")


class Composer(QPlainTextEdit):
    """The message box: ``submitted()`` on Enter, ``image_pasted(object)`` (a PIL image), ``files_given(list)``."""

    submitted = Signal()
    image_pasted = Signal(object)
    files_given = Signal(list)

    def __init__(self) -> None:
        super().__init__()
        self.setPlaceholderText("Ask about a screenshot, an image, a video or a document… (Enter sends)")
        self.setMaximumHeight(96)

    def keyPressEvent(self, event: Any) -> None:
        enter = event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
        if enter and not event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            self.submitted.emit()
            return
        super().keyPressEvent(event)

    def canInsertFromMimeData(self, source: Any) -> bool:
        return source.hasImage() or source.hasUrls() or super().canInsertFromMimeData(source)

    def insertFromMimeData(self, source: Any) -> None:
        if source.hasImage():
            image = source.imageData()
            if isinstance(image, QImage) and not image.isNull():
                self.image_pasted.emit(image_from_qimage(image))
                return
        if source.hasUrls():
            files = [url.toLocalFile() for url in source.urls() if url.isLocalFile()]
            if files:
                self.files_given.emit(files)
                return
        super().insertFromMimeData(source)


class ConversationPanel(QWidget):
    """The chat of ``session``: drawn from its signals, driven by its methods."""

    preview_html = Signal(str)

    def __init__(self, session: Session, compact: bool = False) -> None:
        super().__init__()
        self.session = session
        self.chat = ChatView(session.settings.thinking_open)
        self.chat.preview_html.connect(self.preview_html)
        self.tray = AttachmentTray()
        self.composer = Composer()
        self.send_button = QPushButton("Send")
        self.stop_button = QPushButton("Stop")
        self.regenerate_button = QPushButton("Regenerate")
        self.status = QLabel()
        self.stop_button.setEnabled(False)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        if not compact:
            buttons.addWidget(self.regenerate_button)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.send_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.chat, 1)
        layout.addWidget(self.tray)
        layout.addWidget(self.composer)
        layout.addLayout(buttons)

        self.send_button.clicked.connect(self.send)
        self.composer.submitted.connect(self.send)
        self.stop_button.clicked.connect(session.stop)
        self.regenerate_button.clicked.connect(session.regenerate)
        self.composer.image_pasted.connect(lambda image: session.attach_image(image, "pasted"))
        self.composer.files_given.connect(session.attach)
        self.tray.remove.connect(session.remove_attachment)

        session.attachments_changed.connect(lambda: self.tray.show_pending(session.pending))
        session.conversation_changed.connect(self.redraw)
        session.question.connect(self._question)
        session.reasoning.connect(self.chat.add_reasoning)
        session.content.connect(self.chat.add_content)
        session.answered.connect(self._answered)
        session.grounded.connect(self._grounded)
        session.stopped.connect(self._stopped)
        session.failed.connect(self._failed)
        session.notice.connect(self.chat.add_notice)
        session.busy_changed.connect(self._busy)
        self.redraw()

    def send(self) -> None:
        if self.session.send(self.composer.toPlainText()):
            self.composer.clear()

    def redraw(self) -> None:
        """Draw the whole conversation again, each grounding answer over the image it refers to."""
        if not self.session.busy:
            messages = self.session.snapshot()
            self.chat.show_messages(messages)
            positions = [i for i, message in enumerate(messages) if message.get("role") == "assistant"]
            for position, answer in zip(positions, self.chat.answers(), strict=True):
                answer.set_grounding(self.session.grounding_at(position))
        if self.session.busy and self.chat.live is None:
            self.chat.begin_answer()

    def _question(self, text: str, images: list[str]) -> None:
        self.chat.add_question(text, images)

    def _busy(self, busy: bool) -> None:
        self.stop_button.setEnabled(busy)
        self.send_button.setEnabled(not busy)
        self.regenerate_button.setEnabled(not busy)
        self.status.setText("Writing…" if busy else "")
        if busy and self.chat.live is None:
            self.chat.begin_answer()

    def _answered(self, reply: Reply) -> None:
        view = self.chat.end_answer()
        if view is None:
            view = self.chat.add_answer(reply.reasoning, reply.content)
        view.set_text(reply.reasoning, reply.content)
        if reply.finish_reason == "length":
            view.set_status("The reply hit the token limit (Settings → Sampling → Max tokens).")

    def _grounded(self, image: Image.Image) -> None:
        answers = self.chat.answers()
        if answers:
            answers[-1].set_grounding(image)

    def _stopped(self, reply: Reply) -> None:
        view = self.chat.end_answer()
        if view is not None:
            view.set_text(reply.reasoning, reply.content)
            view.set_status("Stopped: the partial answer is kept.")

    def _failed(self, message: str, question: str) -> None:
        self.chat.end_answer()
        if question and not self.composer.toPlainText().strip():
            self.composer.setPlainText(question)
        self.chat.add_notice(f"Error: {message} Your question is back in the box; send it again when ready.")
