"""TextVQA (val): scene-text questions with ten human answers, scored by VQA accuracy with the EvalAI
normalisation; the prompt is lmms-eval's."""

from __future__ import annotations

from typing import Any

from glmv.eval.scoring import vqa_accuracy
from glmv.eval.task import Item, Task, _need, _values

__all__ = ["TextVQA"]


class TextVQA(Task):
    """TextVQA: ``question``, ``answers`` (ten), ``image``."""

    name = "textvqa"
    title = "TextVQA (val)"
    metric = "VQA accuracy (10 answers)"
    required = ("question", "answers", "image")
    prompt_template = "{question}\nAnswer the question using a single word or phrase."

    def fill(self, item: Item, record: dict[str, Any]) -> None:
        item.question = str(_need(record, "question"))
        answers = _need(record, "answers")
        if not isinstance(answers, (list, tuple)):
            raise ValueError("answers is not a list")
        item.gold = [str(answer) for answer in answers]
        item.images = _values(record.get("image"))

    def score(self, prediction: Any, item: Item) -> float:
        return vqa_accuracy(str(prediction), item.gold)
