"""DocVQA and InfoVQA (val): questions on document images and infographics, scored by ANLS (τ 0.5).

The prompt is lmms-eval's ("Answer the question using a single word or phrase."); the category is the first
``question_types`` entry when the data has them.
"""

from __future__ import annotations

from typing import Any

from glmv.eval.scoring import anls
from glmv.eval.task import Item, Task, _need, _values

__all__ = ["DocVQA", "InfoVQA"]


class DocVQA(Task):
    """DocVQA: ``question``, ``answers`` (list), ``image``, optional ``question_types``."""

    name = "docvqa"
    title = "DocVQA (val)"
    metric = "ANLS (τ 0.5)"
    option_names = ("threshold",)
    required = ("question", "answers", "image")
    optional = ("id", "category", "question_types")
    prompt_template = "{question}\nAnswer the question using a single word or phrase."

    def fill(self, item: Item, record: dict[str, Any]) -> None:
        item.question = str(_need(record, "question"))
        answers = _need(record, "answers")
        item.gold = [str(a) for a in answers] if isinstance(answers, (list, tuple)) else [str(answers)]
        item.images = _values(record.get("image"))
        kinds = record.get("question_types")
        if item.category is None and kinds:
            item.category = str(kinds[0] if isinstance(kinds, (list, tuple)) else kinds)

    def score(self, prediction: Any, item: Item) -> float:
        return anls(str(prediction), item.gold, float(self.options.get("threshold", 0.5)))


class InfoVQA(DocVQA):
    """InfoVQA: the same record format and rule as DocVQA."""

    name = "infovqa"
    title = "InfoVQA (val)"
