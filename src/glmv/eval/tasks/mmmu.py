"""MMMU (val): multiple-choice and open questions over up to seven images, scored by MMMU's own rules.

Prompts are lmms-eval's MMMU prompts. Choice questions: :func:`~glmv.eval.scoring.extract_choice` (no random
fallback); open questions: :func:`~glmv.eval.scoring.mmmu_open_match`. The category is the subject, read from
the id (``validation_Art_1`` → ``Art``) unless a ``category`` column gives it.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any

from glmv.eval.scoring import extract_choice, mmmu_open_match
from glmv.eval.task import Item, Task, _need, _values
from glmv.eval.tasks.choice import gold_letter, lettered, parse_options

if TYPE_CHECKING:
    from glmv.output import Reply

__all__ = ["MMMU"]

_CHOICE = "{question}\n{options}\n\nAnswer with the option's letter from the given choices directly."
_OPEN = "{question}\n\nAnswer the question using a single word or phrase."


class MMMU(Task):
    """MMMU: ``question``, ``options`` (list, or its text), ``answer``, ``question_type`` (``multiple-choice`` /
    ``open``), ``image`` or ``image_1`` … ``image_7``."""

    name = "mmmu"
    title = "MMMU (val)"
    metric = "accuracy (MMMU rules, no random fallback)"
    required = ("question", "answer")
    optional = ("id", "category", "options", "question_type", "image", *(f"image_{n}" for n in range(1, 8)))

    def fill(self, item: Item, record: dict[str, Any]) -> None:
        item.question = str(_need(record, "question"))
        options = record.get("options")
        choice = str(record.get("question_type", "")).lower() != "open"
        parsed = parse_options(options) if options and options != "[]" and choice else []
        item.info["options"] = parsed
        answer = _need(record, "answer")
        item.gold = gold_letter(answer, len(parsed)) if parsed else answer
        item.images = _values(record.get("image")) + [
            record[f"image_{n}"] for n in range(1, 8) if record.get(f"image_{n}") is not None
        ]
        if item.category is None and "_" in item.id:
            item.category = "_".join(item.id.split("_")[1:-1]) or None

    def prompt(self, item: Item) -> str:
        if self.prompt_override:
            return super().prompt(item)
        if item.info["options"]:
            return _CHOICE.format(question=item.question, options=lettered(item.info["options"]))
        return _OPEN.format(question=item.question)

    def prompt_fields(self, item: Item) -> dict[str, Any]:
        return {"options": lettered(item.info["options"])}

    def extract(self, reply: Reply, item: Item) -> str | None:
        text = self.answer_text(reply)
        return extract_choice(text, item.info["options"]) if item.info["options"] else text

    def score(self, prediction: Any, item: Item) -> float:
        if item.info["options"]:
            return float(prediction is not None and prediction == item.gold)
        golds = item.gold if isinstance(item.gold, list) else parse_gold_list(item.gold)
        return float(mmmu_open_match(prediction or "", golds))


def parse_gold_list(answer: Any) -> list[str]:
    """An open answer's gold: MMMU stores several as a list written as text (``"['1.5', '3/2']"``)."""
    text = str(answer).strip()
    if text.startswith("["):
        try:
            values = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return [text]
        if isinstance(values, list):
            return [str(value) for value in values]
    return [text]
