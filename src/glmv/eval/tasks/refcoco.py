"""RefCOCO / RefCOCO+ / RefCOCOg (REC): locate the referred object; a hit is IoU ≥ 0.5 with the gold box.

The gold ``bbox`` is ``[x, y, w, h]`` in pixels of the original image (COCO); GLM's box is ``[x1, y1, x2, y2]``
in thousandths of the original image (FORMATS.md §5.3). Both spaces are declared to
:func:`~glmv.eval.scoring.box_iou`; nothing is guessed from the values. The first box of the reply counts (bracketed numbers without box markers too, for servers that drop
special tokens); a reply without a box is unparseable (scored 0, its error recorded). The prompt is GLM-V's grounding prompt; the category
is the ``split`` column when given (RefCOCO-avg is the mean of the per-split scores).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from glmv.errors import OutputError
from glmv.eval.scoring import box_iou, xywh_to_xyxy
from glmv.eval.task import Item, Task, _need, _values
from glmv.output.boxes import find_bare_boxes

if TYPE_CHECKING:
    from glmv.output import Reply

__all__ = ["RefCOCO"]


def _box(value: Any) -> list[float]:
    if isinstance(value, str):
        value = [float(part) for part in value.strip("[]() ").replace(",", " ").split()]
    box = [float(v) for v in value]
    if len(box) != 4:
        raise ValueError(f"bbox has {len(box)} numbers, not 4")
    return box


class RefCOCO(Task):
    """RefCOCO: ``expression`` (text, or a list whose first entry is used), ``bbox``, ``image``, ``split``.

    Options: ``bbox_format`` (``xywh``, the COCO default, or ``xyxy``), ``threshold`` (0.5).
    """

    name = "refcoco"
    title = "RefCOCO / + / g (REC)"
    metric = "acc@IoU ≥ 0.5 (GLM boxes in thousandths)"
    option_names = ("bbox_format", "threshold")
    required = ("expression", "bbox", "image")
    optional = ("id", "category", "split")
    prompt_template = "Help me to locate {question} in the image and give me its bounding boxes."

    def fill(self, item: Item, record: dict[str, Any]) -> None:
        expression = _need(record, "expression")
        item.question = str(expression[0] if isinstance(expression, (list, tuple)) else expression)
        box = _box(_need(record, "bbox"))
        xywh = str(self.options.get("bbox_format", "xywh")) == "xywh"
        item.gold = list(xywh_to_xyxy(box)) if xywh else box
        item.images = _values(record.get("image"))[:1]
        item.category = item.category or (str(record["split"]) if record.get("split") else None)

    def extract(self, reply: Reply, item: Item) -> list[float]:
        boxes = reply.boxes or find_bare_boxes(reply.content)
        if not boxes:
            raise OutputError("the reply has no box")
        return boxes[0].as_list()

    def score(self, prediction: Any, item: Item) -> float:
        iou = box_iou(
            prediction,
            item.gold,
            space="thousandths",
            other_space="pixels",
            image_size=item.info["image_size"],
        )
        item.info["iou"] = round(iou, 4)
        return float(iou >= float(self.options.get("threshold", 0.5)))
