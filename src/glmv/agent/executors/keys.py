"""Key names across dialects and devices: what the model writes (``Return``, ``ctrl+c``, ``ctrl c``, ``KEYCODE_HOME``)
to what Playwright, xdotool and Android's ``input keyevent`` take."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["android_keycode", "normal_key", "playwright_keys", "xdotool_keys"]

_ALIASES = {
    "control": "ctrl",
    "ctl": "ctrl",
    "return": "enter",
    "kp_enter": "enter",
    "esc": "escape",
    "del": "delete",
    "meta": "super",
    "cmd": "super",
    "command": "super",
    "win": "super",
    "windows": "super",
    "option": "alt",
    "back_space": "backspace",
    "page_up": "pageup",
    "page_down": "pagedown",
    "pgup": "pageup",
    "pgdn": "pagedown",
    "arrowup": "up",
    "arrowdown": "down",
    "arrowleft": "left",
    "arrowright": "right",
    " ": "space",
    "spacebar": "space",
}

_PLAYWRIGHT = {
    "ctrl": "Control",
    "alt": "Alt",
    "shift": "Shift",
    "super": "Meta",
    "enter": "Enter",
    "escape": "Escape",
    "tab": "Tab",
    "backspace": "Backspace",
    "delete": "Delete",
    "space": "Space",
    "up": "ArrowUp",
    "down": "ArrowDown",
    "left": "ArrowLeft",
    "right": "ArrowRight",
    "pageup": "PageUp",
    "pagedown": "PageDown",
    "home": "Home",
    "end": "End",
    "insert": "Insert",
}

_XDOTOOL = {
    "ctrl": "ctrl",
    "alt": "alt",
    "shift": "shift",
    "super": "super",
    "enter": "Return",
    "escape": "Escape",
    "tab": "Tab",
    "backspace": "BackSpace",
    "delete": "Delete",
    "space": "space",
    "up": "Up",
    "down": "Down",
    "left": "Left",
    "right": "Right",
    "pageup": "Page_Up",
    "pagedown": "Page_Down",
    "home": "Home",
    "end": "End",
    "insert": "Insert",
}

_ANDROID = {
    "enter": "KEYCODE_ENTER",
    "back": "KEYCODE_BACK",
    "home": "KEYCODE_HOME",
    "backspace": "KEYCODE_DEL",
    "delete": "KEYCODE_FORWARD_DEL",
    "tab": "KEYCODE_TAB",
    "space": "KEYCODE_SPACE",
    "escape": "KEYCODE_ESCAPE",
    "up": "KEYCODE_DPAD_UP",
    "down": "KEYCODE_DPAD_DOWN",
    "left": "KEYCODE_DPAD_LEFT",
    "right": "KEYCODE_DPAD_RIGHT",
    "menu": "KEYCODE_MENU",
    "search": "KEYCODE_SEARCH",
    "volumeup": "KEYCODE_VOLUME_UP",
    "volumedown": "KEYCODE_VOLUME_DOWN",
    "power": "KEYCODE_POWER",
    "appswitch": "KEYCODE_APP_SWITCH",
}


def normal_key(name: str) -> str:
    """One key name in glmv's lower-case vocabulary (``Return`` → ``enter``, ``Control`` → ``ctrl``)."""
    key = name.strip().lower() if name.strip() else name
    return _ALIASES.get(key, key)


def _split(keys: Sequence[str]) -> list[str]:
    """Keys as given, a combination written in one string (``ctrl+c``, ``ctrl c``) split."""
    parts: list[str] = []
    for key in keys:
        if key.strip() and len(key.strip()) > 1 and ("+" in key or " " in key.strip()):
            parts += [piece for piece in key.replace("+", " ").split() if piece]
        else:
            parts.append(key)
    return [normal_key(part) for part in parts if part]


def _function_key(key: str) -> str | None:
    return key.upper() if key[:1] == "f" and key[1:].isdigit() and 1 <= int(key[1:]) <= 24 else None


def playwright_keys(keys: Sequence[str]) -> str:
    """The combination as Playwright's ``keyboard.press`` takes it: ``Control+Shift+T``."""
    names = []
    for key in _split(keys):
        names.append(
            _PLAYWRIGHT.get(key) or _function_key(key) or (key if len(key) == 1 else key.capitalize())
        )
    return "+".join(names)


def xdotool_keys(keys: Sequence[str]) -> str:
    """The combination as ``xdotool key`` takes it: ``ctrl+shift+t``, ``Return``."""
    return "+".join(_XDOTOOL.get(key) or _function_key(key) or key for key in _split(keys))


def android_keycode(key: str) -> str:
    """The ``input keyevent`` code of one key (``KEYCODE_…`` names pass through; a single letter or digit maps to
    its ``KEYCODE_A`` / ``KEYCODE_7``)."""
    if key.upper().startswith("KEYCODE_"):
        return key.upper()
    name = normal_key(key)
    if name in _ANDROID:
        return _ANDROID[name]
    if len(name) == 1 and name.isalnum():
        return f"KEYCODE_{name.upper()}"
    raise ValueError(f"no Android key code for {key!r}")
