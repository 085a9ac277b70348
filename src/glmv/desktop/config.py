"""The desktop assistant's settings: :class:`DesktopSettings`, saved as JSON in the user's config folder.

``settings.json`` holds everything but the API key; the key goes to the OS keyring when there is one, else to
``credentials.json`` beside it with the user-only file mode (``0600``) (:mod:`~glmv.desktop.credentials`), and
never into the history database. Loading is strict: an unknown key or a value of the wrong type is a
:class:`~glmv.errors.ConfigError` naming the file, so a typo fails loudly.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from glmv.desktop.credentials import load_api_key, store_api_key, write_atomically
from glmv.errors import ConfigError
from glmv.settings import DEFAULT_MAX_TOKENS, DEFAULT_MODEL

__all__ = ["DEFAULT_HOTKEYS", "DesktopSettings", "load_settings", "save_settings"]

SETTINGS_FILE = "settings.json"

DEFAULT_HOTKEYS: dict[str, str] = {
    "toggle_floating": "Ctrl+Shift+C",
    "screenshot": "Ctrl+Shift+S",
    "region_screenshot": "Ctrl+Shift+X",
    "window_screenshot": "Ctrl+Shift+W",
    "record": "Ctrl+Shift+R",
    "new_conversation": "Ctrl+Shift+N",
    "history": "Ctrl+Shift+H",
}
"""Action → key sequence: vlm-helper's five (C floating window, S screenshot, X region, N new, H history) plus a
window screenshot (W) and a recording (R)."""

_THEMES = ("system", "light", "dark")


@dataclass(frozen=True)
class DesktopSettings:
    """Everything the settings dialog edits.

    ``engine`` is ``"local"`` (``model`` is a hub id or folder) or ``"api"`` (``api_url`` an OpenAI-compatible
    ``…/v1`` URL, ``model`` the served name, ``api_key`` its key). Sampling fields left ``None`` use the model's
    defaults. ``history_turns`` earlier question/answer pairs are sent with each question (``0``: none).
    ``record_*`` cap screen recordings so they fit the model's video budget.
    """

    engine: Literal["local", "api"] = "local"
    model: str = DEFAULT_MODEL
    api_url: str = ""
    api_key: str = field(default="", repr=False)
    family: str | None = None
    system_prompt: str = ""
    max_tokens: int = DEFAULT_MAX_TOKENS
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    repetition_penalty: float | None = None
    enable_thinking: bool | None = None
    thinking_budget: int | None = None
    thinking_open: bool = True
    history_turns: int = 4
    hotkeys: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_HOTKEYS))
    record_fps: int = 5
    record_max_seconds: int = 60
    record_max_width: int = 1280
    record_max_height: int = 720
    theme: Literal["system", "light", "dark"] = "system"

    def __post_init__(self) -> None:
        if self.engine not in ("local", "api"):
            raise ConfigError(f'engine must be "local" or "api", not {self.engine!r}.')
        if self.theme not in _THEMES:
            raise ConfigError(f"theme must be one of {', '.join(_THEMES)}, not {self.theme!r}.")
        for name in (
            "max_tokens",
            "record_fps",
            "record_max_seconds",
            "record_max_width",
            "record_max_height",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, not {getattr(self, name)}.")
        if self.history_turns < 0:
            raise ConfigError(f"history_turns must be 0 or more, not {self.history_turns}.")
        unknown = sorted(set(self.hotkeys) - set(DEFAULT_HOTKEYS))
        if unknown:
            raise ConfigError(
                f"Unknown hotkey action {unknown[0]!r}; the actions are {', '.join(DEFAULT_HOTKEYS)}."
            )

    def with_(self, **changes: Any) -> DesktopSettings:
        """A copy with some fields changed (checked like a new one)."""
        return dataclasses.replace(self, **changes)

    def hotkey(self, action: str) -> str:
        """The key sequence of ``action`` (the default when the user set none)."""
        return self.hotkeys.get(action, DEFAULT_HOTKEYS[action])

    def request_settings(self) -> dict[str, Any]:
        """The :class:`glmv.messages.Conversation` settings these stand for (unset sampling fields left out)."""
        values = {
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "top_k": self.top_k,
            "repetition_penalty": self.repetition_penalty,
            "enable_thinking": self.enable_thinking,
            "thinking_budget": self.thinking_budget,
        }
        return {key: value for key, value in values.items() if value is not None}


_FIELDS = {f.name: f for f in dataclasses.fields(DesktopSettings)}
_TYPES: dict[str, tuple[type, ...]] = {
    "engine": (str,),
    "model": (str,),
    "api_url": (str,),
    "family": (str, type(None)),
    "system_prompt": (str,),
    "max_tokens": (int,),
    "temperature": (int, float, type(None)),
    "top_p": (int, float, type(None)),
    "top_k": (int, type(None)),
    "repetition_penalty": (int, float, type(None)),
    "enable_thinking": (bool, type(None)),
    "thinking_budget": (int, type(None)),
    "thinking_open": (bool,),
    "history_turns": (int,),
    "hotkeys": (dict,),
    "record_fps": (int,),
    "record_max_seconds": (int,),
    "record_max_width": (int,),
    "record_max_height": (int,),
    "theme": (str,),
}


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read {path}: {exc}. Fix or delete the file.") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path} is not valid JSON (line {exc.lineno}: {exc.msg}). Fix or delete the file."
        ) from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a JSON object. Fix or delete the file.")
    return data


def _checked(data: dict[str, Any], where: Path) -> dict[str, Any]:
    for key, value in data.items():
        if key not in _TYPES:
            raise ConfigError(f"{where}: unknown setting {key!r} (the settings are {', '.join(_TYPES)}).")
        allowed = _TYPES[key]
        wrong_bool = isinstance(value, bool) and bool not in allowed
        if wrong_bool or not isinstance(value, allowed):
            raise ConfigError(f"{where}: {key} cannot be {value!r}.")
    hotkeys = data.get("hotkeys", {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in hotkeys.items()):
        raise ConfigError(f"{where}: hotkeys must map action names to key sequences such as 'Ctrl+Shift+X'.")
    return data


def load_settings(folder: str | Path) -> DesktopSettings:
    """The settings saved in ``folder`` (the defaults when there are none); a broken file is a ConfigError."""
    folder = Path(folder)
    values: dict[str, Any] = {}
    path = folder / SETTINGS_FILE
    if path.exists():
        values = _checked(_read_json(path), path)
        values["hotkeys"] = {**DEFAULT_HOTKEYS, **values.get("hotkeys", {})}
    key = load_api_key(folder)
    if key:
        values["api_key"] = key
    try:
        return DesktopSettings(**values)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def save_settings(settings: DesktopSettings, folder: str | Path) -> Path:
    """Write ``settings`` to ``folder`` (created when missing): ``settings.json``, and the API key alone in
    the OS keyring, or alone in ``credentials.json`` with mode 0600 where there is no keyring (forgotten when the
    key is empty). Returns the settings file's path."""
    folder = Path(folder)
    values = {name: getattr(settings, name) for name in _FIELDS if name != "api_key"}
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / SETTINGS_FILE
        write_atomically(path, json.dumps(values, indent=2, ensure_ascii=False) + "\n", 0o644)
        store_api_key(folder, settings.api_key)
    except OSError as exc:
        raise ConfigError(f"Cannot save the settings in {folder}: {exc.strerror or exc}.") from exc
    return path
