"""A scripted fake engine for tests of applications that do not need a model.

``ScriptedEngine`` replays raw GLM text queued with :meth:`ScriptedEngine.enqueue` (or a
:class:`~glmv.output.Reply`, written as GLM text by :func:`glmv.output.render_reply`) and streams it through the
:class:`~glmv.engine.pump.ChunkPump` in small token-sized deltas, exactly as a real engine streams a model's
output: reasoning, content and tool-call fragments, then a finish chunk with ``finish_reason``, ``usage`` and
the parsed reply. Every request lands in
:attr:`ScriptedEngine.history`. It honours ``n``, ``max_tokens`` (finish reason ``length``) and ``stop``, and
``logprobs``: a script is certain of every piece it replays, so each has log-probability 0 (and is its own only
top alternative).

It is registered as the ``scripted`` engine: ``open_engine("scripted")``.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Iterator
from typing import Any

from glmv.engine.batching import End, Text
from glmv.engine.open import register_engine
from glmv.engine.pump import ChunkPump
from glmv.engine.stops import StopMatcher
from glmv.engine.types import ChatRequest, Chunk, EngineBase
from glmv.errors import EngineError
from glmv.families import Family, get_family
from glmv.output.render import render_reply
from glmv.output.reply import Reply, TokenLogprob

__all__ = ["ScriptedEngine", "split_tokens"]

# Token-like pieces: a special token whole, else a few characters (with leading spaces) at a time.
_TOKEN = re.compile(r"<\|[^|<>]{1,40}\|>|</?[a-z_]{2,20}>|\s+|[^\s<]{1,4}|<", re.DOTALL)


def split_tokens(text: str) -> list[str]:
    """Cut ``text`` into token-sized pieces that join back to ``text`` (special tokens stay whole)."""
    return _TOKEN.findall(text)


def _reply_text(reply: Reply, family: Family) -> str:
    """The raw GLM text a model would write for ``reply``: its ``raw`` when it has one, else rendered."""
    if reply.raw:
        return reply.raw
    return render_reply(
        reasoning=reply.reasoning, content=reply.content, tool_calls=reply.tool_calls, family=family
    )


def _prompt_tokens(request: ChatRequest) -> int:
    count = 0
    for message in request.messages:
        content = message.get("content")
        parts = [content] if isinstance(content, str) else content or []
        for part in parts:
            if isinstance(part, str):
                count += len(split_tokens(part))
            elif isinstance(part, dict) and part.get("type") == "text":
                count += len(split_tokens(part.get("text", "")))
            else:
                count += 64  # an image or video placeholder
        count += 2  # the role token and the newline after it
    return count + 2  # [gMASK]<sop>


class ScriptedEngine(EngineBase):
    """Replays queued GLM text through the real streaming parser.

    ``replies`` are queued at start; when the queue is empty ``default`` is replayed (or an
    :class:`~glmv.errors.EngineError` is raised when there is none). ``delay`` seconds pass before each
    token, which lets tests hold a generation open. ``cancelled`` counts generations closed before their end.
    """

    def __init__(
        self,
        replies: tuple[str | Reply, ...] | list[str | Reply] = (),
        *,
        family: str | Family = "glm-4.6v",
        default: str | Reply | None = None,
        delay: float = 0.0,
        model: str = "scripted",
    ) -> None:
        self.family = get_family(family)
        self.default = default
        self.delay = delay
        self.model = model
        self.history: list[ChatRequest] = []
        self.cancelled = 0
        self.completed = 0
        self._queue: deque[str | Reply] = deque(replies)
        self._lock = threading.Lock()

    def enqueue(self, *replies: str | Reply) -> ScriptedEngine:
        """Queue raw GLM text (``"<think>…</think>Paris"``) or :class:`Reply` objects, in order."""
        with self._lock:
            self._queue.extend(replies)
        return self

    @property
    def pending(self) -> int:
        """How many queued replies are left."""
        return len(self._queue)

    def _next_text(self) -> str:
        with self._lock:
            if self._queue:
                item = self._queue.popleft()
            elif self.default is not None:
                item = self.default
            else:
                raise EngineError("ScriptedEngine has no reply left: enqueue() one before each request.")
        return item if isinstance(item, str) else _reply_text(item, self.family)

    def generate(self, request: ChatRequest) -> Iterator[Chunk]:
        with self._lock:
            self.history.append(request)
        texts = [self._next_text() for _ in range(request.n)]
        pump = ChunkPump(
            self.family,
            request.tools,
            keep_box_markers=request.keep_box_markers,
            prompt_tokens=_prompt_tokens(request),
        )
        finished = False
        try:
            for index, text in enumerate(texts):
                yield from pump.run(self._events(index, text, request))
            finished = True
        finally:
            with self._lock:
                if finished:
                    self.completed += 1
                else:
                    self.cancelled += 1

    def _events(self, index: int, text: str, request: ChatRequest) -> Iterator[Text | End]:
        """Choice ``index`` replaying ``text`` token by token, cut by ``max_tokens`` and ``stop``, then its end."""
        tokens = split_tokens(text)
        finish = "stop"
        if request.max_tokens is not None and len(tokens) > request.max_tokens:
            tokens, finish = tokens[: request.max_tokens], "length"
        stops = StopMatcher(request.stop)
        sent: list[str] = []
        unsent: list[TokenLogprob] = []
        for token in tokens:
            if self.delay:
                time.sleep(self.delay)
            if request.logprobs:
                unsent.append(_certain(token, request.top_logprobs or 0))
            text, hit = stops.feed(token)
            if hit:
                finish = "stop"
            if text:
                sent.append(text)
                yield Text(index, text, tuple(unsent))
                unsent = []
            if hit:
                break
        else:
            if held := stops.flush():
                sent.append(held)
                yield Text(index, held, tuple(unsent))
                unsent = []
        yield End(index, finish, len(split_tokens("".join(sent))), tuple(unsent))


def _certain(token: str, top: int) -> TokenLogprob:
    """A replayed piece's entry: log-probability 0, itself its only alternative."""
    raw = tuple(token.encode("utf-8"))
    return TokenLogprob(token, 0.0, raw, ((token, 0.0, raw),) if top else ())


def _factory(spec: str, **options: Any) -> ScriptedEngine:
    """``scripted`` or ``scripted:FAMILY`` (for example ``scripted:glm-4.1v-thinking``).

    The loading options a front end passes to every engine (``device``, ``dtype``, ``progress``, the batch and KV
    cache settings) mean nothing to a scripted engine and are ignored, as is ``family=None``; so
    ``glmv chat -m scripted`` works like any model.
    """
    for loading in ("device", "dtype", "progress", "compile", "kv_cache", "kv_cache_len", "max_batch_size"):
        options.pop(loading, None)
    if options.get("family") is None:
        options.pop("family", None)
    _, _, family = spec.partition(":")
    if family and "family" not in options:
        options["family"] = family
    return ScriptedEngine(**options)


register_engine("scripted:", _factory)
