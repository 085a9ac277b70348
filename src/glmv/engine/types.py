"""The engine contract: the request, the streamed chunk and the ``Engine`` protocol.

An engine is one generator method, :meth:`Engine.generate`, that yields :class:`Chunk` objects shaped like
OpenAI streaming deltas; :meth:`Engine.chat` collects them into a :class:`~glmv.output.Reply`. Every
application (CLI, server, reward judge, eval, agent) reaches a model only through this contract.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol, runtime_checkable

from glmv.errors import RequestError
from glmv.output.reply import Reply, ToolCallDelta, Usage

__all__ = [
    "ChatRequest",
    "Chunk",
    "Engine",
    "EngineBase",
    "FinishReason",
    "collect",
]

FinishReason = Literal["stop", "length", "tool_calls", "cancelled"]


@dataclass(frozen=True)
class ChatRequest:
    """One chat request in the OpenAI chat format.

    ``messages`` are OpenAI chat messages (see :mod:`glmv.messages`); ``tools`` are OpenAI tool definitions.
    ``enable_thinking=None`` means the family's default; ``thinking_budget=None`` means no budget.
    ``max_tokens=None`` means the family's default. ``n`` replies are generated for one request.
    """

    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    repetition_penalty: float | None = None
    stop: list[str] | None = None
    seed: int | None = None
    n: int = 1
    enable_thinking: bool | None = None
    thinking_budget: int | None = None
    model: str | None = None

    def __post_init__(self) -> None:
        if not self.messages:
            raise RequestError("A chat request needs at least one message.", field="messages")
        if self.n < 1:
            raise RequestError(f"n must be at least 1, got {self.n}.", field="n")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise RequestError(f"max_tokens must be at least 1, got {self.max_tokens}.", field="max_tokens")
        if self.thinking_budget is not None and self.thinking_budget < 0:
            raise RequestError(
                f"thinking_budget must be 0 or more, got {self.thinking_budget}.", field="thinking_budget"
            )
        if self.temperature is not None and self.temperature < 0:
            raise RequestError(f"temperature must be 0 or more, got {self.temperature}.", field="temperature")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise RequestError(f"top_p must be in (0, 1], got {self.top_p}.", field="top_p")
        if isinstance(self.stop, str):
            object.__setattr__(self, "stop", [self.stop])

    def with_(self, **changes: Any) -> ChatRequest:
        """A copy with some fields changed."""
        return replace(self, **changes)


@dataclass(frozen=True)
class Chunk:
    """One streamed delta of choice ``index``.

    Text chunks carry ``reasoning`` and/or ``content`` and/or ``tool_calls`` fragments; the last chunk of a
    choice carries ``finish_reason`` and that choice's ``usage`` (prompt tokens counted once per request).
    """

    index: int = 0
    reasoning: str = ""
    content: str = ""
    tool_calls: tuple[ToolCallDelta, ...] = ()
    finish_reason: FinishReason | None = None
    usage: Usage | None = None
    raw: str = field(default="", repr=False)


@runtime_checkable
class Engine(Protocol):
    """A GLM-V model behind one generator method."""

    def generate(self, request: ChatRequest) -> Iterator[Chunk]:
        """Stream the reply (or ``request.n`` replies, told apart by ``Chunk.index``)."""
        ...

    def chat(self, request: ChatRequest) -> Reply:
        """The whole reply of choice 0, parsed."""
        ...


def collect(
    chunks: Iterable[Chunk], tools: list[dict[str, Any]] | None = None, family: Any = None
) -> list[Reply]:
    """Collect a chunk stream into one parsed :class:`Reply` per choice, in choice order.

    The text is re-parsed from the raw deltas when engines provide them, so the result equals
    :func:`glmv.output.parse_reply` of the whole text.
    """
    from glmv.output import parse_reply

    raw: dict[int, list[str]] = {}
    parts: dict[int, dict[str, Any]] = {}
    for chunk in chunks:
        state = parts.setdefault(chunk.index, {"reasoning": [], "content": [], "finish": None, "usage": None})
        raw.setdefault(chunk.index, []).append(chunk.raw)
        state["reasoning"].append(chunk.reasoning)
        state["content"].append(chunk.content)
        if chunk.finish_reason is not None:
            state["finish"] = chunk.finish_reason
        if chunk.usage is not None:
            state["usage"] = chunk.usage
    replies = []
    for index in sorted(parts):
        state = parts[index]
        text = "".join(raw[index])
        if text:
            reply = parse_reply(text, family=family, tools=tools)
        else:
            reply = Reply(reasoning="".join(state["reasoning"]), content="".join(state["content"]))
        reply.finish_reason = state["finish"]
        reply.usage = state["usage"]
        replies.append(reply)
    return replies


class EngineBase:
    """Gives an engine :meth:`chat` from its :meth:`generate`; ``family`` (when set) guides parsing."""

    family: Any = None

    def generate(self, request: ChatRequest) -> Iterator[Chunk]:  # pragma: no cover - overridden
        raise NotImplementedError

    def chat(self, request: ChatRequest) -> Reply:
        return collect(self.generate(request), tools=request.tools, family=self.family)[0]
