"""Drawing grounding results: :func:`annotate` returns a copy of the image with every result drawn.

One colour per expression (all instances of one expression share it), boxes as rectangles, points as dots with a
ring, each labelled with its expression on a filled tag kept inside the image. Drawn here rather than with
:func:`glmv.output.draw_boxes`, which colours by box index, not by expression.
"""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont

from glmv.grounding.result import Grounding

__all__ = ["COLOURS", "annotate", "colour_of"]

COLOURS = ("#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#9a6324")
"""The colours given to expressions, in order of first appearance."""


def colour_of(labels: Sequence[str]) -> dict[str, str]:
    """Each distinct label's colour, in order of first appearance."""
    colours: dict[str, str] = {}
    for label in labels:
        if label not in colours:
            colours[label] = COLOURS[len(colours) % len(COLOURS)]
    return colours


def annotate(image: Image.Image, groundings: Sequence[Grounding]) -> Image.Image:
    """A copy of ``image`` (RGB, the original the model saw) with each found grounding drawn and labelled."""
    canvas = image.convert("RGB").copy()
    draw = ImageDraw.Draw(canvas)
    colours = colour_of([item.label for item in groundings])
    line = max(2, round(min(canvas.size) / 250))
    radius = max(4, line * 3)
    font = ImageFont.load_default()
    for item in groundings:
        colour = colours[item.label]
        if item.box_px is not None:
            left, top, right, bottom = item.box_px
            draw.rectangle((left, top, right, bottom), outline=colour, width=line)
            anchor = (left, top)
        elif item.point_px is not None:
            x, y = item.point_px
            draw.ellipse(
                (x - radius, y - radius, x + radius, y + radius), outline="white", width=line, fill=colour
            )
            anchor = (x + radius, y - radius)
        else:
            continue
        _tag(draw, anchor, item.label, colour, font, canvas.size)
    return canvas


def _tag(draw: ImageDraw.ImageDraw, anchor: tuple[int, int], text: str, colour: str, font, size) -> None:
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    w, h = right - left + 6, bottom - top + 4
    x = min(max(anchor[0], 0), max(size[0] - w, 0))
    y = anchor[1] - h if anchor[1] - h >= 0 else anchor[1]
    y = min(max(y, 0), max(size[1] - h, 0))
    draw.rectangle((x, y, x + w, y + h), fill=colour)
    draw.text((x + 3 - left, y + 2 - top), text, fill="white", font=font)
