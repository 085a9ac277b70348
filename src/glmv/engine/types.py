"""The engine contract: the request, the streamed chunk and the ``Engine`` protocol.

An engine is one generator method, :meth:`Engine.generate`, that yields :class:`Chunk` objects shaped like
OpenAI streaming deltas; :func:`chat` (any engine) and :meth:`EngineBase.chat` collect them into a
:class:`~glmv.output.Reply`. Every application (CLI, server, reward judge, eval, agent) reaches a model only
through this contract. glmv's engines stream through :class:`glmv.engine.pump.ChunkPump`, whose last chunk of
each choice carries the finished reply, so collecting never parses the text twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol, runtime_checkable

from glmv.engine.stops import check_stops
from glmv.errors import RequestError
from glmv.output.reply import Reply, TokenLogprob, ToolCallDelta, Usage

__all__ = [
    "ChatRequest",
    "Chunk",
    "Engine",
    "EngineBase",
    "FinishReason",
    "chat",
    "collect",
]

FinishReason = Literal["stop", "length", "tool_calls", "cancelled"]


@dataclass(frozen=True)
class ChatRequest:
    """One chat request in the OpenAI chat format.

    ``messages`` are OpenAI chat messages (see :mod:`glmv.messages`); ``tools`` are OpenAI tool definitions.
    ``enable_thinking=None`` means the family's default; ``thinking_budget=None`` means no budget.
    ``max_tokens=None`` means the family's default. ``n`` replies are generated for one request.
    ``keep_box_markers=True`` leaves ``<|begin_of_box|>``/``<|end_of_box|>`` in the streamed and collected
    ``content`` (what a server decoding with ``skip_special_tokens=False`` returns); boxes and the answer are
    parsed all the same. ``logprobs=True`` asks for each generated token's log-probability (``Chunk.logprobs``,
    ``Reply.logprobs``), with the ``top_logprobs`` (0–20) likeliest tokens at each place.
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
    keep_box_markers: bool = False
    logprobs: bool = False
    top_logprobs: int | None = None

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
        if self.seed is not None and not -(2**63) <= self.seed < 2**63:
            raise RequestError(f"seed must fit in a signed 64-bit integer, got {self.seed}.", field="seed")
        if self.top_logprobs is not None:
            if not 0 <= self.top_logprobs <= 20:
                raise RequestError(
                    f"top_logprobs must be between 0 and 20, got {self.top_logprobs}.", field="top_logprobs"
                )
            if not self.logprobs:
                raise RequestError("top_logprobs needs logprobs=True.", field="top_logprobs")
        object.__setattr__(self, "stop", check_stops(self.stop))

    def with_(self, **changes: Any) -> ChatRequest:
        """A copy with some fields changed."""
        return replace(self, **changes)


@dataclass(frozen=True)
class Chunk:
    """One streamed delta of choice ``index``.

    Text chunks carry ``reasoning`` and/or ``content`` and/or ``tool_calls`` fragments; the last chunk of a
    choice carries ``finish_reason`` and that choice's ``usage`` (prompt tokens counted once per request) and,
    from glmv's engines, ``reply``: the whole choice parsed. ``raw`` is the model's own text of the delta
    (empty where a server sent it already parsed). ``logprobs`` are those of the tokens generated since the
    choice's previous chunk (when the request asked for them); over a choice's chunks every token has one.
    """

    index: int = 0
    reasoning: str = ""
    content: str = ""
    tool_calls: tuple[ToolCallDelta, ...] = ()
    finish_reason: FinishReason | None = None
    usage: Usage | None = None
    raw: str = field(default="", repr=False)
    reply: Reply | None = field(default=None, repr=False, compare=False)
    logprobs: tuple[TokenLogprob, ...] = field(default=(), repr=False)


@runtime_checkable
class Engine(Protocol):
    """A GLM-V model behind one generator method; :func:`chat` collects it."""

    def generate(self, request: ChatRequest) -> Iterator[Chunk]:
        """Stream the reply (or ``request.n`` replies, told apart by ``Chunk.index``)."""
        ...


def collect(
    chunks: Iterable[Chunk], tools: list[dict[str, Any]] | None = None, family: Any = None
) -> list[Reply]:
    """Collect a chunk stream into one parsed :class:`Reply` per choice, in choice order.

    A choice whose last chunk carries its ``reply`` (glmv's engines) gives that reply. For an engine that sends
    none, the choice's raw deltas are parsed once with ``tools`` and ``family`` (so the result equals
    :func:`glmv.output.parse_reply` of the whole text), else its reasoning and content deltas are joined.
    """
    from glmv.output import parse_reply

    parts: dict[int, dict[str, Any]] = {}
    for chunk in chunks:
        state = parts.get(chunk.index)
        if state is None:
            state = parts[chunk.index] = {
                "raw": [],
                "reasoning": [],
                "content": [],
                "finish": None,
                "usage": None,
                "reply": None,
                "logprobs": [],
            }
        state["raw"].append(chunk.raw)
        state["reasoning"].append(chunk.reasoning)
        state["content"].append(chunk.content)
        if chunk.finish_reason is not None:
            state["finish"] = chunk.finish_reason
        if chunk.usage is not None:
            state["usage"] = chunk.usage
        if chunk.reply is not None:
            state["reply"] = chunk.reply
        state["logprobs"] += chunk.logprobs
    replies = []
    for index in sorted(parts):
        state = parts[index]
        reply = state["reply"]
        if reply is None:
            text = "".join(state["raw"])
            if text:
                reply = parse_reply(text, family=family, tools=tools)
            else:
                reply = Reply(reasoning="".join(state["reasoning"]), content="".join(state["content"]))
        reply.finish_reason = state["finish"]
        reply.usage = state["usage"]
        if state["logprobs"] and reply.logprobs is None:
            reply.logprobs = state["logprobs"]
        replies.append(reply)
    return replies


def chat(engine: Engine, request: ChatRequest) -> Reply:
    """The whole reply of choice 0 of ``request`` from any object with ``generate``, parsed once.

    The engine's ``family`` attribute (when it has one) guides parsing for engines whose chunks carry no reply.
    """
    chunks = engine.generate(request)
    try:
        return collect(chunks, tools=request.tools, family=getattr(engine, "family", None))[0]
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


class EngineBase:
    """Gives an engine :meth:`chat` (the module's :func:`chat`) from its :meth:`generate`; ``family`` (when set)
    guides parsing."""

    family: Any = None

    def generate(self, request: ChatRequest) -> Iterator[Chunk]:  # pragma: no cover - overridden
        raise NotImplementedError

    def chat(self, request: ChatRequest) -> Reply:
        """The whole reply of choice 0, parsed."""
        return chat(self, request)
