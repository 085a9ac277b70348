"""Drawing on screenshots: :func:`draw_marks` (set-of-marks labels, what the web model sees) and
:func:`draw_action` (the action a step took, for the record and its report).

Both return a new image; coordinates are pixels of that image.
"""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont

from glmv.actions import Action
from glmv.agent.executors.base import Mark

__all__ = ["draw_action", "draw_marks"]

_MARK_COLOURS = ("#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#008080", "#f032e6", "#9a6324")
_ACTION_COLOUR = "#ff1744"


def _font() -> ImageFont.ImageFont:
    return ImageFont.load_default()


def draw_marks(image: Image.Image, marks: Sequence[Mark]) -> Image.Image:
    """A copy of ``image`` with each mark's box outlined and its number on a tag at its top-left corner."""
    canvas = image.convert("RGB").copy()
    draw = ImageDraw.Draw(canvas)
    font = _font()
    for mark in marks:
        colour = _MARK_COLOURS[mark.label % len(_MARK_COLOURS)]
        x1, y1, x2, y2 = mark.box
        draw.rectangle((x1, y1, max(x1, x2 - 1), max(y1, y2 - 1)), outline=colour, width=2)
        text = str(mark.label)
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        w, h = right - left + 4, bottom - top + 4
        tx, ty = max(0, x1), max(0, y1 - h) if y1 - h >= 0 else max(0, y1)
        draw.rectangle((tx, ty, tx + w, ty + h), fill=colour)
        draw.text((tx + 2 - left, ty + 2 - top), text, fill="white", font=font)
    return canvas


def draw_action(image: Image.Image, action: Action, mark: Mark | None = None) -> Image.Image:
    """A copy of ``image`` with ``action`` (in pixels) drawn: a ring at its target, its box, a line to the end of a
    drag, the mark it names, and the action text on a banner at the top."""
    canvas = image.convert("RGB").copy()
    draw = ImageDraw.Draw(canvas)
    radius = max(6, min(canvas.size) // 60)
    if mark is not None:
        draw.rectangle(mark.box, outline=_ACTION_COLOUR, width=3)
    if action.box is not None:
        x1, y1, x2, y2 = action.box
        draw.rectangle((min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)), outline=_ACTION_COLOUR, width=3)
    target = action.target
    if target is None and mark is not None:
        target = ((mark.box[0] + mark.box[2]) / 2, (mark.box[1] + mark.box[3]) / 2)
    if target is not None:
        x, y = target
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), outline=_ACTION_COLOUR, width=3)
        draw.line((x - radius // 2, y, x + radius // 2, y), fill=_ACTION_COLOUR, width=2)
        draw.line((x, y - radius // 2, x, y + radius // 2), fill=_ACTION_COLOUR, width=2)
        if action.end_point is not None:
            draw.line((x, y, *action.end_point), fill=_ACTION_COLOUR, width=3)
    banner = action.raw.strip() or action.kind
    font = _font()
    left, top, right, bottom = draw.textbbox((0, 0), banner, font=font)
    draw.rectangle((0, 0, min(canvas.width, right - left + 8), bottom - top + 6), fill=_ACTION_COLOUR)
    draw.text((4 - left, 3 - top), banner, fill="white", font=font)
    return canvas
