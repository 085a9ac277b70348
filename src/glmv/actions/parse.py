"""The two verbs of :mod:`glmv.actions`: :func:`parse_action` (a whole reply) and :func:`read_action` (one
action text), with dialect detection (:func:`detect_dialect`).

Dialects (:data:`DIALECTS`): ``glm-mobile`` (JSON with ``box_2d``), ``glm-pc`` (desktop function calls),
``glm-web`` (set-of-marks labels), ``glm-web-point`` (the WebVoyager verifier's point grammar), ``ui-tars``
(UI-TARS-1, thousandths) and ``ui-tars-1.5`` (pixels of its resized image).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from glmv.actions.action import Action
from glmv.actions.desktop import find_desktop_call, read_desktop
from glmv.actions.errors import ActionParseError
from glmv.actions.locate import locate_action
from glmv.actions.mobile import read_mobile
from glmv.actions.uitars import read_ui_tars
from glmv.actions.web import read_web_point, read_web_som
from glmv.errors import ConfigError

__all__ = ["DIALECTS", "detect_dialect", "parse_action", "read_action"]

_READERS: dict[str, Callable[..., Action]] = {
    "glm-mobile": read_mobile,
    "glm-pc": read_desktop,
    "glm-web": read_web_som,
    "glm-web-point": read_web_point,
    "ui-tars": lambda text, strict: read_ui_tars(text, dialect="ui-tars", strict=strict),
    "ui-tars-1.5": lambda text, strict: read_ui_tars(text, dialect="ui-tars-1.5", strict=strict),
}
DIALECTS = tuple(_READERS)
"""Every dialect name :func:`read_action` and :func:`parse_action` accept."""

_POINT_GRAMMAR = re.compile(r"(?:CLICK|TYPE|SCROLL_DOWN|SCROLL_UP)\(point=|KEY_PRESS\(key=")
_SOM_GRAMMAR = re.compile(r"(?:Click|Type|Scroll) \[?(?:\d|WINDOW)|Key[; ]|(?:Wait|GoBack|Google|Bing)\s*$")
_CALL_NAME = re.compile(r"(\w+)\(")
_GLM_PC_NAMES = frozenset(
    {
        "left_click",
        "right_click",
        "middle_click",
        "left_double_click",
        "left_drag",
        "key",
        "WAIT",
        "DONE",
        "FAIL",
    }
)
_GLM_PC_MARKS = ("start_box='[", "keys='")
_UI_TARS_NAMES = frozenset(
    {
        "click",
        "left_single",
        "left_double",
        "right_single",
        "drag",
        "select",
        "hotkey",
        "press",
        "keydown",
        "wait",
        "finished",
        "call_user",
        "open_app",
        "press_home",
        "press_back",
        "long_press",
    }
)
_UI_TARS_MARKS = ("start_box='(", "point='", "<point>", "<|box_start|>", "start_point=")


def _call_dialect(call: str, name: str, boxed: bool) -> str:
    if name in _GLM_PC_NAMES or any(mark in call for mark in _GLM_PC_MARKS):
        return "glm-pc"
    if name in _UI_TARS_NAMES or any(mark in call for mark in _UI_TARS_MARKS):
        return "ui-tars"
    return "glm-pc" if boxed else "ui-tars"


def detect_dialect(action_text: str, *, boxed: bool = True) -> str:
    """The dialect an action text is written in (``boxed``: it came out of a GLM box span).

    A JSON object is ``glm-mobile``; ``CLICK(point=…`` and its kin ``glm-web-point``; ``Click [5]`` and
    the other set-of-marks words ``glm-web``. A call is ``glm-pc`` when it uses a GLM desktop name or
    ``start_box='[x,y]'`` / ``keys='…'``, ``ui-tars`` when it uses a UI-TARS name or point form
    (``'(x,y)'``, ``<point>``); a call both share (``type``, ``scroll``, ``hover``) is ``glm-pc`` inside a
    box and ``ui-tars`` outside one (UI-TARS never writes GLM box markers). UI-TARS-1.5 cannot be told from
    UI-TARS-1 by its text: name ``ui-tars-1.5`` yourself. Raises :class:`ActionParseError` when nothing fits.
    """
    text = action_text.strip()
    if text.startswith("{"):
        return "glm-mobile"
    if _POINT_GRAMMAR.match(text) or text.startswith("ANSWER(content="):
        return "glm-web-point"
    if _SOM_GRAMMAR.match(text) or text.startswith("ANSWER;"):
        return "glm-web"
    name = _CALL_NAME.match(text)
    if name is not None:
        return _call_dialect(text, name[1], boxed)
    call = find_desktop_call(text)
    if call is not None:
        return _call_dialect(call, _CALL_NAME.match(call)[1], boxed)
    raise ActionParseError(
        "it is in no known action dialect (a JSON action, a desktop call, a set-of-marks action or a UI-TARS "
        "call)",
        action_text,
    )


def read_action(action_text: str, dialect: str, *, strict: bool = True) -> Action:
    """Read one action text (the inside of a box span, or the text after ``Action:``) in ``dialect``.

    ``strict=False`` keeps an action whose parameters did not all parse (their fields stay None) and a
    name outside the dialect's space (kind ``unknown``), for verifiers that score what was written; the
    default raises :class:`ActionParseError`. An unknown dialect raises :class:`~glmv.errors.ConfigError`.
    """
    reader = _READERS.get(dialect)
    if reader is None:
        raise ConfigError(f"Unknown action dialect {dialect!r}; use one of {', '.join(DIALECTS)}.")
    return reader(action_text, strict=strict)


def parse_action(text: str, dialect: str | None = None) -> Action:
    """The one action in a model reply, typed; ``dialect=None`` detects it (:func:`detect_dialect`).

    The reply may be whole (reasoning, ``<answer>`` tags, Memory / Reason / Thought sections) or just the
    action. Raises :class:`ActionParseError`, naming the text, when no single complete action parses.
    """
    if dialect is not None and dialect not in _READERS:
        raise ConfigError(f"Unknown action dialect {dialect!r}; use one of {', '.join(DIALECTS)}.")
    located = locate_action(text)
    chosen = dialect or detect_dialect(located.text, boxed=located.boxed)
    action_text = located.text
    if chosen == "glm-pc" and not located.boxed:
        action_text = find_desktop_call(action_text) or action_text
    return read_action(action_text, chosen)
