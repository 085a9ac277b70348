"""Global hotkeys: key combinations that reach the assistant whichever window has the focus, where the platform
lets a program have them.

Which way, per platform (:func:`hotkey_backend`, a pure function of what is known about the session):

- **X11**: the keys are grabbed on the root window through python-xlib (:mod:`~glmv.desktop.hotkeys_x11`); without
  python-xlib, pynput's keyboard listener (it reads keys through the XRecord extension, no grab).
- **Windows, macOS**: pynput (:mod:`~glmv.desktop.hotkeys_pynput`); macOS asks the user to allow the program under
  Privacy & Security → Input Monitoring first.
- **Wayland**: none. Wayland does not let a program see keys pressed in other programs' windows, so the settings
  say so and the in-window shortcuts (which work while any assistant window is active) are all there is.

Both kinds are a :class:`GlobalHotkeys`: they watch on a thread of their own and emit ``triggered(action)`` on the
GUI thread (a timer drains what the thread saw). :func:`open_global_hotkeys` starts the right one for this session.
"""

from __future__ import annotations

import importlib.util
import os
import queue
import sys
from collections.abc import Collection
from typing import NamedTuple

from PySide6.QtCore import QObject, QTimer, Signal

__all__ = [
    "GlobalHotkeys",
    "HotkeyBackend",
    "global_hotkeys_unavailable",
    "hotkey_backend",
    "open_global_hotkeys",
]

POLL_MS = 20
IN_WINDOW = "the shortcuts work while an assistant window is active"


class HotkeyBackend(NamedTuple):
    """How global hotkeys work here: ``name`` is ``"x11"``, ``"pynput"`` or ``None`` (not at all), ``why`` says
    why in words a user can act on."""

    name: str | None
    why: str


def hotkey_backend(
    system: str, qt_platform: str, session_type: str, x_display: bool, installed: Collection[str]
) -> HotkeyBackend:
    """The global-hotkey backend for a session: ``system`` is ``sys.platform``, ``qt_platform`` Qt's platform
    plugin (``xcb``, ``wayland``, ``windows``, ``cocoa``, ``offscreen``), ``session_type`` ``$XDG_SESSION_TYPE``,
    ``x_display`` whether ``$DISPLAY`` is set, ``installed`` the importable modules among ``Xlib`` and ``pynput``."""
    pynput = "pynput" in installed
    if system in ("win32", "darwin"):
        if pynput:
            note = " (allow it under Privacy & Security → Input Monitoring)" if system == "darwin" else ""
            return HotkeyBackend("pynput", f"global hotkeys through pynput{note}")
        return HotkeyBackend(None, f"global hotkeys need pynput (pip install pynput); {IN_WINDOW}")
    if qt_platform.startswith("wayland") or (session_type == "wayland" and qt_platform != "xcb"):
        return HotkeyBackend(
            None, f"Wayland does not let programs grab keys pressed in other windows, so {IN_WINDOW}"
        )
    if qt_platform != "xcb" or not x_display:
        return HotkeyBackend(
            None, f"no X11 display to grab keys on (Qt platform {qt_platform!r}); {IN_WINDOW}"
        )
    if session_type == "wayland":
        return HotkeyBackend(
            None,
            "this is a Wayland session (XWayland sees keys only while an X window has the focus), so "
            + IN_WINDOW,
        )
    if "Xlib" in installed:
        return HotkeyBackend("x11", "global hotkeys grabbed on the X11 root window")
    if pynput:
        return HotkeyBackend("pynput", "global hotkeys through pynput (python-xlib is not installed)")
    return HotkeyBackend(
        None, f"global hotkeys need python-xlib or pynput (pip install python-xlib); {IN_WINDOW}"
    )


def _this_session() -> HotkeyBackend:
    from PySide6.QtGui import QGuiApplication

    installed = [name for name in ("Xlib", "pynput") if importlib.util.find_spec(name) is not None]
    return hotkey_backend(
        sys.platform,
        QGuiApplication.platformName(),
        os.environ.get("XDG_SESSION_TYPE", "").lower(),
        bool(os.environ.get("DISPLAY")),
        installed,
    )


def global_hotkeys_unavailable() -> str:
    """Why global hotkeys cannot work in this session, or ``""`` when they can."""
    backend = _this_session()
    return "" if backend.name else backend.why


class GlobalHotkeys(QObject):
    """Watches ``bindings`` (action → Qt key sequence such as ``"Ctrl+Shift+X"``) while started;
    ``triggered(str)`` names the action pressed. ``problems`` lists the sequences that could not be set and why;
    :attr:`active` the actions being watched. A backend's :meth:`_watch` starts its thread, which calls
    :meth:`_seen`; its :meth:`_unwatch` ends it."""

    triggered = Signal(str)

    def __init__(self, bindings: dict[str, str]) -> None:
        super().__init__()
        self.bindings = dict(bindings)
        self.problems: list[str] = []
        self.watched: set[str] = set()
        self._events: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._drain)

    @property
    def active(self) -> list[str]:
        """The actions watched now."""
        return sorted(self.watched)

    def start(self) -> bool:
        """Watch what can be watched; False when nothing could (see :attr:`problems`)."""
        if not self._watch():
            return False
        self._timer.start()
        return True

    def stop(self) -> None:
        self._timer.stop()
        self._unwatch()
        self.watched.clear()

    def _watch(self) -> bool:
        raise NotImplementedError(f"{type(self).__name__} must say how it watches keys")

    def _unwatch(self) -> None:
        raise NotImplementedError(f"{type(self).__name__} must say how it stops watching keys")

    def _seen(self, action: str) -> None:
        """Called on the watching thread when ``action``'s keys were pressed."""
        self._events.put(action)

    def _drain(self) -> None:
        while True:
            try:
                action = self._events.get_nowait()
            except queue.Empty:
                return
            self.triggered.emit(action)


def open_global_hotkeys(bindings: dict[str, str]) -> tuple[GlobalHotkeys | None, list[str]]:
    """Global hotkeys for ``bindings`` in this session, started, and the problems to tell the user (keys taken by
    another program, a permission to give); ``(None, [])`` where the platform has none (see
    :func:`global_hotkeys_unavailable`)."""
    backend = _this_session()
    if backend.name is None:
        return None, []
    if backend.name == "x11":
        from glmv.desktop.hotkeys_x11 import X11Hotkeys, XConnectionFailed

        hotkeys: GlobalHotkeys = X11Hotkeys(bindings)
        try:
            return (hotkeys if hotkeys.start() else None), list(hotkeys.problems)
        except XConnectionFailed as exc:
            if importlib.util.find_spec("pynput") is None:
                return None, [f"cannot grab keys on the X display ({exc}); {IN_WINDOW}"]
    from glmv.desktop.hotkeys_pynput import PynputHotkeys

    hotkeys = PynputHotkeys(bindings)
    return (hotkeys if hotkeys.start() else None), list(hotkeys.problems)
