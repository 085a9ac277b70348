"""The shared shape of multiple-choice tasks (AI2D, MMBench, MMStar, MMMU's choice questions, Video-MME).

Options come as a list, a list written as text (``"['cat', 'dog']"``, as the MMMU dataset stores them), a JSON
list, or one column per letter (``A``, ``B``, … as in MMBench's TSVs); the gold is a letter or an option index.
The prediction is :func:`glmv.eval.scoring.extract_choice` of the answer: ``None`` (scored 0) when the reply
names no option — never a random guess.
"""

from __future__ import annotations

import ast
import json
import string
from typing import TYPE_CHECKING, Any

from glmv.eval.scoring import extract_choice
from glmv.eval.task import Item, Task, _need, _values

if TYPE_CHECKING:
    from glmv.output import Reply

__all__ = ["ChoiceTask", "gold_letter", "parse_options"]

LETTERS = string.ascii_uppercase


def parse_options(value: Any, record: dict[str, Any] | None = None) -> list[str]:
    """The option texts of a record, in letter order."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            try:
                value = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                raise ValueError(f"options are not a list: {text[:60]!r}") from None
    if value is None and record is not None:
        value = []
        for letter in LETTERS:
            option = record.get(letter)
            if option is None or (isinstance(option, str) and not option.strip()):
                break
            value.append(option)
    if isinstance(value, dict):
        value = [value[key] for key in sorted(value)]
    if not isinstance(value, (list, tuple)) or len(value) < 2:
        raise ValueError("fewer than two options")
    return [str(option) for option in value]


def gold_letter(answer: Any, count: int) -> str:
    """The gold answer as a letter: a letter as given, an index (``0`` or ``"0"``) as its letter."""
    text = str(answer).strip().strip("()").rstrip(".")
    if text.isdigit():
        index = int(text)
    elif len(text) == 1 and text.upper() in LETTERS:
        index = LETTERS.index(text.upper())
    else:
        raise ValueError(f"the answer {answer!r} is neither a letter nor an option index")
    if index >= count:
        raise ValueError(f"the answer {answer!r} names no option (there are {count})")
    return LETTERS[index]


def lettered(options: list[str]) -> str:
    return "\n".join(f"{LETTERS[index]}. {option}" for index, option in enumerate(options))


class ChoiceTask(Task):
    """Multiple choice: ``question``, ``options`` (or ``A``, ``B``, … columns), ``answer`` (letter or index)."""

    metric = "accuracy (option letter, no random fallback)"
    required = ("question", "answer")
    optional = ("id", "category", "image", "options", "hint")
    prompt_template = (
        "{question}\n{options}\nAnswer with the option's letter from the given choices directly."
    )

    def fill(self, item: Item, record: dict[str, Any]) -> None:
        item.question = str(_need(record, "question"))
        options = parse_options(record.get("options"), record)
        item.info["options"] = options
        item.gold = gold_letter(_need(record, "answer"), len(options))
        item.images = _values(record.get("image"))

    def prompt_fields(self, item: Item) -> dict[str, Any]:
        return {"options": lettered(item.info["options"])}

    def extract(self, reply: Reply, item: Item) -> str | None:
        return extract_choice(self.answer_text(reply), item.info["options"])

    def score(self, prediction: Any, item: Item) -> float:
        return float(prediction is not None and prediction == item.gold)
