"""ChartQA: short answers about charts, scored by relaxed accuracy (numbers within 5 % of the gold).

The prompt is lmms-eval's ("Answer the question with a single word."); the category is the split (``type``:
human / augmented). A trailing period of the reply is dropped before scoring (GLM ends sentences with one).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from glmv.eval.scoring import relaxed_accuracy
from glmv.eval.task import Item, Task, _need, _values

if TYPE_CHECKING:
    from glmv.output import Reply

__all__ = ["ChartQA"]


class ChartQA(Task):
    """ChartQA: ``question``, ``answer``, ``image``; ``type`` (human / augmented) as the category."""

    name = "chartqa"
    title = "ChartQA"
    metric = "relaxed accuracy (5 %)"
    option_names = ("tolerance",)
    required = ("question", "answer", "image")
    optional = ("id", "category", "type")
    prompt_template = "{question}\nAnswer the question with a single word."

    def fill(self, item: Item, record: dict[str, Any]) -> None:
        item.question = str(_need(record, "question"))
        answer = _need(record, "answer")
        item.gold = str(answer[0] if isinstance(answer, list) else answer)
        item.images = _values(record.get("image"))
        item.category = item.category or (str(record["type"]) if record.get("type") else None)

    def extract(self, reply: Reply, item: Item) -> str:
        return self.answer_text(reply).rstrip(".").strip()

    def score(self, prediction: Any, item: Item) -> float:
        tolerance = float(self.options.get("tolerance", 0.05))
        return relaxed_accuracy(str(prediction), item.gold, tolerance)
