"""Checks and media handling for the saved-conversation JSON format (described in :mod:`glmv.messages.conversation`).

:func:`check_settings` and :func:`check_messages` hold the format's rules (a wrong key, type or role is a
:class:`~glmv.errors.ConfigError` naming where it is); :func:`media_parts` walks the image and video parts of a
history; :func:`embed_media` turns local media into ``data:`` URIs; :func:`resolve_paths` reads relative paths
against the folder of the file; :func:`check_media` makes sure what a loaded history points at can be read.
"""

from __future__ import annotations

import copy
import json
import math
import mimetypes
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from glmv.errors import ConfigError, MediaError
from glmv.media import read_media_file
from glmv.messages.content import data_uri

if TYPE_CHECKING:
    from glmv.media import MediaPolicy

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "REQUEST_SETTINGS",
    "check_media",
    "check_messages",
    "check_settings",
    "embedded_media",
    "local_path",
    "media_parts",
    "resolve_paths",
]

FORMAT_NAME = "glmv.conversation"
FORMAT_VERSION = 1

Message = dict[str, Any]


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _optional(test: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: value is None or test(value)


# setting → (what it must be, in words; the test). The keywords of glmv.engine.ChatRequest besides `messages`.
_SETTINGS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "tools": (
        "a list of OpenAI tool objects or null",
        _optional(lambda v: isinstance(v, list) and all(isinstance(t, dict) for t in v)),
    ),
    "tool_choice": (
        '"auto", "none", "required", an object or null',
        _optional(lambda v: isinstance(v, (str, dict))),
    ),
    "max_tokens": ("a whole number of at least 1 or null", _optional(lambda v: _whole(v) and v >= 1)),
    "temperature": ("a number of 0 or more or null", _optional(lambda v: _number(v) and v >= 0)),
    "top_p": ("a number above 0 and at most 1, or null", _optional(lambda v: _number(v) and 0 < v <= 1)),
    "top_k": ("a whole number or null", _optional(_whole)),
    "repetition_penalty": ("a number above 0 or null", _optional(lambda v: _number(v) and v > 0)),
    "stop": (
        "a list of strings or null",
        _optional(lambda v: isinstance(v, list) and all(isinstance(s, str) for s in v)),
    ),
    "seed": ("a whole number or null", _optional(_whole)),
    "n": ("a whole number of at least 1", lambda v: _whole(v) and v >= 1),
    "enable_thinking": ("true, false or null", _optional(lambda v: isinstance(v, bool))),
    "thinking_budget": ("a whole number of 0 or more or null", _optional(lambda v: _whole(v) and v >= 0)),
    "model": ("a string or null", _optional(lambda v: isinstance(v, str))),
    "keep_box_markers": ("true or false", lambda v: isinstance(v, bool)),
    "logprobs": ("true or false", lambda v: isinstance(v, bool)),
    "top_logprobs": ("a whole number from 0 to 20 or null", _optional(lambda v: _whole(v) and 0 <= v <= 20)),
}

REQUEST_SETTINGS: tuple[str, ...] = tuple(_SETTINGS)
"""The request settings a conversation holds: the keywords of :class:`glmv.engine.ChatRequest` but ``messages``."""

_ROLE_KEYS = {
    "user": {"role", "content", "name"},
    "assistant": {"role", "content", "reasoning_content", "tool_calls", "name"},
    "tool": {"role", "content", "tool_call_id", "name"},
}
_PART_KEYS = {
    "text": {"type", "text"},
    "image_url": {"type", "image_url"},
    "video_url": {"type", "video_url"},
}
_KINDS = {"image_url": "image", "video_url": "video"}


def _fail(where: str, at: str, problem: str) -> ConfigError:
    return ConfigError(f"{where}: {at}: {problem}")


def check_settings(settings: Any, where: str) -> dict[str, Any]:
    """A copy of ``settings`` if every key is a request setting with a value of the right type."""
    if not isinstance(settings, dict):
        raise _fail(where, "settings", f"must be an object, not {_json_type(settings)}")
    for key, value in settings.items():
        if key not in _SETTINGS:
            raise _fail(
                where, f"settings.{key}", f"is not a request setting (known: {', '.join(sorted(_SETTINGS))})"
            )
        words, test = _SETTINGS[key]
        if not test(value):
            raise _fail(where, f"settings.{key}", f"must be {words}, not {json.dumps(value)[:80]}")
    return copy.deepcopy(settings)


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "true/false", type(None): "null"}
    return names.get(type(value), "a number" if _number(value) else type(value).__name__)


def _check_keys(value: dict[str, Any], allowed: set[str], where: str, at: str) -> None:
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise _fail(where, at, f"unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")


def _check_parts(content: Any, where: str, at: str) -> None:
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise _fail(where, at, f"must be a string or a list of parts, not {_json_type(content)}")
    for index, part in enumerate(content):
        here = f"{at}[{index}]"
        if not isinstance(part, dict):
            raise _fail(where, here, f"must be an object, not {_json_type(part)}")
        kind = part.get("type")
        if kind not in _PART_KEYS:
            raise _fail(where, f"{here}.type", f"must be one of {', '.join(_PART_KEYS)}, not {kind!r}")
        _check_keys(part, _PART_KEYS[kind], where, here)
        if kind == "text":
            if not isinstance(part.get("text"), str):
                raise _fail(where, f"{here}.text", "must be a string")
            continue
        inner = part.get(kind)
        if not isinstance(inner, dict) or not isinstance(inner.get("url"), str) or not inner["url"]:
            raise _fail(where, f"{here}.{kind}", 'must be an object {"url": "<path, URL or data: URI>"}')
        _check_keys(inner, {"url", "detail"}, where, f"{here}.{kind}")


def _check_tool_calls(calls: Any, where: str, at: str) -> None:
    if not isinstance(calls, list):
        raise _fail(where, at, f"must be a list, not {_json_type(calls)}")
    for index, call in enumerate(calls):
        here = f"{at}[{index}]"
        if not isinstance(call, dict):
            raise _fail(where, here, f"must be an object, not {_json_type(call)}")
        _check_keys(call, {"id", "type", "function"}, where, here)
        if not isinstance(call.get("id"), str) or call.get("type") != "function":
            raise _fail(where, here, 'needs a string "id" and "type": "function"')
        function = call.get("function")
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise _fail(where, f"{here}.function", 'must be an object with a string "name"')
        _check_keys(function, {"name", "arguments"}, where, f"{here}.function")
        arguments = function.get("arguments")
        try:
            parsed = json.loads(arguments) if isinstance(arguments, str) else None
        except json.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, dict):
            raise _fail(where, f"{here}.function.arguments", "must be a JSON object written as a string")


def check_messages(messages: Any, where: str) -> None:
    """Raise a :class:`ConfigError` naming the first message, key or part the format does not allow."""
    if not isinstance(messages, list):
        raise _fail(where, "messages", f"must be a list, not {_json_type(messages)}")
    for index, message in enumerate(messages):
        at = f"messages[{index}]"
        if not isinstance(message, dict):
            raise _fail(where, at, f"must be an object, not {_json_type(message)}")
        role = message.get("role")
        if role not in _ROLE_KEYS:
            hint = ' (the system prompt goes in "system")' if role == "system" else ""
            raise _fail(where, f"{at}.role", f"must be user, assistant or tool, not {role!r}{hint}")
        _check_keys(message, _ROLE_KEYS[role], where, at)
        content = message.get("content")
        if role == "assistant":
            if content is not None and not isinstance(content, str):
                raise _fail(where, f"{at}.content", "must be a string or null")
            if not isinstance(message.get("reasoning_content", ""), str):
                raise _fail(where, f"{at}.reasoning_content", "must be a string")
            if "tool_calls" in message:
                _check_tool_calls(message["tool_calls"], where, f"{at}.tool_calls")
            continue
        _check_parts(content, where, f"{at}.content")
        if role == "tool" and not isinstance(message.get("tool_call_id"), str):
            raise _fail(where, f"{at}.tool_call_id", "must be a string")


def media_parts(messages: list[Message]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """``(where, kind, inner)`` for every image / video part: ``inner`` is the part's ``{"url": ...}`` object."""
    for index, message in enumerate(messages):
        content = message.get("content")
        if message.get("role") == "assistant" or not isinstance(content, list):
            continue
        for number, part in enumerate(content):
            kind = part.get("type") if isinstance(part, dict) else None
            if kind in _KINDS and isinstance(part.get(kind), dict):
                yield f"messages[{index}].content[{number}]", _KINDS[kind], part[kind]


def local_path(url: str) -> Path | None:
    """The file a media URL names on this machine (a plain path or ``file://``), else None."""
    lowered = url[:8].lower()
    if lowered.startswith(("data:", "http://", "https://")):
        return None
    if lowered.startswith("file://"):
        return Path(unquote(urlsplit(url).path))
    return Path(url).expanduser()


def embedded_media(messages: list[Message]) -> list[Message]:
    """A copy of ``messages`` whose local images and videos are ``data:`` URIs holding the files' bytes."""
    embedded = copy.deepcopy(messages)
    for _at, kind, inner in media_parts(embedded):
        path = local_path(inner["url"])
        if path is None:
            continue
        if not path.is_file():
            raise MediaError(
                f"Cannot embed the {kind} {inner['url']!r}: it is not a file (moved or deleted?)."
            )
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        inner["url"] = data_uri(read_media_file(path, kind), mime)
    return embedded


def resolve_paths(messages: list[Message], base: Path) -> None:
    """Make relative media paths absolute, read against the folder ``base`` (in place)."""
    for _at, _kind, inner in media_parts(messages):
        url = inner["url"]
        path = local_path(url)
        if path is not None and not url.lower().startswith("file://") and not path.is_absolute():
            inner["url"] = str(base / path)


def check_media(messages: list[Message], where: str, policy: MediaPolicy | None = None) -> None:
    """Every local or embedded image decodes and every local video exists; else a :class:`ConfigError`.

    http(s) URLs are not fetched (the engine fetches them when the conversation goes on).
    """
    from glmv.media import load_image

    for at, kind, inner in media_parts(messages):
        url = inner["url"]
        path = local_path(url)
        if path is None and not url.lower().startswith("data:"):
            continue
        if path is not None and not path.is_file():
            raise _fail(
                where, at, f"the {kind} {url!r} is not a file (moved or deleted?); put it back or remove it"
            )
        if kind == "image":
            try:
                load_image(url, policy)
            except MediaError as exc:
                raise _fail(where, at, str(exc)) from exc
