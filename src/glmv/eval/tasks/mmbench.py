"""MMBench with its circular evaluation: each question is asked once per rotation of its options, and counts as
correct only when every rotation is answered correctly (the official ``CircularEval``)."""

from __future__ import annotations

from typing import Any

from glmv.eval.task import Item
from glmv.eval.tasks.choice import LETTERS, ChoiceTask

__all__ = ["MMBench"]


class MMBench(ChoiceTask):
    """MMBench (dev): ``question``, options in ``A`` … ``E`` columns (or ``options``), ``answer`` (letter),
    ``hint``, ``category``, ``image``. ``circular=False`` asks each question once."""

    name = "mmbench"
    title = "MMBench (circular)"
    metric = "accuracy, circular (all rotations right)"
    option_names = ("circular",)
    required = ("question", "answer", "image")
    prompt_template = (
        "{hint}{question}\n{options}\nAnswer with the option's letter from the given choices directly."
    )

    def items(self, record: dict[str, Any], index: int) -> list[Item]:
        (base,) = super().items(record, index)
        circular = str(self.options.get("circular", True)).lower() not in ("false", "0", "no")
        if base.error or not circular:
            return [base]
        options = base.info["options"]
        gold = LETTERS.index(base.gold)
        count = len(options)
        rotations = []
        for shift in range(count):
            rotated = [options[(i + shift) % count] for i in range(count)]
            item = Item(
                id=f"{base.id}@{shift}",
                question=base.question,
                gold=LETTERS[(gold - shift) % count],
                category=base.category,
                group=base.id,
                images=base.images,
                info={**base.info, "options": rotated},
                fields=base.fields,
            )
            rotations.append(item)
        return rotations

    def prompt_fields(self, item: Item) -> dict[str, Any]:
        hint = str(item.fields.get("hint") or "").strip()
        if hint.lower() == "nan":
            hint = ""
        return {**super().prompt_fields(item), "hint": f"{hint}\n" if hint else ""}
