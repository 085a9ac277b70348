"""``glmv desktop``: a Qt desktop assistant over any engine, with screenshots, region capture and recordings.

A thin view over the library: the conversation is a :class:`glmv.messages.Conversation`, replies stream from an
:class:`~glmv.engine.Engine` on a worker thread (:mod:`~glmv.desktop.generation`), parsing and box drawing are
:mod:`glmv.output`'s, attachments and token costs :mod:`glmv.media`'s. Here live the state shared by the windows
(:mod:`~glmv.desktop.session`), the history database (:mod:`~glmv.desktop.history`, SQLite + FTS5), the settings
(:mod:`~glmv.desktop.config`; the API key in the OS keyring, :mod:`~glmv.desktop.credentials`), capture without Qt
(:mod:`~glmv.desktop.capture`, :mod:`~glmv.desktop.recording`), global hotkeys (:mod:`~glmv.desktop.hotkeys`: X11
grabs, pynput on Windows and macOS, none on Wayland), formulas drawn with matplotlib's mathtext
(:mod:`~glmv.desktop.formulas`) and the widgets. Modules that need PySide6 import it themselves, so ``import glmv.desktop`` is light; the names
below that need it are loaded on first use.
"""

from importlib import import_module
from typing import Any

from glmv.desktop.capture import Region, active_window_region, grab_screen, save_capture, screen_region
from glmv.desktop.config import DesktopSettings, load_settings, save_settings
from glmv.desktop.history import ConversationSummary, History
from glmv.desktop.paths import config_dir, data_dir
from glmv.desktop.recording import Recording, ScreenRecorder, fit_size

__all__ = [
    "ConversationSummary",
    "DesktopSettings",
    "History",
    "MainWindow",
    "Recording",
    "Region",
    "RegionOverlay",
    "ScreenRecorder",
    "Session",
    "active_window_region",
    "build_window",
    "config_dir",
    "data_dir",
    "fit_size",
    "grab_screen",
    "load_settings",
    "run_desktop",
    "save_capture",
    "save_settings",
    "screen_region",
]

# Names that need PySide6, served lazily: name → module.
_LAZY = {
    "MainWindow": "glmv.desktop.window",
    "RegionOverlay": "glmv.desktop.overlay",
    "Session": "glmv.desktop.session",
    "build_window": "glmv.desktop.app",
    "run_desktop": "glmv.desktop.app",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
