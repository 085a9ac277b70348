"""The recording indicator: a small always-on-top bar with a red dot, the time recorded and a Stop button."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

__all__ = ["RecordingIndicator"]


class RecordingIndicator(QWidget):
    """Shows ``elapsed()`` seconds of ``limit``; ``stop_requested()`` when Stop is pressed."""

    stop_requested = Signal()

    def __init__(self, elapsed, limit: float) -> None:
        super().__init__(
            None, Qt.WindowType.FramelessWindowHint | Qt.WindowType.WindowStaysOnTopHint | Qt.WindowType.Tool
        )
        self.setObjectName("recording-indicator")
        self._elapsed = elapsed
        self._limit = limit
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        dot = QLabel("●")
        dot.setStyleSheet("color: red; font-size: 16px;")
        self.time = QLabel()
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop_requested)
        layout.addWidget(dot)
        layout.addWidget(self.time)
        layout.addWidget(self.stop_button)
        self._timer = QTimer(self)
        self._timer.setInterval(250)
        self._timer.timeout.connect(self._tick)
        self._tick()

    def _tick(self) -> None:
        seconds = int(self._elapsed())
        self.time.setText(
            f"REC {seconds // 60}:{seconds % 60:02d} / {int(self._limit) // 60}:{int(self._limit) % 60:02d}"
        )

    def start(self) -> None:
        screen = QGuiApplication.primaryScreen().availableGeometry()
        self.adjustSize()
        self.move(screen.right() - self.width() - 16, screen.top() + 16)
        self.show()
        self._timer.start()

    def finish(self) -> None:
        self._timer.stop()
        self.close()
