"""Boxes and points with their coordinate space named: IoU (RefCOCO acc@0.5) and point-in-box (ScreenSpot).

A coordinate space is one of ``"pixels"`` (of the original image), ``"thousandths"`` (GLM: 0–1000 per axis of
the original image) or ``"fractions"`` (0–1). Nothing is guessed from the values: the kits' auto-detection
(VLMEvalKit: max ≤ 1.5 → fractions; lmms-eval: any value > 1 → thousandths, or ÷ pixel size) is the trap that
mis-scales GLM's thousandths, so every argument here carries its space, and converting between spaces needs
the image size.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from glmv.errors import ConfigError

__all__ = ["CoordinateSpace", "box_iou", "point_in_box", "to_pixels", "xywh_to_xyxy"]

CoordinateSpace = Literal["pixels", "thousandths", "fractions"]
_SCALE = {"pixels": None, "thousandths": 1000.0, "fractions": 1.0}


def xywh_to_xyxy(box: Sequence[float]) -> tuple[float, float, float, float]:
    """``[x, y, width, height]`` (RefCOCO / ScreenSpot annotations) as corners ``[x1, y1, x2, y2]``."""
    x, y, width, height = (float(value) for value in box)
    return (x, y, x + width, y + height)


def to_pixels(
    values: Sequence[float], space: CoordinateSpace, image_size: tuple[int, int] | None
) -> tuple[float, ...]:
    """``values`` (``x, y`` pairs: a point or a box's corners) in ``space`` as pixels of an image ``(W, H)``.

    Thousandths and fractions are clipped to their range first, as GLM's coordinates are (FORMATS.md §5.3).
    """
    if space not in _SCALE:
        raise ConfigError(f"Unknown coordinate space {space!r}; use pixels, thousandths or fractions.")
    scale = _SCALE[space]
    if scale is None:
        return tuple(float(value) for value in values)
    if image_size is None:
        raise ConfigError(f"Converting {space} to pixels needs the image size.")
    width, height = image_size
    out = []
    for index, value in enumerate(values):
        fraction = min(max(float(value), 0.0), scale) / scale
        out.append(fraction * (width if index % 2 == 0 else height))
    return tuple(out)


def _corners(box: Sequence[float], space: CoordinateSpace, image_size: tuple[int, int] | None) -> tuple:
    if len(box) != 4:
        raise ConfigError(f"A box has four numbers [x1, y1, x2, y2], got {list(box)!r}.")
    x1, y1, x2, y2 = to_pixels(box, space, image_size)
    return (min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))


def box_iou(
    box: Sequence[float],
    other: Sequence[float],
    *,
    space: CoordinateSpace,
    other_space: CoordinateSpace,
    image_size: tuple[int, int] | None = None,
) -> float:
    """Intersection over union of two ``[x1, y1, x2, y2]`` boxes, each in its own space (both taken to pixels
    of the original image ``(W, H)``; needed unless both are in pixels).

    Corners given the wrong way round are swapped, as VLMEvalKit does. Two empty boxes have IoU 0.
    """
    ax1, ay1, ax2, ay2 = _corners(box, space, image_size)
    bx1, by1, bx2, by2 = _corners(other, other_space, image_size)
    inter = max(0.0, min(ax2, bx2) - max(ax1, bx1)) * max(0.0, min(ay2, by2) - max(ay1, by1))
    union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter
    return inter / union if union > 0 else 0.0


def point_in_box(
    point: Sequence[float],
    box: Sequence[float],
    *,
    point_space: CoordinateSpace,
    box_space: CoordinateSpace,
    image_size: tuple[int, int] | None = None,
) -> bool:
    """Whether ``point`` ``[x, y]`` lies in ``box`` ``[x1, y1, x2, y2]`` (edges included), each in its own space.

    For GLM, a click point is in thousandths of the screenshot: ``x / 1000 · W``, ``y / 1000 · H`` — not ÷ the
    pixel size, which is what the kits do with values > 1.
    """
    if len(point) != 2:
        raise ConfigError(f"A point has two numbers [x, y], got {list(point)!r}.")
    x, y = to_pixels(point, point_space, image_size)
    x1, y1, x2, y2 = _corners(box, box_space, image_size)
    return x1 <= x <= x2 and y1 <= y <= y2
