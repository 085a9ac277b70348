"""Finding the action text in a whole model reply, for every dialect.

GLM-V puts the action in one ``<|begin_of_box|>…<|end_of_box|>`` span after its reasoning (GLM-4.1V inside
``<answer>``, GLM-4.5V / 4.6V without); a server with a reasoning parser may leave that text in the
reasoning (AGENT.md §6), so the reasoning is searched when the content holds no box. Without a box the
action is what follows the last ``Action:`` label (UI-TARS, a reply that lost its markers), cut before a
``Memory:`` / ``Memory_Updated:`` section. Reasoning, answer tags and boxes are found by :mod:`glmv.output`.
"""

from __future__ import annotations

from dataclasses import dataclass

from glmv.actions.errors import ActionParseError
from glmv.output.boxes import extract_boxed
from glmv.output.parser import parse_reply

__all__ = ["LocatedAction", "locate_action"]

_LABEL = "Action:"
_SECTIONS_AFTER = ("Memory_Updated:", "\nMemory:")


@dataclass(frozen=True)
class LocatedAction:
    """The action text of a reply, and whether it came out of a box span."""

    text: str
    boxed: bool


def _after_label(body: str) -> str | None:
    at = body.rfind(_LABEL)
    if at == -1:
        return None
    action = body[at + len(_LABEL) :]
    for section in _SECTIONS_AFTER:
        cut = action.find(section)
        if cut != -1:
            action = action[:cut]
    return action.strip() or None


def locate_action(reply: str) -> LocatedAction:
    """The action text of ``reply``: its one box span (content first, then reasoning), else the text after
    ``Action:``, else the whole visible text.

    Raises :class:`ActionParseError` for a reply with several box spans in one part (one step takes one
    action; which one was meant would be a guess) or with no text at all.
    """
    parsed = parse_reply(reply, keep_box_markers=True, fence_html=False)
    for part in (parsed.content, parsed.reasoning):
        boxes = extract_boxed(part)
        if len(boxes) > 1:
            raise ActionParseError(f"it holds {len(boxes)} boxed actions; one step takes one", reply)
        if boxes:
            return LocatedAction(boxes[0], boxed=True)
    body = parsed.content.strip() or parsed.reasoning.strip()
    if not body:
        raise ActionParseError("it holds no action text", reply)
    labelled = _after_label(body)
    return LocatedAction(labelled if labelled is not None else body, boxed=False)
