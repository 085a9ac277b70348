"""Where the desktop assistant keeps its files: the user's data folder (history, media) and config folder.

Linux follows XDG (``$XDG_DATA_HOME/glmv``, ``$XDG_CONFIG_HOME/glmv``), macOS uses ``~/Library/Application
Support/glmv`` for both, Windows ``%LOCALAPPDATA%\\glmv`` and ``%APPDATA%\\glmv``. ``GLMV_DESKTOP_DATA`` and
``GLMV_DESKTOP_CONFIG`` (or the ``--data-dir`` / ``--config-dir`` options of ``glmv desktop``) point them
elsewhere, which is what tests do.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["config_dir", "data_dir"]


def _platform_dir(kind: str) -> Path:
    home = Path.home()
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / "glmv"
    if sys.platform == "win32":
        variable = "LOCALAPPDATA" if kind == "data" else "APPDATA"
        return Path(os.environ.get(variable) or home / "AppData" / "Local") / "glmv"
    if kind == "data":
        return Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share") / "glmv"
    return Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config") / "glmv"


def data_dir(override: str | Path | None = None) -> Path:
    """The folder of the history database and its media (``override``, else ``GLMV_DESKTOP_DATA``, else the
    platform's data folder)."""
    chosen = override or os.environ.get("GLMV_DESKTOP_DATA")
    return Path(chosen).expanduser() if chosen else _platform_dir("data")


def config_dir(override: str | Path | None = None) -> Path:
    """The folder of the settings files (``override``, else ``GLMV_DESKTOP_CONFIG``, else the platform's config
    folder)."""
    chosen = override or os.environ.get("GLMV_DESKTOP_CONFIG")
    return Path(chosen).expanduser() if chosen else _platform_dir("config")
