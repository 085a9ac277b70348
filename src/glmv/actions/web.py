"""The web dialects: ``glm-web`` (the set-of-marks grammar of GLM-V's WebVoyager prompts) and
``glm-web-point`` (the point grammar the official WebVoyager verifier also reads).

``glm-web`` (AGENT.md §5.1): ``Click [N]``, ``Type [N]; [text]``, ``Scroll [N or WINDOW]; [up or down]``,
``Key; [Return]``, ``Wait``, ``GoBack``, ``Google``, ``Bing``, ``ANSWER; <content>…</content>`` — labels
of the marked screenshot, no coordinates.

``glm-web-point`` (REWARD.md §8.4): ``CLICK(point=(x, y)[, box=[[…]]][, element_info='…'])``,
``TYPE(point=(x, y)[, text='…'][, box=…][, element_info='…'])``, ``KEY_PRESS(key='…')``,
``SCROLL_DOWN`` / ``SCROLL_UP(point=(x, y)[, box=…][, distance=…][, element_info='…'])``,
``ANSWER(content='…')``, with points in thousandths.

Both are read as the official verifier reads them: each action's pattern is searched in the text, in a
fixed order.
"""

from __future__ import annotations

import math
import re
from typing import Any

from glmv.actions.action import Action
from glmv.actions.errors import ActionParseError

__all__ = ["match_web_action", "read_web_point", "read_web_som"]

SOM_DIALECT = "glm-web"
POINT_DIALECT = "glm-web-point"

_POINT = r"point=\((\d+),\s*(\d+)\)"
_BOX = r"(?:,\s*box=\[\[([^\]]+)\]\])?"
_ELEMENT = r"(?:,\s*element_info='([^']*)')?"
_CLICK = re.compile(rf"CLICK\({_POINT}{_BOX}{_ELEMENT}\)")
_TYPE = re.compile(rf"TYPE\({_POINT}(?:,\s*text='([^']*)')?{_BOX}{_ELEMENT}\)")
_KEY_PRESS = re.compile(r"KEY_PRESS\(key='([^']*)'\)")
_SCROLL = re.compile(rf"SCROLL_(DOWN|UP)\({_POINT}{_BOX}(?:,\s*distance=([^,\)]+))?{_ELEMENT}\)")
_ANSWER_CALL = re.compile(r"ANSWER\(content='([^']*)'\)")
_SOM_CLICK = re.compile(r"Click \[?(\d+)\]?")
_SOM_TYPE = re.compile(r"Type \[?(\d+)\]?[; ]+\[?(.[^\]]*)\]?", re.DOTALL)
_SOM_KEY = re.compile(r"Key[; ]+\[?(.[^\]]*)\]?", re.DOTALL)
_SOM_SCROLL = re.compile(r"Scroll \[?(\d+|WINDOW)\]?[; ]+\[?(up|down)\]?")
_SOM_BARE = (("Wait", "wait"), ("GoBack", "back"), ("Google", "search"), ("Bing", "search"))
_SOM_ANSWER = re.compile(r"ANSWER[; ]+<content>(.*?)</content>", re.DOTALL)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def _box(raw: str | None) -> tuple[float, ...] | None:
    """The 4 numbers of a ``box=[[…]]`` argument, or None (the box is informative; the point is acted on)."""
    if raw is None:
        return None
    numbers = _NUMBER.findall(raw)
    if len(numbers) != 4:
        return None
    return tuple(float(n) if "." in n else int(n) for n in numbers)


def _distance(raw: str | None, text: str, strict: bool) -> float | None:
    if raw is None:
        return None
    try:
        distance = float(raw)
    except ValueError:
        distance = None
    if strict and (distance is None or not math.isfinite(distance)):
        raise ActionParseError(f"scroll distance {raw!r} is not a number", text, POINT_DIALECT)
    return distance


def _match_point(text: str, strict: bool) -> Action | None:
    def action(kind: str, name: str, arguments: dict[str, Any], **fields: Any) -> Action:
        kept = {key: value for key, value in arguments.items() if value is not None}
        return Action(kind=kind, name=name, dialect=POINT_DIALECT, arguments=kept, raw=text, **fields)

    if match := _CLICK.search(text):
        point = (int(match[1]), int(match[2]))
        arguments = {"point": point, "box": match[3], "element_info": match[4]}
        return action("click", "CLICK", arguments, point=point, box=_box(match[3]), element=match[4])
    if match := _TYPE.search(text):
        point = (int(match[1]), int(match[2]))
        arguments = {"point": point, "text": match[3], "box": match[4], "element_info": match[5]}
        fields = {"point": point, "text": match[3] or "", "box": _box(match[4]), "element": match[5]}
        return action("type", "TYPE", arguments, **fields)
    if match := _KEY_PRESS.search(text):
        return action("key", "KEY_PRESS", {"key": match[1]}, keys=(match[1],))
    if match := _SCROLL.search(text):
        point = (int(match[2]), int(match[3]))
        arguments = {"point": point, "box": match[4], "distance": match[5], "element_info": match[6]}
        fields = {
            "point": point,
            "direction": match[1].lower(),
            "box": _box(match[4]),
            "distance": _distance(match[5], text, strict),
            "element": match[6],
        }
        return action("scroll", f"SCROLL_{match[1]}", arguments, **fields)
    if match := _ANSWER_CALL.search(text):
        return action("answer", "ANSWER", {"content": match[1]}, text=match[1])
    return None


def _match_som(text: str) -> Action | None:
    def action(kind: str, name: str, arguments: dict[str, Any], **fields: Any) -> Action:
        return Action(kind=kind, name=name, dialect=SOM_DIALECT, arguments=arguments, raw=text, **fields)

    if match := _SOM_CLICK.search(text):
        return action("click", "Click", {"label": match[1]}, label=int(match[1]))
    if match := _SOM_TYPE.search(text):
        arguments = {"label": match[1], "content": match[2]}
        return action("type", "Type", arguments, label=int(match[1]), text=match[2])
    if match := _SOM_KEY.search(text):
        return action("key", "Key", {"key": match[1]}, keys=(match[1].strip(),))
    if match := _SOM_SCROLL.search(text):
        label: int | str = match[1] if match[1] == "WINDOW" else int(match[1])
        arguments = {"label": match[1], "direction": match[2]}
        return action("scroll", "Scroll", arguments, label=label, direction=match[2])
    for word, kind in _SOM_BARE:
        if text.startswith(word):
            return action(kind, word, {})
    if match := _SOM_ANSWER.search(text):
        return action("answer", "ANSWER", {"content": match[1]}, text=match[1])
    return None


def read_web_point(text: str, *, strict: bool = True) -> Action:
    """Read one action of the point grammar, e.g. ``CLICK(point=(214, 100), element_info='Dinners')``.

    Raises :class:`ActionParseError` when no action of the grammar is in the text. A scroll ``distance``
    that is not a finite number raises with ``strict``; without it ``distance`` is None and
    ``arguments["distance"]`` keeps what was written.
    """
    found = _match_point(text, strict)
    if found is None:
        problem = "no CLICK / TYPE / KEY_PRESS / SCROLL_DOWN / SCROLL_UP / ANSWER(...) action in it"
        raise ActionParseError(problem, text, POINT_DIALECT)
    return found


def read_web_som(text: str, *, strict: bool = True) -> Action:
    """Read one set-of-marks action, e.g. ``Click [5]`` or ``Type [3]; [vegetarian lasagna]``.

    ``label`` is the element's number (``"WINDOW"`` for a whole-page scroll). Raises
    :class:`ActionParseError` when no action of the grammar is in the text (``strict`` changes nothing:
    the grammar has no optional parts).
    """
    found = _match_som(text)
    if found is None:
        problem = "no Click / Type / Scroll / Key / Wait / GoBack / Google / Bing / ANSWER action in it"
        raise ActionParseError(problem, text, SOM_DIALECT)
    return found


def match_web_action(text: str) -> Action | None:
    """The web action in ``text``, point grammar first, then set-of-marks (the official verifier's order);
    None when neither fits. Not strict: an unreadable scroll distance leaves ``distance`` None."""
    return _match_point(text, False) or _match_som(text)
