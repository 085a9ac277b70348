"""One grounding result: :class:`Grounding`, an expression located as a box or a point.

Coordinates are kept twice: as the model wrote them (thousandths of the image, 0–1000) and in pixels of the
original image (clipped to it), so a result can be drawn, compared with a dataset's pixel boxes or sent back to a
model without another conversion.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Grounding"]


@dataclass(frozen=True)
class Grounding:
    """Where ``label`` (the expression asked for) is in the image.

    ``box_thousandths`` / ``point_thousandths`` are as written by the model; ``box_px`` / ``point_px`` in
    pixels of the original ``width`` × ``height`` image. Exactly one of box and point is set, or neither when the
    model found nothing readable (``found`` is False; ``score_text`` keeps what it said). ``score_text`` is the
    model's visible answer text (its confidence or description, when it gave one); ``reasoning`` its thinking.
    """

    label: str
    width: int
    height: int
    box_thousandths: tuple[float, float, float, float] | None = None
    point_thousandths: tuple[float, float] | None = None
    score_text: str = ""
    reasoning: str = ""

    @property
    def found(self) -> bool:
        return self.box_thousandths is not None or self.point_thousandths is not None

    @property
    def box_px(self) -> tuple[int, int, int, int] | None:
        """The box in whole pixels of the original image (corners ordered, clipped to the image)."""
        if self.box_thousandths is None:
            return None
        x1, y1, x2, y2 = self.box_thousandths
        left, right = sorted((_pixel(x1, self.width), _pixel(x2, self.width)))
        top, bottom = sorted((_pixel(y1, self.height), _pixel(y2, self.height)))
        return (left, top, right, bottom)

    @property
    def point_px(self) -> tuple[int, int] | None:
        """The point in whole pixels of the original image (clipped to it)."""
        if self.point_thousandths is None:
            return None
        x, y = self.point_thousandths
        return (_pixel(x, self.width), _pixel(y, self.height))

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape ``glmv ground --json`` prints for one result."""
        return {
            "label": self.label,
            "box_px": None if self.box_px is None else list(self.box_px),
            "box_thousandths": None if self.box_thousandths is None else list(self.box_thousandths),
            "point_px": None if self.point_px is None else list(self.point_px),
            "point_thousandths": None if self.point_thousandths is None else list(self.point_thousandths),
            "score_text": self.score_text,
        }


def _pixel(value: float, size: int) -> int:
    """A thousandth of ``size`` as a whole pixel inside the image (1000 is the far edge)."""
    return min(max(round(min(max(value, 0.0), 1000.0) / 1000.0 * size), 0), size)
