"""MMStar: multiple choice whose options are written inside the question (``Options: A: …, B: …``)."""

from __future__ import annotations

from typing import Any

from glmv.eval.task import Item, _need, _values
from glmv.eval.tasks.choice import ChoiceTask, gold_letter, parse_options

__all__ = ["MMStar"]


class MMStar(ChoiceTask):
    """MMStar: ``question`` (options included), ``answer`` (letter), ``image``, ``category``; an ``options``
    column is used when present, else the letters A–D are the options."""

    name = "mmstar"
    title = "MMStar"
    required = ("question", "answer", "image")
    prompt_template = "{question}\nAnswer with the option's letter from the given choices directly."

    def fill(self, item: Item, record: dict[str, Any]) -> None:
        item.question = str(_need(record, "question"))
        options = parse_options(record["options"]) if record.get("options") else [""] * 4
        item.info["options"] = options
        item.gold = gold_letter(_need(record, "answer"), len(options))
        item.images = _values(record.get("image"))
