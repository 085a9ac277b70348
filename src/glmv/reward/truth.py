"""Ground truths: the forms the reward system accepts, and the reply a verifier reads for each.

A verifier reads the ground truth with the same extraction as the model's reply (the official contract), so
every accepted form is turned into a reply first. Three forms of text are accepted:

1. **a GLM reply** — ``<think>…</think><answer><|begin_of_box|>42<|end_of_box|></answer>`` (the official
   layout) or the GLM-4.5V / 4.6V form ``<think>…</think><|begin_of_box|>42<|end_of_box|>``: read as it is,
   after the format gate (a reply that fails the gate is an error);
2. **an answer with box markers and no reasoning** — ``<|begin_of_box|>42<|end_of_box|>``, ``\\boxed{42}``,
   ``The answer is \\boxed{42}.``, ``<answer><|begin_of_box|>42<|end_of_box|></answer>``: read as
   ``<think></think><answer>…</answer>``, so the one-box rule finds the answer (LaTeX ``\\boxed{}`` is allowed
   here: the format gate, which refuses it in model replies, does not apply to a ground truth without
   reasoning);
3. **the answer itself** — ``42``, ``Paris``, ``x^2+1``, ``<answer>42</answer>``, or a JSON number: read as
   ``<think></think><answer><|begin_of_box|>42<|end_of_box|></answer>``.

Everything else is an error the reward system counts, never a silent 0: a blank string, ``<think>`` /
``<answer>`` tags out of place, a reply that fails the gate, box markers that do not give exactly one box,
``true`` / ``NaN``. Values that are neither text nor numbers (a dict, a list) reach the verifier unchanged, as in
the official pipeline — a ``file_based`` function may read its own data — and are an error when it finds no
answer in them.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from glmv.output.boxes import BOX_BEGIN, BOX_END, count_box_markers, has_latex_boxed
from glmv.output.tags import has_tag, unwrap_answer
from glmv.reward.format import check_format

__all__ = ["GroundTruthForm", "ground_truth_reply"]

GroundTruthForm = Literal["reply", "boxed", "plain", "data"]


def ground_truth_reply(ground_truth: Any) -> tuple[Any, GroundTruthForm]:
    """``(reply, form)``: what the verifier reads for ``ground_truth`` and which accepted form it is (see the
    module docstring). Raises :class:`ValueError` saying why a ground truth cannot be read."""
    if isinstance(ground_truth, bool) or not isinstance(ground_truth, (str, int, float)):
        return ground_truth, "data"
    if not isinstance(ground_truth, str):
        if not math.isfinite(ground_truth):
            raise ValueError(f"the ground truth {ground_truth!r} is not a finite number")
        ground_truth = str(ground_truth)
    text = ground_truth.strip()
    if not text:
        raise ValueError('the ground truth is empty; give the answer (e.g. "42") or a full reply')
    if has_tag(text, "think"):
        problem = check_format(text, "auto")
        if problem is not None:
            raise ValueError(f"the ground truth fails the gate: {problem}")
        return text, "reply"
    inner = unwrap_answer(text)
    body = inner.strip() if inner is not None else text
    if has_tag(body, "answer"):
        raise ValueError(
            "the ground truth has <answer> tags that do not wrap the whole answer once; give the answer alone "
            "or a full reply starting with <think>"
        )
    if any(count_box_markers(body)) or has_latex_boxed(body):
        return f"<think></think><answer>{body}</answer>", "boxed"
    if not body:
        raise ValueError("the ground truth's <answer> is empty")
    return f"<think></think><answer>{BOX_BEGIN}{body}{BOX_END}</answer>", "plain"
