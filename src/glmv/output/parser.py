"""One-shot parsing: :func:`parse_reply` splits a whole GLM reply into a :class:`~glmv.output.Reply`.

It runs the same state machine as :class:`~glmv.output.StreamParser` over the whole text, so the one-shot
and streamed results are equal by construction; the rules are in :mod:`glmv.output.stream`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from glmv.families import Family
from glmv.output.reply import Reply
from glmv.output.stream import Start, StreamParser

__all__ = ["parse_reply"]


def parse_reply(
    text: str,
    family: Family | str | None = None,
    tools: Iterable[Mapping[str, Any]] | None = None,
    *,
    start: Start | None = None,
    bare_boxes: bool = False,
    fence_html: bool = True,
    keep_box_markers: bool = False,
) -> Reply:
    """Parse one GLM reply: reasoning, readable content, boxed answer, boxes, points and tool calls.

    ``family`` (a :class:`~glmv.families.Family` or its name) only sets how tag-less leading text is read:
    with a family it is content (GLM-V prompts never pre-open ``<think>``); without one (``start="auto"``)
    text before a ``</think>`` is reasoning and anything else is content. ``start="reasoning"`` says the
    prompt pre-opened ``<think>``. ``tools`` (OpenAI tool dicts) type argument values and restrict call names
    to the declared ones. ``bare_boxes=True`` reads ``[x1,y1,x2,y2]`` from content without box markers;
    ``fence_html=False`` leaves raw HTML answers unfenced; ``keep_box_markers=True`` leaves
    ``<|begin_of_box|>``/``<|end_of_box|>`` in ``content`` (as a server with ``skip_special_tokens=False``
    returns it) while still parsing the boxes and the answer.
    """
    parser = StreamParser(
        family,
        tools,
        start=start,
        bare_boxes=bare_boxes,
        fence_html=fence_html,
        keep_box_markers=keep_box_markers,
    )
    parser.feed(text)
    parser.close()
    return parser.reply
