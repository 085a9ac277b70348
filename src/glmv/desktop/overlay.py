"""The region selector: a translucent full-screen overlay over a frozen screenshot; drag a rectangle, Esc cancels.

:class:`RegionOverlay` shows the screenshot it is given dimmed, the dragged rectangle clear, and its size. On
release it emits ``selected(Region)`` in the pixels of the screenshot (widget coordinates scaled, so a HiDPI
screen crops right); Esc emits ``cancelled()``, and a click without a drag ``empty(object)`` with the region of no
area it made.
"""

from __future__ import annotations

from typing import Any

from PIL import Image
from PySide6.QtCore import QPoint, QRect, Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QPainter, QPen
from PySide6.QtWidgets import QWidget

from glmv.desktop.capture import Region
from glmv.desktop.chatview import pixmap_from_image

__all__ = ["RegionOverlay"]


def _span(start: QPoint, end: QPoint) -> QRect:
    """The rectangle dragged from ``start`` to ``end``: the end pixel excluded, so a drag of 100 pixels selects 100."""
    left, top = min(start.x(), end.x()), min(start.y(), end.y())
    return QRect(left, top, abs(end.x() - start.x()), abs(end.y() - start.y()))


class RegionOverlay(QWidget):
    """Select a rectangle of ``screenshot`` (shown over ``geometry``: the virtual screen by default)."""

    selected = Signal(object)
    cancelled = Signal()
    empty = Signal(object)

    def __init__(self, screenshot: Image.Image, geometry: QRect | None = None) -> None:
        super().__init__(
            None, Qt.WindowType.FramelessWindowHint | Qt.WindowType.WindowStaysOnTopHint | Qt.WindowType.Tool
        )
        self.screenshot = screenshot
        self._pixmap = pixmap_from_image(screenshot)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setGeometry(
            geometry if geometry is not None else QGuiApplication.primaryScreen().virtualGeometry()
        )
        self._origin: QPoint | None = None
        self._rect = QRect()
        self._done = False

    def start(self) -> None:
        self.show()
        self.raise_()
        self.activateWindow()
        self.setFocus()

    def _to_image(self, rect: QRect) -> Region:
        sx = self.screenshot.width / max(1, self.width())
        sy = self.screenshot.height / max(1, self.height())
        left, top = round(rect.left() * sx), round(rect.top() * sy)
        right, bottom = round((rect.right() + 1) * sx), round((rect.bottom() + 1) * sy)
        return Region(left, top, right - left, bottom - top)

    def crop(self, region: Region) -> Image.Image:
        """The part of the screenshot ``region`` covers."""
        return self.screenshot.crop(
            (region.left, region.top, region.left + region.width, region.top + region.height)
        )

    def paintEvent(self, event: Any) -> None:
        painter = QPainter(self)
        painter.drawPixmap(self.rect(), self._pixmap)
        painter.fillRect(self.rect(), QColor(0, 0, 0, 110))
        if not self._rect.isEmpty():
            region = self._to_image(self._rect)
            source = QRect(region.left, region.top, region.width, region.height)
            painter.drawPixmap(self._rect, self._pixmap, source)
            painter.setPen(QPen(QColor("#3daee9"), 2))
            painter.drawRect(self._rect)
            painter.drawText(self._rect.topLeft() + QPoint(4, -6), f"{region.width} × {region.height}")
        painter.end()

    def mousePressEvent(self, event: Any) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._origin = event.position().toPoint()
            self._rect = QRect()
            self.update()

    def mouseMoveEvent(self, event: Any) -> None:
        if self._origin is not None:
            self._rect = _span(self._origin, event.position().toPoint())
            self.update()

    def mouseReleaseEvent(self, event: Any) -> None:
        if self._origin is None or event.button() != Qt.MouseButton.LeftButton:
            return
        rect = _span(self._origin, event.position().toPoint())
        self._origin = None
        self._finish(self._to_image(rect))

    def keyPressEvent(self, event: Any) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self._finish(None)
        else:
            super().keyPressEvent(event)

    def _finish(self, region: Region | None) -> None:
        if self._done:
            return
        self._done = True
        self.close()
        if region is None:
            self.cancelled.emit()
        elif region.width < 2 or region.height < 2:
            self.empty.emit(region)
        else:
            self.selected.emit(region)
