"""The ``glm-mobile`` dialect: GLM-V's AndroidWorld-style JSON actions with ``box_2d`` boxes.

``{"action_type": "click", "box_2d": [[xmin, ymin, xmax, ymax]]}`` with thousandths 0–999 (AGENT.md §3.1).
Action types: ``click``, ``long_press``, ``input_text`` (``text``, ``box_2d``, ``override``),
``keyboard_enter``, ``navigate_home``, ``navigate_back``, ``swipe`` (``direction``, optional ``box_2d``),
``open_app`` (``app_name``), ``wait``, ``answer`` (``text``), ``status`` (``goal_status``: ``complete`` /
``infeasible``); AndroidWorld's own ``double_tap`` and ``scroll`` are read too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from glmv.actions.action import Action
from glmv.actions.errors import ActionParseError
from glmv.actions.literal import read_object_literal

__all__ = ["mobile_action", "read_mobile"]

DIALECT = "glm-mobile"

_FIRST_BOX_2D = re.compile(r"\[\[\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*\]\]")
_KINDS = {
    "click": "click",
    "double_tap": "double_click",
    "long_press": "long_press",
    "input_text": "type",
    "keyboard_enter": "key",
    "navigate_home": "home",
    "navigate_back": "back",
    "swipe": "swipe",
    "scroll": "scroll",
    "open_app": "open_app",
    "wait": "wait",
    "answer": "answer",
    "status": "finish",
}
_NEEDS_BOX = frozenset({"click", "double_tap", "long_press"})
_DIRECTIONS = frozenset({"up", "down", "left", "right"})
_GOAL_KINDS = {"complete": "finish", "infeasible": "fail"}


def _strip_leading_zeros(match: re.Match[str]) -> str:
    return "[[" + ",".join(str(int(group)) for group in match.groups()) + "]]"


def _box(value: object) -> tuple[float, float, float, float] | None:
    """The box of ``[[x1, y1, x2, y2]]`` (or a flat ``[x1, y1, x2, y2]``) in 0–1000, x1 ≤ x2, y1 ≤ y2."""
    if type(value) is list and len(value) == 1 and type(value[0]) is list:
        value = value[0]
    if type(value) is not list or len(value) != 4:
        return None
    for v in value:
        if type(v) not in (int, float) or not 0 <= v <= 1000:
            return None
    x1, y1, x2, y2 = value
    if x1 > x2 or y1 > y2:
        return None
    return (x1, y1, x2, y2)


def mobile_action(obj: Mapping[str, Any], *, raw: str = "", strict: bool = True) -> Action:
    """The :class:`Action` of a decoded mobile action object (``arguments`` keeps every key as written).

    ``strict`` raises :class:`ActionParseError` for an unknown ``action_type`` or a missing / invalid
    parameter; without it such fields are left None (an unknown type gives kind ``unknown``).
    """
    name = obj.get("action_type")
    kind = _KINDS.get(name, "unknown") if type(name) is str else "unknown"
    box = _box(obj["box_2d"]) if "box_2d" in obj else None
    text = obj.get("text")
    app = obj.get("app_name")
    direction = obj.get("direction")
    override = obj.get("override")
    goal = obj.get("goal_status")
    if name == "status" and goal in _GOAL_KINDS:
        kind = _GOAL_KINDS[goal]
    action = Action(
        kind,
        name=name if type(name) is str else "",
        dialect=DIALECT,
        box=box,
        text=text if type(text) is str else None,
        keys=("enter",) if name == "keyboard_enter" else (),
        direction=direction if direction in _DIRECTIONS else None,
        app=app if type(app) is str else None,
        clear=override if type(override) is bool else None,
        arguments=obj,
        raw=raw,
    )
    if strict:
        problem = _incomplete(action, obj)
        if problem is not None:
            raise ActionParseError(problem, raw or repr(dict(obj)), DIALECT)
    return action


def _incomplete(action: Action, obj: Mapping[str, Any]) -> str | None:
    """What a strict reading rejects in a mobile action; None when it is complete."""
    name = action.name
    if action.kind == "unknown":
        return f"action_type {obj.get('action_type')!r} is not one of {sorted(_KINDS)}"
    if name == "status" and obj.get("goal_status") not in _GOAL_KINDS:
        return f"goal_status must be 'complete' or 'infeasible', not {obj.get('goal_status')!r}"
    if "box_2d" in obj and action.box is None:
        return "box_2d must be [[xmin, ymin, xmax, ymax]] in thousandths, xmin <= xmax, ymin <= ymax"
    if name in _NEEDS_BOX and action.box is None:
        return f"{name} needs a box_2d"
    if name in ("input_text", "answer") and action.text is None:
        return f"{name} needs a text string"
    if name in ("swipe", "scroll") and action.direction is None:
        return f"{name} needs a direction: up, down, left or right"
    if name == "open_app" and action.app is None:
        return "open_app needs an app_name"
    return None


def read_mobile(text: str, *, strict: bool = True) -> Action:
    """Read one mobile action from its JSON text (a Python-literal spelling is accepted too).

    Leading zeros in the first ``[[a, b, c, d]]`` are dropped before reading (``[[0503, …]]`` is 503).
    Raises :class:`ActionParseError` when the text is not an object; see :func:`mobile_action` for
    ``strict``.
    """
    source = _FIRST_BOX_2D.sub(_strip_leading_zeros, text.strip(), count=1)
    value = read_object_literal(source)
    if not isinstance(value, dict):
        raise ActionParseError(
            'it is not a JSON object such as {"action_type": "click", "box_2d": [[x1, y1, x2, y2]]}',
            text,
            DIALECT,
        )
    return mobile_action(value, raw=text, strict=strict)
