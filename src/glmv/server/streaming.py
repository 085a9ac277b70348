"""OpenAI response bodies: streaming chunks (SSE) and the non-streaming completion.

The streaming sequence follows the OpenAI shape exactly: a ``role`` chunk per choice first; then
reasoning (sent as both ``reasoning_content`` and ``reasoning``), content and tool-call fragments (the first
fragment of a call carries ``index``, ``id``, ``type``, ``function.name`` and ``function.arguments``; later ones
``index`` and argument slices); one finish chunk per choice with an empty delta; a usage-only chunk with
``choices: []`` when ``stream_options.include_usage`` is set; then ``data: [DONE]``. Tool-call ids are made
here (``call_`` + 24 random hex digits), so they are unique whatever the engine does. With ``logprobs`` a
choice's chunks carry ``logprobs.content`` entries, one per generated token over the stream (a token whose text
the parser drops, such as ``<think>``, still has its entry, on a chunk with an empty delta if need be).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable
from typing import Any

from glmv.engine.types import Chunk
from glmv.output.reply import Reply, TokenLogprob, Usage

__all__ = [
    "DONE",
    "ChunkBuilder",
    "completion_body",
    "completion_id",
    "logprobs_body",
    "new_tool_call_id",
    "sse",
    "total_usage",
    "usage_body",
]

DONE = "data: [DONE]\n\n"


def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def new_tool_call_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


def sse(payload: dict[str, Any]) -> str:
    """One server-sent event carrying ``payload`` as compact JSON."""
    return f"data: {json.dumps(payload, ensure_ascii=False, separators=(',', ':'))}\n\n"


def total_usage(usages: Iterable[Usage | None]) -> Usage:
    """The usage of a whole request: the prompt once, the completions of every choice summed, and the timings
    the engine gave with the choice that ended last (the request's, all choices counted)."""
    known = [u for u in usages if u is not None]
    timed = [u.timings for u in known if u.timings is not None]
    return Usage(
        prompt_tokens=max((u.prompt_tokens for u in known), default=0),
        completion_tokens=sum(u.completion_tokens for u in known),
        timings=timed[-1] if timed else None,
    )


def usage_body(usage: Usage) -> dict[str, int]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }


class ChunkBuilder:
    """Turns engine :class:`Chunk` objects of one request into OpenAI ``chat.completion.chunk`` payloads."""

    def __init__(self, model: str, n: int, include_usage: bool) -> None:
        self.id = completion_id()
        self.created = int(time.time())
        self.model = model
        self.n = n
        self.include_usage = include_usage
        self.usages: dict[int, Usage] = {}
        self.finished: dict[int, str] = {}
        self._call_ids: dict[tuple[int, int], str] = {}

    def _payload(self, choices: list[dict[str, Any]], usage: dict[str, int] | None = None) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": choices,
        }
        if self.include_usage:
            payload["usage"] = usage
        return payload

    @staticmethod
    def _choice(
        index: int,
        delta: dict[str, Any],
        finish_reason: str | None = None,
        logprobs: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        return {"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish_reason}

    def start(self) -> list[dict[str, Any]]:
        """The first chunk of every choice: the assistant role."""
        return [self._payload([self._choice(i, {"role": "assistant", "content": ""})]) for i in range(self.n)]

    def delta(self, chunk: Chunk) -> list[dict[str, Any]]:
        """The payloads for one engine chunk: its text and tool fragments, then its finish when it has one."""
        out = []
        delta: dict[str, Any] = {}
        if chunk.reasoning:
            delta["reasoning_content"] = chunk.reasoning
            delta["reasoning"] = chunk.reasoning
        if chunk.content:
            delta["content"] = chunk.content
        calls = [self._tool_fragment(chunk.index, fragment) for fragment in chunk.tool_calls]
        if calls:
            delta["tool_calls"] = calls
        logprobs = logprobs_body(chunk.logprobs) if chunk.logprobs else None
        if delta or (logprobs and chunk.finish_reason is None):
            out.append(self._payload([self._choice(chunk.index, delta, logprobs=logprobs)]))
            logprobs = None
        if chunk.finish_reason is not None:
            if chunk.usage is not None:
                self.usages[chunk.index] = chunk.usage
            reason = "stop" if chunk.finish_reason == "cancelled" else chunk.finish_reason
            self.finished[chunk.index] = reason
            out.append(self._payload([self._choice(chunk.index, {}, reason, logprobs)]))
        return out

    def _tool_fragment(self, choice: int, fragment: Any) -> dict[str, Any]:
        key = (choice, fragment.index)
        if key not in self._call_ids:
            self._call_ids[key] = new_tool_call_id()
            return {
                "index": fragment.index,
                "id": self._call_ids[key],
                "type": "function",
                "function": {"name": fragment.name or "", "arguments": fragment.arguments},
            }
        return {"index": fragment.index, "function": {"arguments": fragment.arguments}}

    def end(self) -> list[dict[str, Any]]:
        """Finish chunks for choices the engine left open, then the usage chunk when asked for."""
        out = [self._payload([self._choice(i, {}, "stop")]) for i in range(self.n) if i not in self.finished]
        if self.include_usage:
            out.append(self._payload([], usage_body(total_usage(self.usages.values()))))
        return out


def logprobs_body(entries: Iterable[TokenLogprob]) -> dict[str, Any]:
    """The OpenAI ``logprobs`` object of a choice: ``{"content": [...], "refusal": None}``."""
    return {"content": [entry.to_openai() for entry in entries], "refusal": None}


def _message(reply: Reply) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": reply.content if reply.content or not reply.tool_calls else None,
        "reasoning_content": reply.reasoning or None,
        "reasoning": reply.reasoning or None,
    }
    if reply.tool_calls:
        message["tool_calls"] = [
            {
                "id": new_tool_call_id(),
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments_json()},
            }
            for call in reply.tool_calls
        ]
    return message


def completion_body(replies: list[Reply], model: str) -> dict[str, Any]:
    """The non-streaming ``chat.completion`` body of ``replies`` (one per choice)."""
    choices = []
    for index, reply in enumerate(replies):
        reason = reply.finish_reason or "stop"
        if reply.tool_calls and reason == "stop":
            reason = "tool_calls"
        logprobs = None if reply.logprobs is None else logprobs_body(reply.logprobs)
        choices.append(
            {"index": index, "message": _message(reply), "logprobs": logprobs, "finish_reason": reason}
        )
    return {
        "id": completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
        "usage": usage_body(total_usage(reply.usage for reply in replies)),
    }
