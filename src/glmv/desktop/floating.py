"""The compact floating window: the same conversation in a small frame that can stay on top of other windows."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QToolButton, QVBoxLayout, QWidget

from glmv.desktop.panel import ConversationPanel
from glmv.desktop.session import Session

__all__ = ["FloatingWindow"]


class FloatingWindow(QWidget):
    """A small chat over ``session``; the pin keeps it on top. ``screenshot_requested`` /
    ``region_requested`` / ``main_requested`` ask the main window to act."""

    screenshot_requested = Signal()
    region_requested = Signal()
    main_requested = Signal()

    def __init__(self, session: Session) -> None:
        super().__init__(None, Qt.WindowType.Tool | Qt.WindowType.WindowStaysOnTopHint)
        self.setWindowTitle("glmv")
        self.resize(420, 520)
        self.panel = ConversationPanel(session, compact=True)
        self.pin = QToolButton(text="📌 On top")
        self.pin.setCheckable(True)
        self.pin.setChecked(True)
        self.pin.toggled.connect(self.set_on_top)
        bar = QHBoxLayout()
        for text, signal in (
            ("Screenshot", self.screenshot_requested),
            ("Region", self.region_requested),
            ("Main window", self.main_requested),
        ):
            button = QToolButton(text=text)
            button.clicked.connect(signal)
            bar.addWidget(button)
        bar.addStretch()
        bar.addWidget(self.pin)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(bar)
        layout.addWidget(self.panel, 1)

    @property
    def on_top(self) -> bool:
        return bool(self.windowFlags() & Qt.WindowType.WindowStaysOnTopHint)

    def set_on_top(self, on_top: bool) -> None:
        visible = self.isVisible()
        self.setWindowFlag(Qt.WindowType.WindowStaysOnTopHint, on_top)
        if visible:
            self.show()
