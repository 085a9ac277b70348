"""Draw parsed boxes and points on an image: :func:`draw_boxes` returns a new annotated RGB image.

Coordinates are thousandths of the image (as GLM writes them) and are mapped to the pixels of the image
given, so pass the original image the model saw.
"""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont

from glmv.output.reply import Box, Point

__all__ = ["draw_boxes"]

_COLOURS = ("#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#9a6324")


def draw_boxes(
    image: Image.Image,
    boxes: Sequence[Box | Point],
    labels: Sequence[str | None] | None = None,
) -> Image.Image:
    """A copy of ``image`` (RGB) with each box drawn as a rectangle and each point as a small circle.

    A label comes from ``labels[i]`` when given, else from the box's own ``label``; it is written above the
    box (inside the image). The input image is not changed.
    """
    canvas = image.convert("RGB").copy()
    draw = ImageDraw.Draw(canvas)
    width, height = canvas.size
    line = max(2, round(min(width, height) / 250))
    radius = max(3, line * 2)
    font = ImageFont.load_default()
    for i, shape in enumerate(boxes):
        colour = _COLOURS[i % len(_COLOURS)]
        label = labels[i] if labels is not None and i < len(labels) else None
        label = label if label is not None else shape.label
        if isinstance(shape, Box):
            x1, y1, x2, y2 = shape.to_pixels(width, height)
            left, right = sorted((x1, x2))
            top, bottom = sorted((y1, y2))
            draw.rectangle((left, top, right, bottom), outline=colour, width=line)
            anchor = (left, top)
        else:
            x, y = shape.to_pixels(width, height)
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=colour, outline="white")
            anchor = (x + radius, y - radius)
        if label:
            _label(draw, anchor, str(label), colour, font, canvas.size)
    return canvas


def _label(draw, anchor, text, colour, font, size) -> None:
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    w, h = right - left + 4, bottom - top + 4
    x = min(max(anchor[0], 0), max(size[0] - w, 0))
    y = anchor[1] - h if anchor[1] - h >= 0 else anchor[1]
    y = min(max(y, 0), max(size[1] - h, 0))
    draw.rectangle((x, y, x + w, y + h), fill=colour)
    draw.text((x + 2 - left, y + 2 - top), text, fill="white", font=font)
