"""The main window: the history list (search, open, rename, export, delete) beside the conversation panel, a
toolbar of captures and attachments, shortcuts from the settings, drag and drop of files.

Closing it cancels a reply being written and closes the history.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QInputDialog,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMenu,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from glmv.desktop.capture import Grabber, grab_screen
from glmv.desktop.capturing import Capturer
from glmv.desktop.config import DesktopSettings, save_settings
from glmv.desktop.floating import FloatingWindow
from glmv.desktop.panel import ConversationPanel
from glmv.desktop.preview import HtmlPreview
from glmv.desktop.session import Session
from glmv.desktop.settings_dialog import SettingsDialog
from glmv.errors import GlmvError

__all__ = ["HistoryPanel", "MainWindow"]

ATTACH_FILTER = (
    "Media and documents (*.png *.jpg *.jpeg *.webp *.gif *.bmp *.mp4 *.mov *.webm *.mkv *.pdf *.ppt *.pptx "
    "*.doc *.docx *.odp *.odt);;All files (*)"
)


class HistoryPanel(QWidget):
    """The saved conversations of ``session``'s history, newest first, filtered by the search box."""

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search the history")
        self.search.setClearButtonEnabled(True)
        self.list = QListWidget()
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.search)
        layout.addWidget(self.list, 1)
        self.search.textChanged.connect(self.refresh)
        self.list.itemActivated.connect(self._open)
        self.list.itemClicked.connect(self._open)
        self.list.customContextMenuRequested.connect(self._menu)
        session.history_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        self.list.clear()
        for summary in self.session.history.conversations(self.search.text()):
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(summary.updated))
            text = f"{summary.title}\n{when} · {summary.messages} messages"
            if summary.snippet:
                text += f"\n{summary.snippet}"
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, summary.id)
            self.list.addItem(item)

    def ids(self) -> list[int]:
        return [self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.list.count())]

    def _open(self, item: QListWidgetItem) -> None:
        conversation_id = item.data(Qt.ItemDataRole.UserRole)
        if conversation_id != self.session.conversation_id:
            self.session.open_conversation(conversation_id)

    def _menu(self, position: Any) -> None:
        item = self.list.itemAt(position)
        if item is None:
            return
        conversation_id = item.data(Qt.ItemDataRole.UserRole)
        menu = QMenu(self)
        menu.addAction("Open", lambda: self.session.open_conversation(conversation_id))
        menu.addAction("Rename…", lambda: self.rename(conversation_id))
        menu.addAction("Export…", lambda: self.export(conversation_id))
        menu.addAction("Delete", lambda: self.delete(conversation_id))
        menu.exec(self.list.mapToGlobal(position))

    def rename(self, conversation_id: int, title: str | None = None) -> None:
        history = self.session.history
        if title is None:
            title, ok = QInputDialog.getText(self, "Rename", "Title:", text=history.title(conversation_id))
            if not ok:
                return
        try:
            history.rename(conversation_id, title)
        except GlmvError as exc:
            self.session.notice.emit(str(exc))
        self.refresh()

    def export(self, conversation_id: int, path: str | None = None) -> None:
        if path is None:
            path, _ = QFileDialog.getSaveFileName(
                self, "Export conversation", "conversation.json", "JSON (*.json)"
            )
            if not path:
                return
        self.session.export(conversation_id, path)

    def delete(self, conversation_id: int) -> None:
        try:
            self.session.history.delete(conversation_id)
        except GlmvError as exc:
            self.session.notice.emit(str(exc))
        if conversation_id == self.session.conversation_id:
            self.session.new_conversation()
        self.refresh()


class MainWindow(QMainWindow):
    """The assistant's main window over ``session``; ``config_dir`` is where changed settings are saved."""

    def __init__(self, session: Session, config_dir: Path | None = None, grab: Grabber = grab_screen) -> None:
        super().__init__()
        self.session = session
        self.config_dir = config_dir
        self.setWindowTitle("glmv desktop")
        self.resize(1100, 760)
        self.setAcceptDrops(True)
        self.panel = ConversationPanel(session)
        self.history_panel = HistoryPanel(session)
        self.floating = FloatingWindow(session)
        self.capturer = Capturer(session, lambda: [self, self.floating], grab)
        splitter = QSplitter()
        splitter.addWidget(self.history_panel)
        splitter.addWidget(self.panel)
        splitter.setSizes([260, 840])
        self.setCentralWidget(splitter)
        self.panel.preview_html.connect(self.preview_html)
        self.floating.panel.preview_html.connect(self.preview_html)
        self.floating.screenshot_requested.connect(self.capturer.screenshot)
        self.floating.region_requested.connect(self.capturer.region_screenshot)
        self.floating.main_requested.connect(self.bring_up)
        self.capturer.recording_changed.connect(self._recording_changed)
        self.actions_by_name: dict[str, QAction] = {}
        self.session_theme = session.settings.theme
        self._toolbar()
        self.global_hotkeys = None
        self.apply_hotkeys(session.settings)

    def _toolbar(self) -> None:
        bar = self.addToolBar("Main")
        bar.setObjectName("main-toolbar")
        entries = (
            ("new_conversation", "New", self.session.new_conversation),
            ("screenshot", "Screenshot", self.capturer.screenshot),
            ("region_screenshot", "Region", self.capturer.region_screenshot),
            ("window_screenshot", "Window", self.capturer.window_screenshot),
            ("record", "Record", lambda: self.capturer.toggle_recording(region=False)),
            ("record_region", "Record region", lambda: self.capturer.toggle_recording(region=True)),
            ("attach", "Attach…", self.choose_files),
            ("toggle_floating", "Floating", self.toggle_floating),
            ("history", "History", self.toggle_history),
            ("settings", "Settings…", self.edit_settings),
        )
        for name, text, slot in entries:
            action = QAction(text, self)
            action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
            action.triggered.connect(slot)
            bar.addAction(action)
            self.actions_by_name[name] = action

    def apply_hotkeys(self, settings: DesktopSettings) -> None:
        """In-window shortcuts (they work while any assistant window has the focus) and, where the platform lets
        a program have them (X11, Windows, macOS; not Wayland), the same keys as global hotkeys (whichever
        window has the focus); what cannot be set is said in the window."""
        from glmv.desktop.hotkeys import open_global_hotkeys

        for name, action in self.actions_by_name.items():
            if name in settings.hotkeys:
                action.setShortcut(QKeySequence(settings.hotkey(name)))
        if self.global_hotkeys is not None:
            self.global_hotkeys.stop()
            self.global_hotkeys = None
        hotkeys, problems = open_global_hotkeys({name: settings.hotkey(name) for name in settings.hotkeys})
        if hotkeys is not None:
            hotkeys.triggered.connect(lambda name: self.actions_by_name[name].trigger())
            self.global_hotkeys = hotkeys
        for problem in problems:
            self.session.notice.emit(f"Global hotkey not set: {problem}.")

    def _recording_changed(self, recording: bool) -> None:
        for name in ("record", "record_region"):
            self.actions_by_name[name].setText(
                "Stop recording" if recording else name.replace("_", " ").capitalize()
            )

    def choose_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Attach files", "", ATTACH_FILTER)
        if files:
            self.session.attach(files)

    def toggle_floating(self) -> None:
        if self.floating.isVisible():
            self.floating.hide()
        else:
            self.floating.show()
            self.floating.raise_()

    def toggle_history(self) -> None:
        self.history_panel.setVisible(not self.history_panel.isVisible())
        if self.history_panel.isVisible():
            self.history_panel.search.setFocus()

    def bring_up(self) -> None:
        self.show()
        self.raise_()
        self.activateWindow()

    def preview_html(self, html: str) -> HtmlPreview:
        preview = HtmlPreview(html, self)
        preview.show()
        return preview

    def edit_settings(self) -> None:
        dialog = SettingsDialog(self.session.settings, self)
        if dialog.exec():
            self.change_settings(dialog.result_settings())

    def change_settings(self, settings: DesktopSettings) -> None:
        """Apply and save ``settings`` (the theme at once; an engine change at the next start)."""
        engine_changed = (settings.engine, settings.model, settings.api_url) != (
            self.session.settings.engine,
            self.session.settings.model,
            self.session.settings.api_url,
        )
        self.session.apply_settings(settings)
        self.apply_hotkeys(settings)
        if settings.theme != self.session_theme:
            from PySide6.QtWidgets import QApplication

            from glmv.desktop.app import apply_theme

            apply_theme(QApplication.instance(), settings.theme)
            self.session_theme = settings.theme
        if self.config_dir is not None:
            try:
                save_settings(settings, self.config_dir)
            except GlmvError as exc:
                self.session.notice.emit(str(exc))
        if engine_changed:
            self.session.notice.emit("The new engine or model is used from the next start of glmv desktop.")

    # ---- drag and drop, closing -----------------------------------------------------------------------------

    def dragEnterEvent(self, event: Any) -> None:
        if event.mimeData().hasUrls() or event.mimeData().hasImage():
            event.acceptProposedAction()

    def dropEvent(self, event: Any) -> None:
        data = event.mimeData()
        files = [url.toLocalFile() for url in data.urls() if url.isLocalFile()]
        if files:
            self.session.attach(files)
        elif data.hasImage():
            self.panel.composer.insertFromMimeData(data)
        event.acceptProposedAction()

    def closeEvent(self, event: Any) -> None:
        if self.capturer.recording:
            self.capturer.stop_recording()
        if self.global_hotkeys is not None:
            self.global_hotkeys.stop()
            self.global_hotkeys = None
        self.floating.close()
        self.session.close()
        super().closeEvent(event)
