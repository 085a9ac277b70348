"""The HTML preview window for answers that are web pages: rendered by Qt's rich-text engine (a subset of HTML),
with a button that opens the page in the system browser for the real thing."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QDialog, QHBoxLayout, QPushButton, QTextBrowser, QVBoxLayout

__all__ = ["HtmlPreview"]


class HtmlPreview(QDialog):
    """Shows ``html``; "Open in browser" writes it to a temporary file and opens that."""

    def __init__(self, html: str, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("HTML preview")
        self.resize(800, 600)
        self.html = html
        self.view = QTextBrowser()
        self.view.setHtml(html)
        browser = QPushButton("Open in browser")
        browser.clicked.connect(self.open_in_browser)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addStretch()
        buttons.addWidget(browser)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.view)
        layout.addLayout(buttons)

    def open_in_browser(self) -> Path:
        handle, name = tempfile.mkstemp(suffix=".html", prefix="glmv-preview-")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(self.html)
        QDesktopServices.openUrl(QUrl.fromLocalFile(name))
        return Path(name)
