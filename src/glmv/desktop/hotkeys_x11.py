"""Global hotkeys on X11 through python-xlib: each sequence grabbed on the root window.

:class:`X11Hotkeys` grabs each configured sequence (``"Ctrl+Shift+X"``, with every Caps Lock / Num Lock variant) on
a connection of its own, read by a daemon thread. A combination another program holds already is reported in
``problems``, not fatal; a display that cannot be opened is :class:`XConnectionFailed` (the caller may fall back to
pynput).
"""

from __future__ import annotations

import select
import threading
from typing import Any

from glmv.desktop.hotkeys import GlobalHotkeys

__all__ = ["X11Hotkeys", "XConnectionFailed", "parse_sequence"]

_MODIFIERS = {"ctrl": "ControlMask", "control": "ControlMask", "shift": "ShiftMask", "alt": "Mod1Mask"}
_MODIFIERS |= {"meta": "Mod4Mask", "super": "Mod4Mask", "win": "Mod4Mask"}


class XConnectionFailed(RuntimeError):
    """The X display could not be opened for grabbing keys."""


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


class X11Hotkeys(GlobalHotkeys):
    """Grabs ``bindings`` (action → sequence) on the X root window while started."""

    def __init__(self, bindings: dict[str, str]) -> None:
        super().__init__(bindings)
        self._keys: dict[tuple[int, int], str] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._display: Any = None

    def _watch(self) -> bool:
        from Xlib import XK, X, error
        from Xlib.display import Display

        try:
            self._display = display = Display()
        except (error.DisplayError, OSError) as exc:
            raise XConnectionFailed(str(exc)) from exc
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
        self.watched = set(self._keys.values())
        if not self._keys:
            display.close()
            self._display = None
            return False
        self._thread = threading.Thread(target=self._run, name="glmv-hotkeys", daemon=True)
        self._thread.start()
        return True

    def _unwatch(self) -> None:
        self._stop.set()
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
                        self._seen(action)
