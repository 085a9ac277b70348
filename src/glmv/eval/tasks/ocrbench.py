"""OCRBench: 1,000 OCR questions in 10 categories, scored by substring containment, summed to 1,000 points.

The whole answer is kept (not only the boxed part), as VLMEvalKit does for OCRBench; the category is
``question_type``.
"""

from __future__ import annotations

from typing import Any

from glmv.eval.scoring import ocrbench_match
from glmv.eval.task import Item, Task, _need, _values

__all__ = ["OCRBench"]


class OCRBench(Task):
    """OCRBench: ``question``, ``answer`` (list of accepted answers), ``question_type``, ``image``."""

    name = "ocrbench"
    title = "OCRBench"
    metric = "substring match, points out of 1,000"
    required = ("question", "answer", "question_type", "image")
    optional = ("id", "dataset")
    keep_whole_answer = True
    points = 1000.0

    def fill(self, item: Item, record: dict[str, Any]) -> None:
        item.question = str(_need(record, "question"))
        answer = _need(record, "answer")
        item.gold = [str(a) for a in answer] if isinstance(answer, (list, tuple)) else [str(answer)]
        item.images = _values(record.get("image"))
        item.category = str(_need(record, "question_type"))
        item.info["dataset"] = str(record.get("dataset") or "")

    def score(self, prediction: Any, item: Item) -> float:
        kind = "HME100k" if item.info["dataset"] == "HME100k" else str(item.category)
        return ocrbench_match(str(prediction), item.gold, kind)
