"""Global hotkeys on X11: key combinations that reach the assistant whichever window has the focus.

:class:`GlobalHotkeys` grabs each configured sequence (``"Ctrl+Shift+X"``) on the X root window through python-xlib,
on a connection of its own read by a daemon thread, and emits ``triggered(action)`` on the GUI thread (a timer
drains what the thread saw). A combination another program holds already is reported, not fatal. Elsewhere (Wayland,
Windows, macOS, or without python-xlib) :func:`global_hotkeys_unavailable` says why, and the in-window shortcuts
are all there is; pynput, which would cover Windows and macOS, is not a dependency of glmv.
"""

from __future__ import annotations

import os
import queue
import select
import sys
import threading
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QGuiApplication

__all__ = ["GlobalHotkeys", "global_hotkeys_unavailable", "parse_sequence"]

POLL_MS = 20
_MODIFIERS = {"ctrl": "ControlMask", "control": "ControlMask", "shift": "ShiftMask", "alt": "Mod1Mask"}
_MODIFIERS |= {"meta": "Mod4Mask", "super": "Mod4Mask", "win": "Mod4Mask"}


def global_hotkeys_unavailable() -> str:
    """Why global hotkeys cannot work here, or ``""`` when they can (an X11 session with python-xlib)."""
    if not sys.platform.startswith("linux"):
        return "global hotkeys are implemented for X11 only; the shortcuts work while an assistant window is active"
    if QGuiApplication.platformName() != "xcb" or not os.environ.get("DISPLAY"):
        return "global hotkeys need an X11 session (Wayland does not let programs grab keys)"
    try:
        import Xlib.display  # noqa: F401
    except ModuleNotFoundError:
        return "global hotkeys need python-xlib (pip install python-xlib)"
    return ""


def parse_sequence(sequence: str) -> tuple[list[str], str]:
    """``"Ctrl+Shift+X"`` → (``["ControlMask", "ShiftMask"]``, ``"x"``); a ValueError for what X cannot grab."""
    *modifiers, key = [part.strip() for part in sequence.split("+")]
    masks = []
    for modifier in modifiers:
        if modifier.lower() not in _MODIFIERS:
            raise ValueError(f"{sequence!r}: unknown modifier {modifier!r} (use Ctrl, Shift, Alt, Meta)")
        masks.append(_MODIFIERS[modifier.lower()])
    if not key:
        raise ValueError(f"{sequence!r} names no key")
    return masks, key.lower() if len(key) == 1 else key


class GlobalHotkeys(QObject):
    """Grabs ``bindings`` (action → sequence) on X11 while started; ``triggered(str)`` names the action pressed.
    ``problems`` lists the sequences that could not be grabbed and why."""

    triggered = Signal(str)

    def __init__(self, bindings: dict[str, str]) -> None:
        super().__init__()
        self.bindings = dict(bindings)
        self.problems: list[str] = []
        self._keys: dict[tuple[int, int], str] = {}
        self._events: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._display: Any = None
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._drain)

    @property
    def active(self) -> list[str]:
        """The actions grabbed now."""
        return sorted(set(self._keys.values()))

    def start(self) -> bool:
        """Grab what can be grabbed; False when nothing could (see :attr:`problems`)."""
        from Xlib import XK, X, error
        from Xlib.display import Display

        self._display = display = Display()
        root = display.screen().root
        lock_variants = (0, X.LockMask, X.Mod2Mask, X.LockMask | X.Mod2Mask)  # Caps Lock, Num Lock
        for action, sequence in self.bindings.items():
            try:
                masks, key = parse_sequence(sequence)
            except ValueError as exc:
                self.problems.append(str(exc))
                continue
            keycode = display.keysym_to_keycode(XK.string_to_keysym(key))
            if not keycode:
                self.problems.append(f"{sequence}: no key {key!r} on this keyboard")
                continue
            modifiers = 0
            for mask in masks:
                modifiers |= getattr(X, mask)
            failed = error.CatchError(error.BadAccess)
            for variant in lock_variants:
                root.grab_key(
                    keycode, modifiers | variant, True, X.GrabModeAsync, X.GrabModeAsync, onerror=failed
                )
            display.sync()
            if failed.get_error():
                self.problems.append(f"{sequence} ({action}) is taken by another program")
                continue
            self._keys[(keycode, modifiers)] = action
        if not self._keys:
            display.close()
            self._display = None
            return False
        self._thread = threading.Thread(target=self._run, name="glmv-hotkeys", daemon=True)
        self._thread.start()
        self._timer.start()
        return True

    def stop(self) -> None:
        self._stop.set()
        self._timer.stop()
        if self._thread is not None:
            self._thread.join(2)
        if self._display is not None:
            self._display.close()
            self._display = None
        self._keys.clear()

    def _run(self) -> None:
        from Xlib import X
        from Xlib.error import ConnectionClosedError

        try:
            self._read(X.ControlMask | X.ShiftMask | X.Mod1Mask | X.Mod4Mask)
        except (ConnectionClosedError, OSError, ValueError):
            return  # the X server went away (the session ends) or the connection was closed by stop()

    def _read(self, relevant: int) -> None:
        from Xlib import X

        display = self._display
        while not self._stop.is_set():
            readable, _, _ = select.select([display.fileno()], [], [], 0.2)
            if not readable and not display.pending_events():
                continue
            while display.pending_events():
                event = display.next_event()
                if event.type == X.KeyPress:
                    action = self._keys.get((event.detail, event.state & relevant))
                    if action is not None:
                        self._events.put(action)

    def _drain(self) -> None:
        while True:
            try:
                action = self._events.get_nowait()
            except queue.Empty:
                return
            self.triggered.emit(action)
