"""ScreenSpot v1 / v2: click the described GUI element; a hit is the predicted point inside the target box.

GLM answers with a point ``[x, y]`` (or a box, whose centre is taken) in thousandths of the screenshot, converted
with ``x / 1000 · W`` and ``y / 1000 · H`` — not by dividing by the pixel size as the kits do with values > 1.
The gold ``bbox`` is ``[x, y, w, h]`` in pixels (the SeeClick / OS-Copilot JSON); options ``bbox_format``
(``xywh`` / ``xyxy``) and ``bbox_space`` (``pixels`` / ``fractions``) read other layouts. The category is
``data_source/data_type`` (mobile, desktop, web × text, icon).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from glmv.errors import OutputError
from glmv.eval.scoring import point_in_box, xywh_to_xyxy
from glmv.eval.task import Item, Task, _need, _values
from glmv.eval.tasks.refcoco import _box
from glmv.output.boxes import parse_coordinates

if TYPE_CHECKING:
    from glmv.output import Reply

__all__ = ["ScreenSpot", "ScreenSpotV2"]


class ScreenSpot(Task):
    """ScreenSpot: ``instruction``, ``bbox``, ``image``, ``data_type``, ``data_source``."""

    name = "screenspot"
    title = "ScreenSpot"
    metric = "click accuracy (point in box, GLM thousandths)"
    option_names = ("bbox_format", "bbox_space")
    required = ("instruction", "bbox", "image")
    optional = ("id", "category", "data_type", "data_source")
    prompt_template = (
        "In this screenshot, where should I click for: {question}? Answer with the point [x, y] "
        "in thousandths of the image."
    )

    def fill(self, item: Item, record: dict[str, Any]) -> None:
        item.question = str(_need(record, "instruction"))
        box = _box(_need(record, "bbox"))
        item.gold = list(xywh_to_xyxy(box)) if str(self.options.get("bbox_format", "xywh")) == "xywh" else box
        item.info["bbox_space"] = str(self.options.get("bbox_space", "pixels"))
        item.images = _values(record.get("image"))[:1]
        if item.category is None:
            parts = [str(record[k]) for k in ("data_source", "data_type") if record.get(k)]
            item.category = "/".join(parts) or None

    def extract(self, reply: Reply, item: Item) -> list[float]:
        boxes, points = reply.boxes, reply.points
        if not boxes and not points:
            boxes, points = parse_coordinates(reply.content)
        if points:
            return points[0].as_list()
        if boxes:
            return [(boxes[0].x1 + boxes[0].x2) / 2, (boxes[0].y1 + boxes[0].y2) / 2]
        raise OutputError("the reply has no point or box")

    def score(self, prediction: Any, item: Item) -> float:
        return float(
            point_in_box(
                prediction,
                item.gold,
                point_space="thousandths",
                box_space=item.info["bbox_space"],
                image_size=item.info["image_size"],
            )
        )


class ScreenSpotV2(ScreenSpot):
    """ScreenSpot-v2: the corrected annotations, same record format and rule."""

    name = "screenspot-v2"
    title = "ScreenSpot-v2"
