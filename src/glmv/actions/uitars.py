"""The UI-TARS dialects: ``ui-tars`` (UI-TARS-1, relative 0–1000 coordinates) and ``ui-tars-1.5``.

UI-TARS writes one Python-style call per step after ``Action:`` (AGENT.md §9): ``click(start_box='(x,y)')``
(older: ``start_box='<|box_start|>(x,y)<|box_end|>'``; newer: ``point='<point>x y</point>'``),
``left_double``, ``right_single``, ``hover``, ``drag(start_box=…, end_box=…)`` (or ``start_point`` /
``end_point``), ``hotkey(key='ctrl c')`` (space-separated), ``press(key=…)``, ``type(content='…')`` (a
trailing ``\\n`` submits), ``scroll(start_box=…, direction='down')``, ``wait()``, ``finished(content='…')``,
``call_user()``; on phones also ``long_press``, ``open_app(app_name='…')``, ``press_home()``,
``press_back()``.

The two dialects differ only in the coordinate space: UI-TARS-1 (Qwen2-VL based) writes relative
thousandths, UI-TARS-1.5 (Qwen2.5-VL based) absolute pixels of its resized image (``space="resized"``,
converted by :meth:`~glmv.actions.Action.to_pixels`). The text cannot tell them apart: the caller names the
model's dialect.
"""

from __future__ import annotations

import ast
import re
from typing import Any

from glmv.actions.action import Action
from glmv.actions.errors import ActionParseError

__all__ = ["read_ui_tars"]

DIALECTS = {"ui-tars": "thousandths", "ui-tars-1.5": "resized"}

_KINDS = {
    "click": "click",
    "left_single": "click",
    "left_double": "double_click",
    "right_single": "right_click",
    "hover": "hover",
    "long_press": "long_press",
    "drag": "drag",
    "select": "drag",
    "hotkey": "key",
    "press": "key",
    "keydown": "key",
    "type": "type",
    "scroll": "scroll",
    "wait": "wait",
    "finished": "finish",
    "call_user": "call_user",
    "open_app": "open_app",
    "press_home": "home",
    "press_back": "back",
}
_NEEDS = {
    "click": "start_box",
    "double_click": "start_box",
    "right_click": "start_box",
    "hover": "start_box",
    "long_press": "start_box",
    "drag": "end_box",
    "scroll": "direction",
    "key": "key",
    "type": "content",
    "open_app": "app_name",
}
_ALIASES = {"point": "start_box", "start_point": "start_box", "end_point": "end_box", "hotkey": "key"}
_COORDINATE_MARKS = ("<|box_start|>", "<|box_end|>", "<point>", "</point>", "<bbox>", "</bbox>")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_DIRECTIONS = frozenset({"up", "down", "left", "right"})


def _call(text: str) -> tuple[str, dict[str, Any]] | None:
    """The name and keyword arguments of one call, read with :mod:`ast` (never evaluated); None if not one."""
    try:
        node = ast.parse(text.replace("\n", "\\n"), mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return _type_call(text)
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name) or node.args:
        return None
    arguments: dict[str, Any] = {}
    for keyword in node.keywords:
        if keyword.arg is None or not isinstance(keyword.value, ast.Constant):
            return None
        arguments[keyword.arg] = keyword.value.value
    return node.func.id, arguments


def _type_call(text: str) -> tuple[str, dict[str, Any]] | None:
    """``type(content='…')`` whose text holds unescaped quotes, read as UI-TARS's own parser does."""
    head, tail = "type(content='", "')"
    if text.startswith(head) and text.endswith(tail) and len(text) >= len(head) + len(tail):
        return "type", {"content": text[len(head) : -len(tail)].replace("\\'", "'")}
    return None


def _coordinates(value: object) -> tuple[float, ...] | None:
    """The 2 or 4 numbers of a UI-TARS coordinate argument such as ``'(112,224)'`` or ``'<point>1 2</point>'``."""
    if not isinstance(value, str):
        return None
    for mark in _COORDINATE_MARKS:
        value = value.replace(mark, " ")
    numbers = _NUMBER.findall(value)
    if len(numbers) not in (2, 4):
        return None
    return tuple(float(n) if "." in n else int(n) for n in numbers)


def _centre(values: tuple[float, ...]) -> tuple[float, float]:
    if len(values) == 2:
        return (values[0], values[1])
    return ((values[0] + values[2]) / 2, (values[1] + values[3]) / 2)


def read_ui_tars(text: str, *, dialect: str = "ui-tars", strict: bool = True) -> Action:
    """Read one UI-TARS call such as ``click(start_box='(235,512)')`` (the text after ``Action:``).

    Raises :class:`ActionParseError` for anything but one call with keyword arguments, for several calls
    (one step takes one), and, with ``strict``, for a name outside the action space or a missing
    parameter. A 4-number box argument becomes ``box`` (its centre is :attr:`Action.target`).
    """
    source = text.strip()
    if ")\n\n" in source:
        raise ActionParseError("it holds several actions; one step takes one", text, dialect)
    call = _call(source)
    if call is None:
        raise ActionParseError("it is not one call name(param='value', …)", text, dialect)
    name, written = call
    arguments = {_ALIASES.get(key, key): value for key, value in written.items()}
    kind = _KINDS.get(name, "unknown")
    start, end = _coordinates(arguments.get("start_box")), _coordinates(arguments.get("end_box"))
    content = arguments.get("content")
    key = arguments.get("key")
    direction = arguments.get("direction")
    app = arguments.get("app_name")
    fields: dict[str, Any] = {
        "point": start if start is not None and len(start) == 2 else None,
        "box": start if start is not None and len(start) == 4 else None,
        "end_point": _centre(end) if end is not None else None,
        "text": content if isinstance(content, str) and content != "" else None,
        "keys": tuple(key.split()) if isinstance(key, str) else (),
        "direction": direction if direction in _DIRECTIONS else None,
        "app": app if isinstance(app, str) else None,
    }
    if strict:
        if kind == "unknown":
            raise ActionParseError(f"{name!r} is not a UI-TARS action ({', '.join(_KINDS)})", text, dialect)
        needed = _NEEDS.get(kind)
        present = {
            "start_box": start is not None,
            "end_box": start is not None and end is not None,
            "direction": fields["direction"] is not None,
            "key": bool(fields["keys"]),
            "content": fields["text"] is not None,
            "app_name": fields["app"] is not None,
        }
        if needed is not None and not present[needed]:
            raise ActionParseError(f"{name} needs a valid {needed}", text, dialect)
    return Action(
        kind=kind,
        name=name,
        dialect=dialect,
        space=DIALECTS[dialect],
        arguments=written,
        raw=text,
        **fields,
    )
