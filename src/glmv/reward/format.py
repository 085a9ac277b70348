"""The reward contract on the *shape* of a GLM reply: the format gate and the answer part.

The official glmv_reward accepts only ``<think>…</think><answer>…</answer>`` (GLM-4.1V). GLM-4.5V / 4.6V write
no ``<answer>`` tags: ``<think>…</think><|begin_of_box|>…<|end_of_box|>``. :func:`check_format` takes an
``answer_format``:

- ``"auto"`` (default): either form is accepted;
- ``"answer_tags"``: only the 4.1V form (the official gate, byte for byte);
- ``"plain"``: only the 4.5V / 4.6V form.

Whatever the form, the answer part may hold at most one ``<|begin_of_box|>`` and one ``<|end_of_box|>``, no
LaTeX ``\\boxed{`` and no nested think / answer tags. This module validates the outer tags only; the boxes
inside are found by :mod:`glmv.output.boxes`.
"""

from __future__ import annotations

import re
from typing import Literal

__all__ = [
    "ANSWER_FORMATS",
    "AnswerFormat",
    "answer_part",
    "check_format",
    "think_split",
]

AnswerFormat = Literal["auto", "answer_tags", "plain"]
ANSWER_FORMATS: tuple[str, ...] = ("auto", "answer_tags", "plain")

_BOX_OPEN = "<|begin_of_box|>"
_BOX_CLOSE = "<|end_of_box|>"
_TAGS = ("<think>", "</think>", "<answer>", "</answer>")
_ANSWER_TAGS = ("<answer>", "</answer>")
# The official P2 pattern ``^<think>(.*?)</think>(.*)$`` (DOTALL, IGNORECASE): the reply opens with a think
# block, the reasoning runs to the first ``</think>`` and the rest is the answer side. It is applied as two
# searches, which give the same split without the lazy scan (~50x slower on long reasoning).
_THINK_OPEN = re.compile(r"<think>", re.IGNORECASE)
_THINK_CLOSE = re.compile(r"</think>", re.IGNORECASE)


_TAG_PATTERNS = {
    _TAGS: re.compile(r"</?(?:think|answer)>", re.IGNORECASE),
    _ANSWER_TAGS: re.compile(r"</?answer>", re.IGNORECASE),
    ("<think>", "</think>"): re.compile(r"</?think>", re.IGNORECASE),
}


def _has_any(text: str, tags: tuple[str, ...]) -> bool:
    return _TAG_PATTERNS[tags].search(text) is not None


def think_split(text: str) -> tuple[str, str] | None:
    """``(reasoning, rest)`` of a reply that opens with ``<think>…</think>``; None otherwise."""
    if _THINK_OPEN.match(text) is None:
        return None
    close = _THINK_CLOSE.search(text, 7)
    if close is None:
        return None
    return text[7 : close.start()], text[close.end() :]


def _tagged_answer(rest: str) -> str | None:
    """The inside of ``<answer>…</answer>`` when ``rest`` is exactly such a block (whitespace around it allowed)."""
    body = rest.strip()
    low = body.lower()
    if low.startswith("<answer>") and low.endswith("</answer>"):
        return body[len("<answer>") : len(body) - len("</answer>")]
    return None


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
    if _has_any(think, _TAGS):
        return None
    if tags == "strip":
        if _has_any(rest, ("<think>", "</think>")):
            return None
        return _TAG_PATTERNS[_ANSWER_TAGS].sub("", rest)
    inner = _tagged_answer(rest)
    if inner is not None:
        return None if _has_any(inner, _TAGS) else inner
    return None if _has_any(rest, _TAGS) else rest


def check_format(text: str, answer_format: AnswerFormat = "auto") -> str | None:
    """Why ``text`` fails the reward format gate, or None when it passes."""
    split = think_split(text)
    if split is None:
        return "format: the reply must start with <think>…</think>"
    think, rest = split
    inner = _tagged_answer(rest)
    if inner is None and _has_any(rest, _ANSWER_TAGS):
        return "format: <answer> tags must wrap the whole answer, once"
    if inner is None and answer_format == "answer_tags":
        return "format: the answer must be wrapped in <answer>…</answer> (answer_format: answer_tags)"
    if inner is not None and answer_format == "plain":
        return "format: <answer> tags are not expected (answer_format: plain)"
    answer = rest if inner is None else inner
    if _has_any(think, _TAGS) or _has_any(answer, _TAGS):
        return "format: nested <think>/<answer> tags"
    low = answer.lower()
    if low.count(_BOX_OPEN) > 1 or low.count(_BOX_CLOSE) > 1:
        return "format: more than one <|begin_of_box|>…<|end_of_box|> in the answer"
    if "\\boxed{" in low:
        return "format: LaTeX \\boxed{} is not accepted; box the answer with <|begin_of_box|>…<|end_of_box|>"
    return None
