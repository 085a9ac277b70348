"""MathVista (testmini): free-form and multiple-choice math over images.

Normalisation follows MathVista's ``calculate_score.normalize_extracted_answer``: a choice question maps a
named letter to its option text, else takes the option nearest to the reply by Levenshtein distance
(deterministic, as the official code); an ``integer`` answer compares as an int; a ``float`` answer rounded to
the item's ``precision``. What still differs is checked with the reward system's math equivalence
(``0.5`` = ``\\frac{1}{2}``). The official LLM answer extraction is replaced by GLM's boxed answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rapidfuzz.distance import Levenshtein

from glmv.eval.scoring import extract_choice, math_equal
from glmv.eval.task import Item, Task, _need, _values
from glmv.eval.tasks.choice import LETTERS, parse_options

if TYPE_CHECKING:
    from glmv.output import Reply

__all__ = ["MathVista"]


class MathVista(Task):
    """MathVista: ``question`` (or the official ``query`` prompt), ``answer``, ``image``, ``question_type``
    (``multi_choice`` / ``free_form``), ``answer_type`` (``integer`` / ``float`` / ``text`` / ``list``),
    ``choices``, ``precision``."""

    name = "mathvista"
    title = "MathVista (testmini)"
    metric = "accuracy (normalised answer, math equivalence)"
    required = ("question", "answer", "image")
    optional = ("id", "category", "query", "question_type", "answer_type", "choices", "precision")

    def fill(self, item: Item, record: dict[str, Any]) -> None:
        item.question = str(record.get("query") or _need(record, "question"))
        item.gold = str(_need(record, "answer")).strip()
        item.images = _values(record.get("image"))
        choices = record.get("choices")
        multi = str(record.get("question_type", "")).lower() == "multi_choice" or bool(choices)
        item.info["choices"] = parse_options(choices) if multi and choices is not None else []
        item.info["answer_type"] = str(record.get("answer_type") or "text").lower()
        precision = record.get("precision")
        item.info["precision"] = int(float(precision)) if precision not in (None, "") else None
        if item.category is None:
            item.category = "multi_choice" if item.info["choices"] else "free_form"

    def extract(self, reply: Reply, item: Item) -> str:
        text = self.answer_text(reply)
        choices = item.info["choices"]
        if choices:
            letter = extract_choice(text, choices)
            if letter is not None:
                return choices[LETTERS.index(letter)]
            return min(choices, key=lambda choice: Levenshtein.distance(text, choice))
        kind = item.info["answer_type"]
        try:
            if kind == "integer":
                return str(int(float(text)))
            if kind == "float" and item.info["precision"] is not None:
                return str(round(float(text), item.info["precision"]))
        except ValueError:
            return text
        return text

    def score(self, prediction: Any, item: Item) -> float:
        if prediction == item.gold:
            return 1.0
        if item.info["choices"]:
            return 0.0
        return float(math_equal(str(prediction), item.gold))
