"""``skip_special_tokens: false``: replies whose content keeps the ``<|begin_of_box|>`` / ``<|end_of_box|>`` markers.

vLLM and SGLang decode with ``skip_special_tokens=False`` when a request asks for it, so the box markers stay in
``content`` and a client can parse boxes itself (glmv's :class:`~glmv.engine.RemoteEngine` does). Engines
parse their output into clean content; here the server re-parses each choice's raw model text
(:attr:`Chunk.raw`) with ``keep_box_markers=True`` and the same family and tools, so reasoning and tool calls
come out as the engine's and only the markers differ. Chunks of an engine that sends no raw text pass through
unchanged (there is nothing to re-parse).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from glmv.engine.types import Chunk
from glmv.output import Delta, Reply, StreamParser, parse_reply

__all__ = ["MarkerKeeper", "keep_markers"]


class MarkerKeeper:
    """Rewrites one request's streamed chunks so that their content keeps the box markers."""

    def __init__(self, family: Any, tools: list[dict[str, Any]] | None) -> None:
        self._family = family
        self._tools = tools
        self._parsers: dict[int, StreamParser] = {}

    def chunk(self, chunk: Chunk) -> Chunk:
        """``chunk`` with its reasoning, content and tool-call fragments re-parsed from its raw text."""
        parser = self._parsers.get(chunk.index)
        if parser is None:
            if not chunk.raw:
                return chunk  # this choice has no raw text (so far): the engine's own parse stands
            parser = StreamParser(self._family, self._tools, keep_box_markers=True)
            self._parsers[chunk.index] = parser
        delta = parser.feed(chunk.raw) if chunk.raw else Delta()
        if chunk.finish_reason is not None:
            tail = parser.close()
            delta = Delta(
                reasoning=delta.reasoning + tail.reasoning,
                content=delta.content + tail.content,
                tool_calls=delta.tool_calls + tail.tool_calls,
            )
        return replace(chunk, reasoning=delta.reasoning, content=delta.content, tool_calls=delta.tool_calls)


def keep_markers(replies: list[Reply], family: Any, tools: list[dict[str, Any]] | None) -> list[Reply]:
    """``replies`` (collected from raw text) with each content re-read keeping the box markers."""
    for reply in replies:
        if reply.raw:
            reply.content = parse_reply(reply.raw, family, tools, keep_box_markers=True).content
    return replies
