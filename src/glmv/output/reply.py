"""The parsed form of one GLM reply: reasoning, readable content, the boxed answer, boxes, points, tool calls.

:class:`Reply` is what :func:`glmv.output.parse_reply` returns, what :class:`glmv.output.StreamParser`
accumulates and what :meth:`glmv.engine.Engine.chat` returns (then with ``finish_reason`` and ``usage``).
Coordinates are in thousandths of the original image (0–1000), as GLM writes them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "Box",
    "Delta",
    "Point",
    "Reply",
    "RequestTimings",
    "TokenLogprob",
    "ToolCall",
    "ToolCallDelta",
    "Usage",
]


def _scale(value: float, size: int) -> float:
    return min(max(value, 0.0), 1000.0) / 1000.0 * size


@dataclass(frozen=True)
class Box:
    """A box ``[x1, y1, x2, y2]`` in thousandths of the image, top-left origin."""

    x1: float
    y1: float
    x2: float
    y2: float
    label: str | None = None

    def to_pixels(self, width: int, height: int) -> tuple[float, float, float, float]:
        """The box in pixels of an image ``width`` × ``height`` (values clipped to 0–1000 first)."""
        return (
            _scale(self.x1, width),
            _scale(self.y1, height),
            _scale(self.x2, width),
            _scale(self.y2, height),
        )

    def as_list(self) -> list[float]:
        return [self.x1, self.y1, self.x2, self.y2]


@dataclass(frozen=True)
class Point:
    """A point ``[x, y]`` in thousandths of the image."""

    x: float
    y: float
    label: str | None = None

    def to_pixels(self, width: int, height: int) -> tuple[float, float]:
        return (_scale(self.x, width), _scale(self.y, height))

    def as_list(self) -> list[float]:
        return [self.x, self.y]


@dataclass(frozen=True)
class ToolCall:
    """One function call the model made; ``arguments`` is a dict typed by the tool's JSON schema."""

    id: str
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)

    def arguments_json(self) -> str:
        """The arguments as the JSON string the OpenAI API carries."""
        return json.dumps(self.arguments, ensure_ascii=False)


@dataclass(frozen=True)
class RequestTimings:
    """How long one request spent where, in seconds (None where the engine does not know).

    ``queue_s`` waiting for a batch slot, ``prefill_s`` computing its prompt, ``first_token_s`` from the call
    to its first token, ``decode_tokens_per_s`` its choices' tokens after the first over the time they took.
    """

    queue_s: float | None = None
    prefill_s: float | None = None
    first_token_s: float | None = None
    decode_tokens_per_s: float | None = None

    def to_dict(self) -> dict[str, float]:
        """The known timings by name."""
        return {name: value for name, value in asdict(self).items() if value is not None}


@dataclass(frozen=True)
class Usage:
    """Token counts of one request; ``completion_tokens`` includes reasoning tokens.

    ``timings`` are the engine's :class:`RequestTimings` where it measures them (the local engine does); they
    take no part in comparing two usages.
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    timings: RequestTimings | None = field(default=None, compare=False)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class TokenLogprob:
    """One generated token with its log-probability and, when asked for, the most likely tokens at its place.

    ``token`` is the token's text (a token that holds part of a character shows U+FFFD there: ``bytes`` are its
    exact bytes); ``top`` holds ``(token, logprob, bytes)`` of the ``top_logprobs`` likeliest tokens, most
    likely first. Log-probabilities are of the model's raw distribution, before temperature, top-p, top-k or
    penalties.
    """

    token: str
    logprob: float
    bytes: tuple[int, ...] = ()
    top: tuple[tuple[str, float, tuple[int, ...]], ...] = ()

    def to_openai(self) -> dict[str, Any]:
        """The OpenAI ``logprobs.content`` entry of this token."""
        return {
            "token": self.token,
            "logprob": self.logprob,
            "bytes": list(self.bytes),
            "top_logprobs": [
                {"token": token, "logprob": logprob, "bytes": list(raw)} for token, logprob, raw in self.top
            ],
        }


@dataclass
class Reply:
    """One reply, parsed.

    ``reasoning`` is the thinking text; ``content`` is what a user should read (no think, answer or box
    markers; tool-call markup removed); ``answer`` is the text of the boxed answer when there is one;
    ``raw`` is the text as the model wrote it. ``logprobs`` holds one :class:`TokenLogprob` per generated token
    when the request asked for them (``ChatRequest.logprobs``), else None.
    """

    reasoning: str = ""
    content: str = ""
    answer: str | None = None
    boxes: list[Box] = field(default_factory=list)
    points: list[Point] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str | None = None
    usage: Usage | None = None
    raw: str = ""
    logprobs: list[TokenLogprob] | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the shape ``glmv chat --json`` prints)."""
        return {
            "reasoning": self.reasoning,
            "content": self.content,
            "answer": self.answer,
            "boxes": [box.as_list() for box in self.boxes],
            "points": [point.as_list() for point in self.points],
            "tool_calls": [
                {"id": call.id, "name": call.name, "arguments": call.arguments} for call in self.tool_calls
            ],
            "finish_reason": self.finish_reason,
            "usage": None if self.usage is None else _usage_dict(self.usage),
        }


def _usage_dict(usage: Usage) -> dict[str, Any]:
    out: dict[str, Any] = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }
    if usage.timings is not None:
        out["timings"] = usage.timings.to_dict()
    return out


@dataclass(frozen=True)
class ToolCallDelta:
    """A fragment of a streamed tool call, in the OpenAI streaming shape.

    The first fragment of call ``index`` carries ``id`` and ``name`` (and ``arguments=""``); later fragments
    carry only argument text. Joined in order, the ``arguments`` fragments of one call equal
    ``ToolCall.arguments_json()`` of the finished call.
    """

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(frozen=True)
class Delta:
    """What one :meth:`StreamParser.feed` call adds: new reasoning text, new content text, tool-call fragments."""

    reasoning: str = ""
    content: str = ""
    tool_calls: tuple[ToolCallDelta, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.reasoning or self.content or self.tool_calls)
