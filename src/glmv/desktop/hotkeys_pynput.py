"""Global hotkeys through pynput: Windows, macOS, and X11 where python-xlib cannot grab.

pynput listens to every key press on a thread of its own (a low-level keyboard hook on Windows, a Quartz event tap
on macOS, the XRecord extension on X11) and matches the configured combinations; it does not take the keys away
from the focused program. Qt's portable key names are translated by :func:`pynput_hotkey` (on macOS Qt's ``Ctrl``
is the Command key and ``Meta`` the Control key, and so they are here). macOS delivers keys only once the user
allows the program under Privacy & Security → Input Monitoring; until then that is reported in ``problems``.
"""

from __future__ import annotations

import sys
from typing import Any

from glmv.desktop.hotkeys import GlobalHotkeys

__all__ = ["PynputHotkeys", "pynput_hotkey"]

_NAMED_KEYS = {
    "space": "space",
    "return": "enter",
    "enter": "enter",
    "esc": "esc",
    "escape": "esc",
    "tab": "tab",
    "backspace": "backspace",
    "del": "delete",
    "delete": "delete",
    "ins": "insert",
    "insert": "insert",
    "home": "home",
    "end": "end",
    "pgup": "page_up",
    "pgdown": "page_down",
    "left": "left",
    "right": "right",
    "up": "up",
    "down": "down",
    "print": "print_screen",
    "pause": "pause",
    **{f"f{number}": f"f{number}" for number in range(1, 21)},
}


def pynput_hotkey(sequence: str, system: str = sys.platform) -> str:
    """A Qt key sequence (``"Ctrl+Shift+X"``) as pynput writes it (``"<ctrl>+<shift>+x"``) on ``system``
    (``sys.platform``); a ValueError for a modifier or key it has no name for."""
    command, control = ("<cmd>", "<ctrl>") if system == "darwin" else ("<ctrl>", "<cmd>")
    modifiers = {"ctrl": command, "control": command, "meta": control, "super": "<cmd>", "win": "<cmd>"}
    modifiers |= {"shift": "<shift>", "alt": "<alt>", "option": "<alt>"}
    *held, key = [part.strip() for part in sequence.split("+")]
    if not key:
        raise ValueError(f"{sequence!r} names no key")
    parts = []
    for modifier in held:
        if modifier.lower() not in modifiers:
            raise ValueError(f"{sequence!r}: unknown modifier {modifier!r} (use Ctrl, Shift, Alt, Meta)")
        parts.append(modifiers[modifier.lower()])
    if len(key) == 1:
        parts.append(key.lower())
    elif key.lower() in _NAMED_KEYS:
        parts.append(f"<{_NAMED_KEYS[key.lower()]}>")
    else:
        raise ValueError(f"{sequence!r}: no global hotkey for the key {key!r}")
    return "+".join(parts)


class PynputHotkeys(GlobalHotkeys):
    """Watches ``bindings`` (action → sequence) with a pynput listener while started."""

    def __init__(self, bindings: dict[str, str]) -> None:
        super().__init__(bindings)
        self._listener: Any = None

    def _watch(self) -> bool:
        try:
            from pynput import keyboard
        except ImportError as exc:  # pynput missing, or (Linux) no X display it can use
            self.problems.append(f"pynput cannot listen to the keyboard here: {str(exc).splitlines()[0]}")
            return False
        combinations: dict[str, Any] = {}
        for action, sequence in self.bindings.items():
            try:
                combination = pynput_hotkey(sequence)
                keyboard.HotKey.parse(combination)
            except ValueError as exc:
                self.problems.append(str(exc))
                continue
            combinations[combination] = lambda action=action: self._seen(action)
            self.watched.add(action)
        if not combinations:
            return False
        self._listener = keyboard.GlobalHotKeys(combinations)
        self._listener.start()
        self._listener.wait()
        if getattr(self._listener, "IS_TRUSTED", True) is False:
            self.problems.append(
                "macOS sends no keys to glmv yet: allow it (or your terminal) under System Settings → "
                "Privacy & Security → Input Monitoring, then restart glmv desktop"
            )
        return True

    def _unwatch(self) -> None:
        if self._listener is not None:
            self._listener.stop()
            self._listener = None
