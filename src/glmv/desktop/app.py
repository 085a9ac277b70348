"""Starting the desktop assistant: the Qt application, the theme, the session and its windows.

:func:`build_window` puts a :class:`~glmv.desktop.window.MainWindow` together for an engine and settings (what
tests and benchmarks call, on any Qt platform); :func:`run_desktop` also makes the ``QApplication``, checks that a
display exists, and runs the event loop until the window closes.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from glmv.desktop.capture import Grabber, grab_screen
from glmv.desktop.config import DesktopSettings
from glmv.desktop.history import History
from glmv.engine import Engine
from glmv.errors import ConfigError

__all__ = ["apply_theme", "build_window", "check_display", "run_desktop"]


def check_display() -> None:
    """A ConfigError when Qt would find no display to open a window on (it would abort the process)."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise ConfigError(
            "No display to open the window on (DISPLAY is not set). Run glmv desktop in a desktop session, "
            "over ssh -X, or under Xvfb (Xvfb :99 & DISPLAY=:99 glmv desktop)."
        )


def apply_theme(app, theme: str) -> None:
    """``light`` / ``dark`` use Qt's Fusion style with a light or dark palette; ``system`` leaves the platform's."""
    from PySide6.QtGui import QColor, QPalette

    if theme == "system":
        app.setPalette(app.style().standardPalette())
        return
    app.setStyle("Fusion")
    palette = QPalette()
    if theme == "dark":
        role = QPalette.ColorRole
        for name, colour in (
            (role.Window, "#2b2b2b"),
            (role.WindowText, "#e6e6e6"),
            (role.Base, "#1e1e1e"),
            (role.AlternateBase, "#333333"),
            (role.Text, "#e6e6e6"),
            (role.Button, "#3a3a3a"),
            (role.ButtonText, "#e6e6e6"),
            (role.Highlight, "#3daee9"),
            (role.HighlightedText, "#000000"),
            (role.ToolTipBase, "#333333"),
            (role.ToolTipText, "#e6e6e6"),
        ):
            palette.setColor(name, QColor(colour))
    app.setPalette(palette)


def build_window(
    engine: Engine,
    settings: DesktopSettings,
    data_dir: str | Path,
    config_dir: str | Path | None = None,
    grab: Grabber = grab_screen,
):
    """The main window over a new session with ``engine`` (a ``QApplication`` must exist); the history lives in
    ``data_dir``, changed settings are saved to ``config_dir``."""
    from glmv.desktop.session import Session
    from glmv.desktop.window import MainWindow

    session = Session(engine, settings, History(data_dir))
    return MainWindow(session, Path(config_dir) if config_dir is not None else None, grab)


def run_desktop(
    engine: Engine,
    settings: DesktopSettings,
    data_dir: str | Path,
    config_dir: str | Path | None = None,
    floating: bool = False,
) -> int:
    """Open the assistant and run until its main window closes; the exit status is returned."""
    check_display()
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("glmv desktop")
    apply_theme(app, settings.theme)
    window = build_window(engine, settings, data_dir, config_dir)
    window.show()
    if floating:
        window.toggle_floating()
    return app.exec()
