"""One tolerant parser for every GLM output, one-shot and streaming.

``parse_reply(text)`` splits a reply into reasoning, readable content, the boxed answer, boxes, points and
tool calls; ``StreamParser`` does the same delta by delta and always agrees with ``parse_reply`` on the
whole text. ``render_reply`` is the inverse, the one GLM writer (``render_tool_call`` writes one call in the
glm45 or glm47 shape). ``draw_boxes`` draws parsed boxes on an image. Nobody else in glmv writes a regex for
``<think>`` or ``<|begin_of_box|>``.
"""

from glmv.output.draw import draw_boxes
from glmv.output.parser import parse_reply
from glmv.output.render import render_reply, render_tool_call
from glmv.output.reply import (
    Box,
    Delta,
    Point,
    Reply,
    RequestTimings,
    TokenLogprob,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from glmv.output.stream import StreamParser

__all__ = [
    "Box",
    "Delta",
    "Point",
    "Reply",
    "RequestTimings",
    "StreamParser",
    "TokenLogprob",
    "ToolCall",
    "ToolCallDelta",
    "Usage",
    "draw_boxes",
    "parse_reply",
    "render_reply",
    "render_tool_call",
]
