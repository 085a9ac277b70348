"""The chunk pump: one request's text deltas in, :class:`~glmv.engine.types.Chunk` objects out.

Every engine streams through it (the local, remote and scripted engines alike). Per choice it feeds the
model's GLM text through :class:`glmv.output.StreamParser` and yields what each delta adds; when the engine
says a choice ended it yields that choice's last chunk, carrying

- ``finish_reason``: the engine's reason, except that ``stop`` becomes ``tool_calls`` when the reply holds
  complete tool calls (a reply cut by ``max_tokens`` stays ``length``; ``cancelled`` stays ``cancelled``);
- ``usage``;
- ``reply``: the finished :class:`~glmv.output.Reply` (with ``finish_reason`` and ``usage``), so collecting a
  stream never parses its text a second time.

Log-probabilities (:meth:`ChunkPump.logprobs`, or those a :class:`~glmv.engine.batching.Text` carries) ride on
the next chunk the choice yields, its last chunk at the latest, so each token's entry is sent once even when
its text is held back or is markup the parser drops; the reply holds them all.

A server that has already split the output (vLLM's or SGLang's reasoning and tool parsers) hands its parts in
as they are: :meth:`ChunkPump.reasoning` (reasoning text, trimmed of surrounding whitespace as the parser
trims), :meth:`ChunkPump.content` (content text, still parsed for boxes, ``<answer>`` tags and HTML) and
:meth:`ChunkPump.tool_call` (OpenAI tool-call fragments, whose JSON arguments become the reply's
:class:`~glmv.output.ToolCall` as the server typed them; arguments that are not a JSON object are an
:class:`~glmv.errors.OutputError`, except in a reply cut by ``max_tokens``, which keeps no half call).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from glmv.engine.batching import End, Text
from glmv.engine.types import Chunk
from glmv.errors import OutputError
from glmv.families import Family
from glmv.output.reply import Reply, TokenLogprob, ToolCall, ToolCallDelta, Usage
from glmv.output.stream import StreamParser

__all__ = ["ChunkPump"]

_REASONS = ("stop", "length", "tool_calls", "cancelled")


class _Trimmed:
    """Already-parsed reasoning text, stripped of surrounding whitespace as it streams (as the parser does)."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self._space = ""

    def push(self, text: str) -> str:
        if not self.parts:
            text = text.lstrip()
        body = text.rstrip()
        if not body:
            if self.parts:
                self._space += text
            return ""
        out = self._space + body
        self._space = text[len(body) :]
        self.parts.append(out)
        return out


@dataclass
class _ServerCall:
    """One tool call a server streamed as OpenAI fragments."""

    id: str
    name: str
    arguments: list[str] = field(default_factory=list)

    def finished(self) -> ToolCall:
        text = "".join(self.arguments)
        try:
            arguments = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError as exc:
            raise OutputError(
                f"The server sent tool call {self.name!r} with arguments that are not JSON: {exc}"
            ) from exc
        if not isinstance(arguments, dict):
            raise OutputError(
                f"The server sent tool call {self.name!r} with arguments that are not a JSON object."
            )
        return ToolCall(id=self.id, name=self.name, arguments=arguments)


class _Choice:
    """What the pump knows of one choice: its parser, and the parts a server handed in already parsed."""

    def __init__(self) -> None:
        self.parser: StreamParser | None = None
        self.own_text = False  # the model's own text came in (not only parts a server had already parsed)
        self.reasoning = _Trimmed()
        self.calls: dict[int, _ServerCall] = {}
        self.logprobs: list[TokenLogprob] | None = None  # every entry of the choice, once any came
        self.unsent: list[TokenLogprob] = []  # entries no chunk has carried yet

    def carry(self, chunk: Chunk | None) -> Chunk | None:
        """``chunk`` with the entries not sent yet (None stays None: they wait for the next chunk)."""
        if chunk is None or not self.unsent:
            return chunk
        chunk = replace(chunk, logprobs=tuple(self.unsent))
        self.unsent = []
        return chunk


class ChunkPump:
    """Turns one request's text deltas, per choice, into chunks; see the module docstring.

    ``family`` and ``tools`` guide the parser; ``keep_box_markers`` keeps ``<|begin_of_box|>`` /
    ``<|end_of_box|>`` in content; ``prompt_tokens`` goes into the usage of :meth:`run`'s last chunks.
    """

    def __init__(
        self,
        family: Family | str | None = None,
        tools: list[dict[str, Any]] | None = None,
        *,
        keep_box_markers: bool = False,
        prompt_tokens: int = 0,
    ) -> None:
        self.family = family
        self.tools = tools
        self.keep_box_markers = keep_box_markers
        self.prompt_tokens = prompt_tokens
        self._choices: dict[int, _Choice] = {}

    # -- input ---------------------------------------------------------------------------------------------

    def text(self, index: int, text: str) -> Chunk | None:
        """The model's GLM text for choice ``index``; the chunk it adds (None when it adds nothing)."""
        return self._feed(index, text, raw=text)

    def content(self, index: int, text: str) -> Chunk | None:
        """Content text a server already separated from the reasoning (still parsed: boxes, answer, HTML)."""
        return self._feed(index, text, raw="")

    def reasoning(self, index: int, text: str) -> Chunk | None:
        """Reasoning text a server already separated from the content."""
        choice = self._choice(index)
        out = choice.reasoning.push(text)
        return choice.carry(Chunk(index, reasoning=out) if out else None)

    def logprobs(self, index: int, entries: Sequence[TokenLogprob]) -> None:
        """Log-probabilities of choice ``index``'s next tokens; the choice's next chunk carries them."""
        if not entries:  # every event of a request that did not ask for logprobs: nothing to do
            return
        entries = list(entries)
        choice = self._choice(index)
        if choice.logprobs is None:
            choice.logprobs = []
        choice.logprobs += entries
        choice.unsent += entries

    def tool_call(self, index: int, fragment: Mapping[str, Any]) -> Chunk | None:
        """One OpenAI tool-call fragment (``{"index", "id", "function": {"name", "arguments"}}``) of a server.

        The first fragment of a call gives its id (``call_INDEX`` when the server sends none) and name; argument
        text streams as it comes and is read as the JSON object it must be when the choice ends.
        """
        choice = self._choice(index)
        function = fragment.get("function") or {}
        number = fragment.get("index")
        if number is None:
            # a server that numbers nothing: a name starts the next call, arguments go to the last
            number = len(choice.calls) if function.get("name") else max(choice.calls, default=0)
        number = int(number)
        deltas = []
        call = choice.calls.get(number)
        if call is None:
            if not function.get("name"):
                return None  # arguments of a call whose name never came: nothing to attach them to
            call = choice.calls[number] = _ServerCall(
                fragment.get("id") or f"call_{number}", function["name"]
            )
            deltas.append(ToolCallDelta(index=number, id=call.id, name=call.name))
        arguments = function.get("arguments")
        if isinstance(arguments, Mapping):  # a server that sends the arguments as an object, not JSON text
            arguments = json.dumps(arguments, ensure_ascii=False)
        if arguments:
            call.arguments.append(arguments)
            deltas.append(ToolCallDelta(index=number, arguments=arguments))
        return choice.carry(Chunk(index, tool_calls=tuple(deltas)) if deltas else None)

    def end(self, index: int, reason: str, usage: Usage | None) -> Chunk:
        """Choice ``index`` ended for ``reason``: its last chunk, with finish reason, usage and the reply."""
        choice = self._choice(index)
        parser = self._parser(choice)
        tail = parser.close()
        parsed = parser.reply
        finish = reason if reason in _REASONS else "stop"
        calls = list(parsed.tool_calls)
        for _, call in sorted(choice.calls.items()):
            try:
                calls.append(call.finished())
            except OutputError:
                if finish != "length":
                    raise
                # a server call cut off by max_tokens: its fragments went out, the reply keeps no half call
        reasoning = "".join(choice.reasoning.parts)
        if parsed.reasoning:
            reasoning = f"{reasoning}\n{parsed.reasoning}" if reasoning else parsed.reasoning
        if finish == "stop" and calls:
            finish = "tool_calls"
        reply = Reply(
            reasoning=reasoning,
            content=parsed.content,
            answer=parsed.answer,
            boxes=parsed.boxes,
            points=parsed.points,
            tool_calls=calls,
            finish_reason=finish,
            usage=usage,
            raw=parsed.raw if choice.own_text else "",
            logprobs=choice.logprobs,
        )
        last = Chunk(
            index,
            tail.reasoning,
            tail.content,
            tail.tool_calls,
            finish_reason=finish,
            usage=usage,
            reply=reply,
        )
        return choice.carry(last)

    def run(self, events: Iterable[Text | End]) -> Iterator[Chunk]:
        """Chunks of a stream of engine events: text of a choice, then its end (reason, completion tokens)."""
        for event in events:
            self.logprobs(event.index, event.logprobs)
            if isinstance(event, Text):
                chunk = self.text(event.index, event.text)
                if chunk is not None:
                    yield chunk
            else:
                usage = Usage(self.prompt_tokens, event.completion_tokens, event.timings)
                yield self.end(event.index, event.reason, usage)

    # -- per choice ----------------------------------------------------------------------------------------

    def _choice(self, index: int) -> _Choice:
        choice = self._choices.get(index)
        if choice is None:
            choice = self._choices[index] = _Choice()
        return choice

    def _parser(self, choice: _Choice) -> StreamParser:
        if choice.parser is None:
            # Content that follows reasoning a server split off is content from its first character.
            start = "content" if choice.reasoning.parts else None
            choice.parser = StreamParser(
                self.family, self.tools, start=start, keep_box_markers=self.keep_box_markers
            )
        return choice.parser

    def _feed(self, index: int, text: str, raw: str) -> Chunk | None:
        if not text:
            return None
        choice = self._choice(index)
        if raw:
            choice.own_text = True
        delta = self._parser(choice).feed(text)
        if not (delta or raw):
            return None
        return choice.carry(Chunk(index, delta.reasoning, delta.content, delta.tool_calls, raw=raw))
