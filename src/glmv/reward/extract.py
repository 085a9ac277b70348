"""Answer extraction shared by the verifiers: the one-box rule.

Boxes are found by :mod:`glmv.output.boxes` (the one box parser of glmv). The rule is the official one: an
answer counts only when its answer part holds exactly **one** box (LaTeX ``\\boxed{}`` first, then
``<|begin_of_box|>…<|end_of_box|>``, outermost spans). With ``strict=False`` an answer part without any box is
used whole; several boxes never count (choosing one would reward hedging).

A config's ``answer_extraction_regex`` (chart, general, long_doc) is compiled by :func:`answer_regex`.
"""

from __future__ import annotations

import re

from glmv.errors import ConfigError
from glmv.output.boxes import extract_boxed, extract_latex_boxed, strip_box_markers
from glmv.reward.format import answer_part

__all__ = ["answer_regex", "boxed_answer", "extract_boxed_answer"]


def answer_regex(pattern: str, *, where: str) -> re.Pattern[str]:
    """``answer_extraction_regex`` compiled (dot matches newlines, case ignored); ``where`` names the config."""
    try:
        return re.compile(pattern, re.DOTALL | re.IGNORECASE)
    except re.error as exc:
        raise ConfigError(f"{where}.answer_extraction_regex: not a valid regular expression: {exc}") from exc


def boxed_answer(part: str, *, strict: bool = True) -> str | None:
    """The single boxed answer inside ``part`` (see the module docstring), or None."""
    boxes = extract_latex_boxed(part) or extract_boxed(part)
    if len(boxes) == 1:
        return boxes[0].strip()
    if not boxes and not strict:
        return strip_box_markers(part).strip()
    return None


def extract_boxed_answer(response: str, *, strict: bool = True, tags: str = "strict") -> str | None:
    """Answer part of ``response`` (think block required), then the one-box rule."""
    part = answer_part(response, tags="strip" if tags == "strip" else "strict")
    if part is None:
        return None
    return boxed_answer(part, strict=strict)
