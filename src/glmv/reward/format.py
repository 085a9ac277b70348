"""The reward contract on the *shape* of a GLM reply: the format gate and the answer part.

The official glmv_reward accepts only ``<think>…</think><answer>…</answer>`` (GLM-4.1V). GLM-4.5V / 4.6V write
no ``<answer>`` tags: ``<think>…</think><|begin_of_box|>…<|end_of_box|>``. :func:`check_format` takes an
``answer_format``:

- ``"auto"`` (default): either form is accepted;
- ``"answer_tags"``: only the 4.1V form (the official gate, byte for byte);
- ``"plain"``: only the 4.5V / 4.6V form.

Whatever the form, the answer part may hold at most one ``<|begin_of_box|>`` and one ``<|end_of_box|>``, no
LaTeX ``\\boxed{`` and no nested think / answer tags. This module validates the outer tags only; the boxes
inside are found by :mod:`glmv.output.boxes`, the tags by :mod:`glmv.output.tags`.
"""

from __future__ import annotations

from typing import Literal

from glmv.output.boxes import count_box_markers, has_latex_boxed
from glmv.output.tags import has_tag, strip_answer_tags, think_split, unwrap_answer

__all__ = [
    "ANSWER_FORMATS",
    "AnswerFormat",
    "answer_part",
    "check_format",
    "think_split",
]

AnswerFormat = Literal["auto", "answer_tags", "plain"]
ANSWER_FORMATS: tuple[str, ...] = ("auto", "answer_tags", "plain")


def answer_part(text: str, *, tags: Literal["strict", "strip"] = "strict") -> str | None:
    """The answer side of a reply, or None when the reply has no valid think block.

    ``tags="strict"`` (math family, vqa, counting): the part after ``</think>`` is either one
    ``<answer>…</answer>`` block (its inside is returned) or free text without answer tags (4.5V form); stray
    or nested tags give None. ``tags="strip"`` (ocr, mmsi, multi_image, geoquest): answer tags anywhere after
    ``</think>`` are dropped, as the official pattern P2 tolerates them.
    """
    split = think_split(text)
    if split is None:
        return None
    think, rest = split
    if has_tag(think):
        return None
    if tags == "strip":
        return None if has_tag(rest, "think") else strip_answer_tags(rest)
    inner = unwrap_answer(rest)
    if inner is not None:
        return None if has_tag(inner) else inner
    return None if has_tag(rest) else rest


def check_format(text: str, answer_format: AnswerFormat = "auto") -> str | None:
    """Why ``text`` fails the reward format gate, or None when it passes."""
    split = think_split(text)
    if split is None:
        return "format: the reply must start with <think>…</think>"
    think, rest = split
    inner = unwrap_answer(rest)
    if inner is None and has_tag(rest, "answer"):
        return "format: <answer> tags must wrap the whole answer, once"
    if inner is None and answer_format == "answer_tags":
        return "format: the answer must be wrapped in <answer>…</answer> (answer_format: answer_tags)"
    if inner is not None and answer_format == "plain":
        return "format: <answer> tags are not expected (answer_format: plain)"
    answer = rest if inner is None else inner
    if has_tag(think) or has_tag(answer):
        return "format: nested <think>/<answer> tags"
    if max(count_box_markers(answer)) > 1:
        return "format: more than one <|begin_of_box|>…<|end_of_box|> in the answer"
    if has_latex_boxed(answer):
        return "format: LaTeX \\boxed{} is not accepted; box the answer with <|begin_of_box|>…<|end_of_box|>"
    return None
