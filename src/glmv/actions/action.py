"""The typed GUI action: :class:`Action`, its kinds and its coordinate spaces.

One :class:`Action` is one step a GUI agent takes, whichever dialect the model wrote it in. ``kind`` is one
word of :data:`KINDS`:

============  =================================================================================
kind          meaning (fields that apply)
============  =================================================================================
click         left click / tap (``point`` or ``box``; ``label`` for set-of-marks)
double_click  double click / double tap (``point`` or ``box``)
right_click   right click (``point``)
middle_click  middle click (``point``)
hover         move the pointer there (``point``)
long_press    press and hold (``point`` or ``box``)
type          type ``text`` (into ``box`` / ``label`` when given; ``clear`` empties the field first)
key           press ``keys`` together (one key, or a combination such as ``("ctrl", "c")``)
scroll        scroll ``direction`` at ``point`` / ``label`` by ``steps`` wheel clicks or ``distance``
swipe         finger swipe ``direction`` (over ``box``, or the whole screen)
drag          press at ``point``, move to ``end_point``, release
open_app      open ``app``
back          the system back navigation
home          the system home navigation
search        go to a web search engine (``name`` says which: ``Bing`` / ``Google``)
wait          wait for the screen to settle
finish        the task is done (``text``: a closing message, when given)
fail          the task is infeasible
answer        give the user ``text`` as the answer
call_user     hand control to the user
unknown       an action name outside its dialect's space (only with ``strict=False``)
============  =================================================================================

Coordinates carry their space in ``space`` (:data:`SPACES`): ``"thousandths"`` of the screenshot (0–1000,
GLM-V and UI-TARS-1), ``"resized"`` pixels of the image UI-TARS-1.5 saw after Qwen2.5-VL's ``smart_resize``,
or ``"pixels"`` of the screenshot. :meth:`Action.to_pixels` returns a **copy** in pixels.

``name`` is the action's own name as its dialect writes it (``left_click``, ``input_text``, ``Click``,
``finished``) and ``arguments`` the parameters as written (the JSON object of a mobile action, the keyword
arguments of a call): verifiers that score exactly what was written read them. ``raw`` is the action text
the action was read from. ``raw`` and ``arguments`` do not take part in equality: two actions are equal when
they do the same thing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

__all__ = [
    "KINDS",
    "SPACES",
    "Action",
    "qwen_resized_size",
]

KINDS = frozenset(
    {
        "answer",
        "back",
        "call_user",
        "click",
        "double_click",
        "drag",
        "fail",
        "finish",
        "home",
        "hover",
        "key",
        "long_press",
        "middle_click",
        "open_app",
        "right_click",
        "scroll",
        "search",
        "swipe",
        "type",
        "unknown",
        "wait",
    }
)
"""Every value :attr:`Action.kind` takes."""

SPACES = frozenset({"thousandths", "resized", "pixels"})
"""Every value :attr:`Action.space` takes."""

# Qwen2.5-VL's image resizing, which UI-TARS-1.5's coordinates refer to
_QWEN_FACTOR = 28
_QWEN_MIN_PIXELS = 100 * 28 * 28
_QWEN_MAX_PIXELS = 16384 * 28 * 28


def qwen_resized_size(width: int, height: int) -> tuple[int, int]:
    """The ``(width, height)`` Qwen2.5-VL's ``smart_resize`` gives a ``width`` × ``height`` screenshot.

    Both sides become multiples of 28 with the area kept within 100·28² … 16384·28² pixels, as the UI-TARS
    action parser computes it.
    """
    factor = _QWEN_FACTOR
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > _QWEN_MAX_PIXELS:
        beta = math.sqrt(height * width / _QWEN_MAX_PIXELS)
        h_bar = math.floor(height / beta / factor) * factor
        w_bar = math.floor(width / beta / factor) * factor
    elif h_bar * w_bar < _QWEN_MIN_PIXELS:
        beta = math.sqrt(_QWEN_MIN_PIXELS / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return w_bar, h_bar


@dataclass(frozen=True, init=False)
class Action:
    """One GUI action, typed; see the module docstring for the kinds, spaces and fields.

    Frozen; the constructor is written out (keyword arguments after ``kind``) because the generated one of a
    frozen dataclass costs several times more, and the reward system builds actions on its hot path.
    """

    kind: str
    name: str
    dialect: str
    space: str
    point: tuple[float, float] | None
    box: tuple[float, float, float, float] | None
    end_point: tuple[float, float] | None
    text: str | None
    keys: tuple[str, ...]
    direction: str | None
    steps: int | None
    distance: float | None
    label: int | str | None
    app: str | None
    element: str | None
    clear: bool | None
    arguments: Mapping[str, Any] = field(compare=False, hash=False)
    raw: str = field(compare=False, hash=False)

    def __init__(
        self,
        kind: str,
        *,
        name: str = "",
        dialect: str = "",
        space: str = "thousandths",
        point: tuple[float, float] | None = None,
        box: tuple[float, float, float, float] | None = None,
        end_point: tuple[float, float] | None = None,
        text: str | None = None,
        keys: tuple[str, ...] = (),
        direction: str | None = None,
        steps: int | None = None,
        distance: float | None = None,
        label: int | str | None = None,
        app: str | None = None,
        element: str | None = None,
        clear: bool | None = None,
        arguments: Mapping[str, Any] | None = None,
        raw: str = "",
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"Action kind {kind!r} is not one of {sorted(KINDS)}")
        if space not in SPACES:
            raise ValueError(f"Action space {space!r} is not one of {sorted(SPACES)}")
        if not isinstance(arguments, MappingProxyType):
            arguments = MappingProxyType(dict(arguments or {}))
        vars(self).update(
            kind=kind,
            name=name,
            dialect=dialect,
            space=space,
            point=point,
            box=box,
            end_point=end_point,
            text=text,
            keys=keys,
            direction=direction,
            steps=steps,
            distance=distance,
            label=label,
            app=app,
            element=element,
            clear=clear,
            arguments=arguments,
            raw=raw,
        )

    @property
    def target(self) -> tuple[float, float] | None:
        """Where the action lands: ``point``, else the centre of ``box``, else None."""
        if self.point is not None:
            return self.point
        if self.box is not None:
            x1, y1, x2, y2 = self.box
            return ((x1 + x2) / 2, (y1 + y2) / 2)
        return None

    def to_pixels(self, width: int, height: int) -> Action:
        """A copy with ``point`` / ``box`` / ``end_point`` in pixels of a ``width`` × ``height`` screenshot.

        Thousandths are clipped to 0–1000 first (GLM writes 0–999 and 1000 is read as the far edge);
        UI-TARS-1.5 ``resized`` coordinates are scaled from Qwen2.5-VL's resized size of that screenshot.
        Values stay floats (round them where a device needs integers). An action already in pixels comes
        back unchanged.
        """
        if self.space == "pixels":
            return self
        if self.space == "thousandths":
            scale_x, scale_y, limit_x, limit_y = width / 1000, height / 1000, 1000.0, 1000.0
        else:
            resized_width, resized_height = qwen_resized_size(width, height)
            scale_x, scale_y = width / resized_width, height / resized_height
            limit_x, limit_y = float(resized_width), float(resized_height)

        def convert(values: tuple[float, ...]) -> tuple[float, ...]:
            return tuple(
                min(max(value, 0.0), limit_x if i % 2 == 0 else limit_y)
                * (scale_x if i % 2 == 0 else scale_y)
                for i, value in enumerate(values)
            )

        return replace(
            self,
            space="pixels",
            point=None if self.point is None else convert(self.point),
            box=None if self.box is None else convert(self.box),
            end_point=None if self.end_point is None else convert(self.end_point),
        )
