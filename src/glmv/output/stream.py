"""The GLM output state machine: :class:`StreamParser` turns text deltas into reasoning, content and tool calls.

It is the only parser: :func:`glmv.output.parse_reply` feeds it the whole text at once, so a streamed reply
equals the one-shot parse of the same text however the text was cut into deltas. It never re-reads what it
has consumed (linear time); a tail that could be the start of a tag (``<thi``, ``</arg_va``, ``\\``) is held
back until the next delta or :meth:`StreamParser.close` tells what it is.

Rules (every tag is accepted whatever the family; ``family`` only sets the default ``start``):

- **Start.** ``start="content"`` (the default when a family is given: GLM-V prompts never pre-open
  ``<think>``): tag-less text is content and streams at once. ``start="reasoning"``: the prompt pre-opened
  ``<think>``, text is reasoning until ``</think>``. ``start="auto"`` (the default without a family): leading
  text is held back until ``</think>`` (or ``<answer>``) shows it was reasoning, or ``<think>``,
  ``<tool_call>`` or the end shows it was content.
- **Reasoning** ends at ``</think>``, at ``<tool_call>`` (a call made while thinking) or at ``<answer>``.
  Text after a cut-off ``<think>`` is all reasoning. A ``<think>`` later in content opens reasoning again.
- **Content** is what a user reads: ``<answer>``/``</answer>`` (GLM-4.1V; a missing ``</answer>`` is fine),
  box markers, stray ``</think>``/``</tool_call>``, end-of-turn and media tokens (``<|begin_of_image|>`` …:
  an untrained model writes them) are removed; box inner text is kept. ``keep_box_markers=True`` keeps ``<|begin_of_box|>``/``<|end_of_box|>`` in content verbatim (what a
  server decoding with ``skip_special_tokens=False`` sends); boxes and the answer are parsed all the same.
  Reasoning and content are each stripped of surrounding whitespace; raw HTML answers get a
  ```` ```html ```` fence (:mod:`glmv.output.html`), which holds content back only while its first line-starting
  ``<`` could still open an HTML page.
- **Boxes.** Each outermost ``<|begin_of_box|>…<|end_of_box|>`` span in content gives its boxes/points;
  ``answer`` is the stripped text of the **last** closed span (an unclosed, cut-off span is not an answer).
  Boxes inside reasoning are not parsed. ``bare_boxes=True`` reads bracketed 4-tuples from content that
  has no box markers at all.
- **Tool calls**: ``<tool_call>NAME`` then an optional newline (real or a literal ``\\n``) then
  ``<arg_key>K</arg_key><arg_value>V</arg_value>`` pairs (any whitespace between) then ``</tool_call>``
  (glm45 and glm47 shapes, zero-argument calls). Inside ``<arg_value>`` only ``</arg_value>`` ends the value,
  so a literal ``</tool_call>`` there is text. A call ends at ``</tool_call>`` (or at the next
  ``<tool_call>``); only then are its values typed by the tool's schema (:mod:`glmv.output.tools`: every
  argument of the call is known, so a discriminator written after a value still types it) and only then is
  it emitted: one fragment with its id and name, one with the whole arguments JSON. A call whose name is
  empty, invalid or (when ``tools`` are given) undeclared is skipped entirely. **A call that never ends**
  (the text stops inside it: cut by ``max_tokens``) is no tool call: its text, tags included, stays in
  ``content`` verbatim, as vLLM and SGLang return it; nothing of it was streamed as a tool-call fragment.
  A repeated key keeps its first value; a key with no value is ``None``. Ids are ``call_0``, ``call_1``, …
  in order (servers replace them with their own).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from glmv.errors import ConfigError, OutputError
from glmv.families import MEDIA_TOKENS, Family, get_family
from glmv.output.boxes import BOX_BEGIN, BOX_END, find_bare_boxes, parse_coordinates
from glmv.output.html import HtmlFence
from glmv.output.reply import Box, Delta, Point, Reply, ToolCall, ToolCallDelta
from glmv.output.tools import ToolSchemas

__all__ = ["Start", "StreamParser"]

Start = Literal["auto", "reasoning", "content"]

THINK, THINK_END = "<think>", "</think>"
TOOL, TOOL_END = "<tool_call>", "</tool_call>"
ANSWER, ANSWER_END = "<answer>", "</answer>"
KEY, KEY_END = "<arg_key>", "</arg_key>"
VALUE, VALUE_END = "<arg_value>", "</arg_value>"
TURN_TOKENS = ("<|endoftext|>", "<|user|>", "<|observation|>", "<|assistant|>", "<|system|>")
_MEANINGLESS = (*TURN_TOKENS, *MEDIA_TOKENS, "[gMASK]", "<sop>")
"""Special tokens that mean nothing in a reply (a model that is not yet trained writes them): dropped."""

_UNDECIDED, _REASONING, _CONTENT, _NAME, _BETWEEN, _KEY, _AFTER_KEY, _VALUE = range(8)
_TERMINALS: dict[int, tuple[str, ...]] = {
    _UNDECIDED: (THINK, THINK_END, TOOL, ANSWER),
    _REASONING: (THINK, THINK_END, TOOL, ANSWER, *_MEANINGLESS),
    _CONTENT: (THINK, THINK_END, TOOL, TOOL_END, ANSWER, ANSWER_END, BOX_BEGIN, BOX_END, *_MEANINGLESS),
    _NAME: ("\n", "\\n", KEY, TOOL_END, TOOL),
    _BETWEEN: (KEY, TOOL_END, TOOL),
    _KEY: (KEY_END, VALUE, TOOL_END),
    _AFTER_KEY: (VALUE, KEY, TOOL_END),
    _VALUE: (VALUE_END,),
}


def _alternation(words: Iterable[str]) -> str:
    return "|".join(re.escape(word) for word in sorted(set(words), key=len, reverse=True))


_FIND = {state: re.compile(_alternation(terms)) for state, terms in _TERMINALS.items()}
# A tail of the buffer that is a proper prefix of a terminal: held back until more text arrives.
_PARTIAL = {
    state: re.compile("(?:" + _alternation(t[:i] for t in terms for i in range(1, len(t))) + r")\Z")
    for state, terms in _TERMINALS.items()
}
_LONGEST = {state: max(len(t) for t in terms) for state, terms in _TERMINALS.items()}
_NO_DELTA = Delta()
_STARTS = {"auto": _UNDECIDED, "reasoning": _REASONING, "content": _CONTENT}


class _Channel:
    """One text channel (reasoning or content): stripped of surrounding whitespace, optionally HTML-fenced."""

    def __init__(self, fence: bool) -> None:
        self.parts: list[str] = []
        self._started = False
        self._space: list[str] = []
        self._fence = HtmlFence() if fence else None

    def push(self, text: str) -> str:
        if not self._started:
            text = text.lstrip()
            if not text:
                return ""
            self._started = True
        body = text.rstrip()
        if not body:
            self._space.append(text)
            return ""
        out = "".join(self._space) + body
        self._space = [text[len(body) :]]
        return self._emit(out)

    def close(self) -> str:
        self._space = []
        return self._emit("", closing=True)

    def _emit(self, text: str, closing: bool = False) -> str:
        if self._fence is not None:
            text = self._fence.push(text) if text else ""
            if closing:
                text += self._fence.close()
        if text:
            self.parts.append(text)
        return text


class _Call:
    """The tool call being read: its text so far, name, and each key's raw value text."""

    def __init__(self) -> None:
        self.text_parts: list[str] = [TOOL]  # everything since <tool_call>, for content if it never ends
        self.name_parts: list[str] = []
        self.name = ""
        self.kept = False  # a valid (and, with tools, declared) name
        self.values: dict[str, str | None] = {}
        self.key_parts: list[str] = []
        self.key: str | None = None  # the key whose value comes next; None: skip that value
        self.value_parts: list[str] = []


class StreamParser:
    """Parse GLM output delta by delta; :attr:`reply` always agrees with :func:`parse_reply` on the same text.

    ``feed(delta)`` returns the new reasoning/content text and tool-call fragments (OpenAI streaming shape:
    the first fragment of call ``index`` carries ``id`` and ``name`` with ``arguments=""``, later ones carry
    argument text; joined they equal :meth:`ToolCall.arguments_json`; both come when the call ends, so a call
    cut off by the end of the text is never half-streamed). ``close()`` flushes what was held
    back. See the module docstring for the rules. ``.reply`` is rebuilt on access after a feed (O(length)),
    so read it at the end rather than after every delta.
    """

    def __init__(
        self,
        family: Family | str | None = None,
        tools: Iterable[Mapping[str, Any]] | None = None,
        *,
        start: Start | None = None,
        bare_boxes: bool = False,
        fence_html: bool = True,
        keep_box_markers: bool = False,
    ) -> None:
        self.family = get_family(family) if family is not None else None
        if start is None:
            start = "auto" if self.family is None else "content"
        if start not in _STARTS:
            raise ConfigError(f"start must be one of {', '.join(_STARTS)}, not {start!r}.")
        self._state = _STARTS[start]
        self._schemas = ToolSchemas(tools)
        self._bare_boxes = bare_boxes
        self._keep_box_markers = keep_box_markers
        self._pending = ""
        self._raw: list[str] = []
        self._held: list[str] = []
        self._reasoning = _Channel(fence=False)
        self._content = _Channel(fence=fence_html)
        self._box_depth = 0
        self._box_parts: list[str] = []
        self._box_seen = False
        self._answer: str | None = None
        self._boxes: list[Box] = []
        self._points: list[Point] = []
        self._calls: list[ToolCall] = []
        self._call: _Call | None = None
        self._out_reasoning: list[str] = []
        self._out_content: list[str] = []
        self._out_tools: list[ToolCallDelta] = []
        self._closed = False
        self._reply: Reply | None = None

    # -- public -------------------------------------------------------------------------------------------

    def feed(self, delta: str) -> Delta:
        """Parse the next piece of text; returns what it adds to reasoning, content and tool calls."""
        if self._closed:
            raise OutputError("This StreamParser is closed; start a new one for the next reply.")
        if not delta:
            return Delta()
        self._raw.append(delta)
        self._reply = None
        self._scan(self._pending + delta, final=False)
        return self._take()

    def close(self) -> Delta:
        """End of the text: flush held-back text, finish a cut-off tool call; returns the last additions."""
        if self._closed:
            return Delta()
        self._closed = True
        self._reply = None
        self._scan(self._pending, final=True)
        if self._state == _UNDECIDED:
            self._state = _CONTENT
            self._scan("".join(self._held), final=True)
        elif self._call is not None:
            self._cut_call()
        self._emit_reasoning(self._reasoning.close())
        self._emit_content(self._content.close())
        if self._bare_boxes and not self._box_seen and not self._boxes:
            self._boxes = find_bare_boxes("".join(self._content.parts))
        return self._take()

    @property
    def reply(self) -> Reply:
        """Everything parsed so far (complete once :meth:`close` has run)."""
        if self._reply is None:
            self._reply = Reply(
                reasoning="".join(self._reasoning.parts),
                content="".join(self._content.parts),
                answer=self._answer,
                boxes=list(self._boxes),
                points=list(self._points),
                tool_calls=list(self._calls),
                raw="".join(self._raw),
            )
        return self._reply

    @property
    def closed(self) -> bool:
        return self._closed

    # -- scanning -----------------------------------------------------------------------------------------

    def _scan(self, text: str, final: bool) -> None:
        pos = 0
        while True:
            state = self._state
            match = _FIND[state].search(text, pos)
            if match is None:
                end = len(text)
                if not final:
                    partial = _PARTIAL[state].search(text, max(pos, end - _LONGEST[state] + 1))
                    if partial is not None:
                        end = partial.start()
                if end > pos:
                    self._text(text[pos:end])
                self._pending = text[end:]
                return
            if match.start() > pos:
                self._text(text[pos : match.start()])
            pos = match.end()
            self._tag(match.group())

    def _text(self, text: str) -> None:
        state = self._state
        if state == _CONTENT:
            self._emit_content(self._content.push(text))
            if self._box_depth:
                self._box_parts.append(text)
        elif state == _REASONING:
            self._emit_reasoning(self._reasoning.push(text))
        elif state == _UNDECIDED:
            self._held.append(text)
        else:
            call = self._call
            call.text_parts.append(text)
            if state == _VALUE:
                call.value_parts.append(text)
            elif state == _NAME:
                call.name_parts.append(text)
            elif state == _KEY:
                call.key_parts.append(text)
            # _BETWEEN, _AFTER_KEY: whitespace (or junk) between tags is dropped

    def _tag(self, tag: str) -> None:
        state = self._state
        if state in (_UNDECIDED, _REASONING, _CONTENT):
            self._text_tag(state, tag)
            return
        if tag == TOOL:
            self._end_call()
            self._begin_call()
            return
        self._call.text_parts.append(tag)
        if state == _NAME:
            self._name_tag(tag)
        elif state == _KEY:
            self._end_key()
            if tag == TOOL_END:
                self._end_call()
            elif tag == VALUE:
                self._state = _VALUE
                self._begin_value()
        elif state == _AFTER_KEY:
            if tag == VALUE:
                self._state = _VALUE
                self._begin_value()
                return
            self._end_value()
            if tag == KEY:
                self._state = _KEY
            else:
                self._end_call()
        elif state == _VALUE:
            self._end_value()
            self._state = _BETWEEN
        elif tag == KEY:  # _BETWEEN
            self._state = _KEY
        else:
            self._end_call()

    def _text_tag(self, state: int, tag: str) -> None:
        if state == _UNDECIDED:
            held = "".join(self._held)
            self._held = []
            if tag in (THINK_END, ANSWER):
                self._state = _REASONING
                self._scan(held, final=True)
                self._state = _CONTENT
                return
            self._state = _CONTENT
            self._scan(held, final=True)
        if tag == THINK:
            self._state = _REASONING
        elif tag in (THINK_END, ANSWER):
            self._state = _CONTENT
        elif tag == TOOL:
            self._begin_call()
        elif tag == BOX_BEGIN:
            self._keep_marker(tag)
            self._box_seen = True
            self._box_depth += 1
            if self._box_depth == 1:
                self._box_parts = []
        elif tag == BOX_END:
            self._keep_marker(tag)
            if not self._box_depth:
                return
            self._box_depth -= 1
            if self._box_depth == 0:
                inner = "".join(self._box_parts)
                self._answer = inner.strip()
                boxes, points = parse_coordinates(inner)
                self._boxes.extend(boxes)
                self._points.extend(points)
        # everything else (</answer>, stray </think> or </tool_call>, turn and media tokens) is dropped

    def _keep_marker(self, tag: str) -> None:
        """With ``keep_box_markers``, a box marker goes into content verbatim."""
        if self._keep_box_markers:
            self._emit_content(self._content.push(tag))

    # -- tool calls ---------------------------------------------------------------------------------------

    def _begin_call(self) -> None:
        self._call = _Call()
        self._state = _NAME

    def _name_tag(self, tag: str) -> None:
        call = self._call
        name = "".join(call.name_parts).strip()
        if tag in ("\n", "\\n") and not name:
            call.name_parts = []
            return
        call.name = name
        call.kept = self._schemas.accepts(name)
        if tag == TOOL_END:
            self._end_call()
        else:
            self._state = _KEY if tag == KEY else _BETWEEN

    def _end_key(self) -> None:
        call = self._call
        key = "".join(call.key_parts).strip()
        call.key_parts = []
        call.key = None if key in call.values else key
        self._state = _AFTER_KEY
        if call.key is not None:
            call.values[key] = None

    def _begin_value(self) -> None:
        self._call.value_parts = []

    def _end_value(self) -> None:
        """Finish the value of the current key (None when no ``<arg_value>`` came)."""
        call = self._call
        if call.key is not None and self._state != _AFTER_KEY:
            call.values[call.key] = "".join(call.value_parts)
        call.key = None

    def _end_call(self) -> None:
        """The call is complete: type its values and emit it whole (a skipped call leaves nothing)."""
        call = self._call
        if self._state in (_AFTER_KEY, _VALUE):
            self._end_value()
        if call.kept:
            index = len(self._calls)
            done = ToolCall(
                id=_call_id(index),
                name=call.name,
                arguments=self._schemas.type_arguments(call.name, call.values),
            )
            self._calls.append(done)
            self._out_tools.append(ToolCallDelta(index=index, id=done.id, name=done.name))
            self._out_tools.append(ToolCallDelta(index=index, arguments=done.arguments_json()))
        self._call = None
        self._state = _CONTENT

    def _cut_call(self) -> None:
        """The text ended inside a call: it is no call, its text goes to content as written."""
        text = "".join(self._call.text_parts)
        self._call = None
        self._state = _CONTENT
        self._emit_content(self._content.push(text))

    # -- output -------------------------------------------------------------------------------------------

    def _emit_reasoning(self, text: str) -> None:
        if text:
            self._out_reasoning.append(text)

    def _emit_content(self, text: str) -> None:
        if text:
            self._out_content.append(text)

    def _take(self) -> Delta:
        if not (self._out_reasoning or self._out_content or self._out_tools):
            return _NO_DELTA
        delta = Delta(
            reasoning="".join(self._out_reasoning),
            content="".join(self._out_content),
            tool_calls=tuple(self._out_tools),
        )
        self._out_reasoning, self._out_content, self._out_tools = [], [], []
        return delta


def _call_id(index: int) -> str:
    return f"call_{index}"
