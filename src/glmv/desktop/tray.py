"""The attachments waiting for the next message: a row of previews, each with its cost and a remove button, and
the total of image tokens the message will carry."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from glmv.desktop.chatview import pixmap_from_url
from glmv.desktop.session import PendingAttachment

__all__ = ["AttachmentTray"]

PREVIEW = 72


class AttachmentTray(QWidget):
    """Shows :attr:`Session.pending <glmv.desktop.session.Session.pending>`; ``remove(int)`` asks to drop one."""

    remove = Signal(int)

    def __init__(self) -> None:
        super().__init__()
        self._row = QHBoxLayout(self)
        self._row.setContentsMargins(0, 0, 0, 0)
        self.total = QLabel()
        self.chips: list[QFrame] = []
        self.show_pending([])

    def show_pending(self, pending: list[PendingAttachment]) -> None:
        for chip in self.chips:
            chip.setParent(None)
            chip.deleteLater()
        self.chips = []
        self._row.removeWidget(self.total)
        for index, item in enumerate(pending):
            chip = self._chip(index, item)
            self.chips.append(chip)
            self._row.addWidget(chip)
        tokens = sum(item.tokens for item in pending)
        self.total.setText(f"≈ {tokens:,} image tokens" if pending else "")
        self._row.addWidget(self.total)
        self._row.addStretch()
        self.setVisible(bool(pending))

    def _chip(self, index: int, item: PendingAttachment) -> QFrame:
        attachment = item.attachment
        chip = QFrame()
        chip.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QVBoxLayout(chip)
        layout.setContentsMargins(4, 4, 4, 4)
        preview = QLabel()
        first = attachment.parts[0]
        pixmap = pixmap_from_url(first["image_url"]["url"]) if first["type"] == "image_url" else None
        if pixmap is not None:
            preview.setPixmap(pixmap.scaled(PREVIEW, PREVIEW, Qt.AspectRatioMode.KeepAspectRatio))
        else:
            preview.setText({"video": "▶ video", "file": "document"}.get(attachment.kind, attachment.kind))
        pages = f" · {len(attachment.parts)} pages" if attachment.kind == "file" else ""
        name = QLabel(f"{Path(attachment.label).name[:24]}{pages}\n{item.tokens:,} tokens")
        name.setToolTip(attachment.label + (f"\n{attachment.note}" if attachment.note else ""))
        close = QToolButton(text="✕")
        close.setToolTip("Remove this attachment")
        close.clicked.connect(lambda: self.remove.emit(index))
        top = QHBoxLayout()
        top.addWidget(preview)
        top.addWidget(close, alignment=Qt.AlignmentFlag.AlignTop)
        layout.addLayout(top)
        layout.addWidget(name)
        return chip
