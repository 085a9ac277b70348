"""The ``glm-pc`` dialect: GLM-V's desktop (OSWorld / Ubuntu) function calls.

One line ``name(param='value', …)`` with points ``start_box='[x,y]'`` in thousandths (AGENT.md §4.1):
``left_click`` / ``right_click`` / ``middle_click`` / ``hover`` / ``left_double_click`` (``start_box``,
optional ``element_info``), ``left_drag`` (``start_box``, ``end_box``), ``key(keys='ctrl+c')`` (also
``hotkey``), ``type(content='…')`` (``\\'`` is an escaped quote), ``scroll(start_box, direction, step)``,
``WAIT()``, ``DONE()``, ``FAIL()`` (and UI-TARS's ``finished()``, in any case).

The reading is the official OSWorld verifier's: the call must be one line with unescaped single quotes in
pairs and square brackets balanced; each parameter is found by its own pattern.
"""

from __future__ import annotations

import re
from typing import Any

from glmv.actions.action import Action
from glmv.actions.errors import ActionParseError

__all__ = ["desktop_kind", "find_desktop_call", "read_desktop"]

DIALECT = "glm-pc"

_CLICK_KINDS = {
    "left_click": "click",
    "right_click": "right_click",
    "middle_click": "middle_click",
    "hover": "hover",
    "left_double_click": "double_click",
}
_KEY_NAMES = frozenset({"key", "hotkey"})
_NO_ARGUMENT_KINDS = {"WAIT": "wait", "DONE": "finish", "FAIL": "fail", "FINISHED": "finish"}
_DIRECTIONS = frozenset({"up", "down", "left", "right"})
_NAME = re.compile(r"(\w+)\(")
_CALL = re.compile(r"\w+\([^)]*\)")
_ELEMENT = re.compile(r"element_info='(.*?)'")
_START = re.compile(r"start_box='\[(\d+),\s*(\d+)\]'")
_END = re.compile(r"end_box='\[(\d+),\s*(\d+)\]'")
_DIRECTION = re.compile(r"direction='(\w+)'")
_STEP = re.compile(r"step=(\d+)")
_CONTENT = re.compile(r"content='((?:\\.|[^'\\])*)'")
_KEYS = re.compile(r"keys='(.*?)'")
_NOT_BRACKET = re.compile(r"[^\[\]]+")


def _properly_closed(text: str) -> bool:
    """Unescaped single quotes come in pairs and square brackets balance (the official gate)."""
    if (text.count("'") - text.count("\\'")) % 2:
        return False
    opens = text.count("[")
    if opens != text.count("]"):
        return False
    if opens <= 1:  # the common cases: no brackets, or one pair that must open before it closes
        return opens == 0 or text.index("[") < text.index("]")
    depth = 0
    for char in _NOT_BRACKET.sub("", text):
        depth += 1 if char == "[" else -1
        if depth < 0:
            return False
    return True


def _point(pattern: re.Pattern[str], params: str) -> tuple[int, int] | None:
    match = pattern.search(params)
    return (int(match[1]), int(match[2])) if match else None


def find_desktop_call(text: str) -> str | None:
    """The first ``name(...)`` in free text (the official fallback when a reply has no box); None if none."""
    match = _CALL.search(text)
    return match[0] if match else None


def desktop_kind(name: str) -> str:
    """The :attr:`Action.kind` of a desktop action name (``left_click`` → ``click``); ``unknown`` if none."""
    if name in _CLICK_KINDS:
        return _CLICK_KINDS[name]
    if name in _KEY_NAMES:
        return "key"
    if name in ("left_drag", "type", "scroll"):
        return {"left_drag": "drag", "type": "type", "scroll": "scroll"}[name]
    return _NO_ARGUMENT_KINDS.get(name.upper(), "unknown")


def read_desktop(text: str, *, strict: bool = True) -> Action:
    """Read one desktop call such as ``left_click(start_box='[512,300]', element_info='OK')``.

    Raises :class:`ActionParseError` unless the text is one line ``name(...)`` with balanced quotes and
    brackets. With ``strict`` the name must be in the action space and its parameters must parse; without
    it a parameter that does not parse is left out (``left_click()`` is a click with no point) and an
    unknown name gives kind ``unknown``.
    """
    content = text.strip()
    if not content or "\n" in content or not _properly_closed(content):
        raise ActionParseError(
            "a desktop action is one line name(...) with its quotes and brackets closed", text, DIALECT
        )
    match = _NAME.match(content)
    if match is None:
        raise ActionParseError("it does not start with an action call name(...)", text, DIALECT)
    name = match[1]
    kind = desktop_kind(name)
    params = content[match.end() : -1] if content.endswith(")") else ""
    arguments: dict[str, Any] = {}
    fields: dict[str, Any] = {}
    element = _ELEMENT.search(params)
    if element:
        arguments["element_info"] = fields["element"] = element[1]
    if name in _CLICK_KINDS:
        start = _point(_START, params)
        if start:
            arguments["start_box"] = fields["point"] = start
    elif name == "left_drag":
        start, end = _point(_START, params), _point(_END, params)
        if start and end:
            arguments["start_box"] = fields["point"] = start
            arguments["end_box"] = fields["end_point"] = end
    elif name == "scroll":
        start, direction = _point(_START, params), _DIRECTION.search(params)
        if start and direction:
            arguments["start_box"] = fields["point"] = start
            arguments["direction"] = fields["direction"] = direction[1]
            step = _STEP.search(params)
            if step:
                arguments["step"] = fields["steps"] = int(step[1])
    elif name == "type":
        typed = _CONTENT.search(params)
        if typed:
            arguments["content"] = fields["text"] = typed[1].replace("\\'", "'")
    elif name in _KEY_NAMES:
        keys = _KEYS.search(params)
        if keys:
            arguments["keys"] = keys[1]
            fields["keys"] = tuple(key.strip() for key in keys[1].split("+") if key.strip())
    if strict:
        _check_complete(name, kind, fields, text)
    return Action(kind=kind, name=name, dialect=DIALECT, arguments=arguments, raw=text, **fields)


def _check_complete(name: str, kind: str, fields: dict[str, Any], text: str) -> None:
    if kind == "unknown":
        known = [*_CLICK_KINDS, "left_drag", "key", "hotkey", "type", "scroll", "WAIT", "DONE", "FAIL"]
        raise ActionParseError(f"{name!r} is not a desktop action ({', '.join(known)})", text, DIALECT)
    needed = {
        "click": ("point", "start_box='[x,y]'"),
        "drag": ("end_point", "start_box='[x1,y1]' and end_box='[x2,y2]'"),
        "scroll": ("point", "start_box='[x,y]' and direction='up' or 'down'"),
        "type": ("text", "content='…'"),
        "key": ("keys", "keys='…' such as keys='ctrl+c'"),
    }.get("click" if name in _CLICK_KINDS else kind)
    if needed and fields.get(needed[0]) in (None, ()):
        raise ActionParseError(f"{name} needs {needed[1]}", text, DIALECT)
    if kind == "scroll" and fields["direction"] not in _DIRECTIONS:
        raise ActionParseError(
            f"scroll direction {fields['direction']!r} is not up, down, left or right", text, DIALECT
        )
