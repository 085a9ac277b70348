"""Video-MME: multiple choice over videos (without subtitles), with the benchmark's own prompt; the category
is the video's ``duration`` (short / medium / long)."""

from __future__ import annotations

from typing import Any

from glmv.eval.task import Item, _need
from glmv.eval.tasks.choice import ChoiceTask, gold_letter, parse_options

__all__ = ["VideoMME"]


def _strip_letter(option: str) -> str:
    text = option.strip()
    return text[2:].strip() if len(text) > 2 and text[0].isalpha() and text[1] in ".:)" else text


class VideoMME(ChoiceTask):
    """Video-MME: ``video`` (a path relative to the data file, or bytes), ``question``, ``options``
    (``["A. …", …]`` or plain texts), ``answer`` (letter), ``duration``."""

    name = "videomme"
    title = "Video-MME (w/o subs)"
    required = ("video", "question", "options", "answer")
    optional = ("id", "category", "duration", "domain")
    prompt_template = (
        "Select the best answer to the following multiple-choice question based on the video. Respond with only "
        "the letter (A, B, C, or D) of the correct option.\n{question}\n{options}\nThe best answer is:"
    )

    def fill(self, item: Item, record: dict[str, Any]) -> None:
        item.question = str(_need(record, "question"))
        options = [_strip_letter(option) for option in parse_options(record.get("options"))]
        item.info["options"] = options
        item.gold = gold_letter(_need(record, "answer"), len(options))
        item.videos = [_need(record, "video")]
        item.category = item.category or (str(record["duration"]) if record.get("duration") else None)
