"""Reading one agent reply: the action (through :func:`glmv.actions.parse_action`) and the sections around it.

Per platform the official scripts read (AGENT.md §3.5, §4.4, §5.4): mobile ``Memory: … Reason: … Action: …``;
desktop a plain explanation with the action, then ``Memory:``; web ``Thought: … Action: … Memory_Updated: …``.
Both layouts are accepted (GLM-4.1V inside ``<answer>``, GLM-4.5V / 4.6V without), and so is a reply whose visible
text landed in the reasoning (a server's reasoning parser, AGENT.md §6). Box markers are removed by
:mod:`glmv.output`; nothing here reads them.
"""

from __future__ import annotations

from dataclasses import dataclass

from glmv.actions import Action, parse_action
from glmv.output import parse_reply
from glmv.output.boxes import extract_boxed, strip_box_markers

__all__ = ["DIALECT_OF_PLATFORM", "StepReply", "read_reply"]

DIALECT_OF_PLATFORM = {"mobile": "glm-mobile", "desktop": "glm-pc", "web": "glm-web"}
"""The action dialect GLM-V writes on each platform."""


@dataclass(frozen=True)
class StepReply:
    """One reply, read: the action, its text as written, the explanation, the memory and the visible text."""

    action: Action
    action_text: str
    thought: str
    memory: str
    visible: str
    reasoning: str


def _between(text: str, start: str, ends: tuple[str, ...]) -> str:
    at = text.find(start)
    if at == -1:
        return ""
    rest = text[at + len(start) :]
    cuts = [rest.find(end) for end in ends if rest.find(end) != -1]
    return (rest[: min(cuts)] if cuts else rest).strip()


def read_reply(raw: str, platform: str, *, dialect: str | None = None) -> StepReply:
    """Read ``raw`` (the model's whole text, markers kept) as a ``platform`` step.

    ``dialect`` overrides the platform's GLM dialect (``ui-tars`` for a UI-TARS model). Raises
    :class:`~glmv.actions.ActionParseError` when no single action parses.
    """
    action = parse_action(raw, dialect or DIALECT_OF_PLATFORM[platform])
    parsed = parse_reply(raw, keep_box_markers=True, fence_html=False)
    marked = parsed.content if parsed.content.strip() else parsed.reasoning
    boxes = extract_boxed(marked)
    visible = strip_box_markers(marked).strip()
    action_text = boxes[0] if boxes else action.raw.strip()
    if platform == "mobile":
        thought = _between(visible, "Reason:", ("Action:",))
        memory = _between(visible, "Memory:", ("Reason:",))
    elif platform == "web":
        thought = _between(visible, "Thought:", ("Action:", "Memory_Updated:"))
        memory = _between(visible, "Memory_Updated:", ())
    else:
        cut = visible.find("Memory:")
        explanation = visible[:cut].strip() if cut != -1 else visible
        thought = explanation.replace(action_text, "").strip() if action_text else explanation
        memory = visible[cut + len("Memory:") :].strip() if cut != -1 else "[]"
    return StepReply(action, action_text, thought, memory, visible, parsed.reasoning)
