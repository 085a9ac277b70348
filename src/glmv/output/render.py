"""The one GLM writer: :func:`render_reply` writes the raw text a GLM-V model would write for a reply.

It is the inverse of :func:`glmv.output.parse_reply`: for every family, ``parse_reply(render_reply(...))`` gives
back the reasoning, the content (the parser strips surrounding whitespace and, unless asked to keep them, box
markers), the tool-call names and the arguments. glmv writes GLM text only through it: the scripted engine,
the taught test conversations, fine-tuning data.

What each family writes (FORMATS.md §4–5):

- GLM-4.1V-Thinking: ``<think>\\nREASONING\\n</think>\\n<answer>\\nCONTENT\\n</answer>`` (``<answer>`` only when
  there is content);
- GLM-4.5V / 4.6V (and any family without ``<answer>`` tags): ``<think>REASONING</think>``, then ``\\nCONTENT``,
  then ``\\n<tool_call>…</tool_call>`` per call, as the chat templates render an assistant turn;
- a thinking family writes an empty ``<think></think>`` when there is no reasoning, unless ``thinking=False``
  (the prompt closed the think block, so the model writes only the answer); a family that never thinks writes
  a think block only for reasoning it is given.

Tool calls (:func:`render_tool_call`) take the family's ``tool_call_shape``: ``glm45``
(``<tool_call>NAME\\n<arg_key>K</arg_key>\\n<arg_value>V</arg_value>\\n</tool_call>``) or ``glm47``
(``<tool_call>NAME<arg_key>K</arg_key><arg_value>V</arg_value></tool_call>``). String values are written raw,
any other value as JSON (``ensure_ascii=False``), as the templates do.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from glmv.errors import OutputError
from glmv.families import Family, get_family
from glmv.output.reply import ToolCall

__all__ = ["ToolCallShape", "render_reply", "render_tool_call"]

ToolCallShape = Literal["glm45", "glm47"]


def _name_and_arguments(call: ToolCall | Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """``(name, arguments dict)`` of a :class:`ToolCall`, a ``{"name", "arguments"}`` dict or an OpenAI call."""
    if isinstance(call, ToolCall):
        return call.name, dict(call.arguments)
    if not isinstance(call, Mapping):
        raise OutputError(
            f"A tool call must be a ToolCall or a {{'name', 'arguments'}} dict, not {type(call).__name__}."
        )
    function = call.get("function", call)
    name = function.get("name") if isinstance(function, Mapping) else None
    if not isinstance(name, str) or not name:
        raise OutputError(f"A tool call needs a non-empty string 'name'; got {call!r}.")
    arguments = function.get("arguments") or {}
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError as exc:
            raise OutputError(f"The arguments of tool call {name!r} are not JSON: {exc}.") from exc
    if not isinstance(arguments, Mapping):
        raise OutputError(f"The arguments of tool call {name!r} must be a JSON object, not {arguments!r}.")
    return name, dict(arguments)


def render_tool_call(call: ToolCall | Mapping[str, Any], shape: ToolCallShape = "glm45") -> str:
    """One tool call as GLM writes it, in the ``glm45`` or ``glm47`` shape.

    ``call`` is a :class:`~glmv.output.ToolCall`, a ``{"name", "arguments"}`` dict (arguments a dict or a JSON
    object string) or an OpenAI ``{"function": {...}}`` call.
    """
    if shape not in ("glm45", "glm47"):
        raise OutputError(f"Unknown tool-call shape {shape!r}; use glm45 or glm47.")
    name, arguments = _name_and_arguments(call)
    newline = "\n" if shape == "glm45" else ""
    parts = [f"<tool_call>{name}{newline}"]
    for key, value in arguments.items():
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        parts.append(f"<arg_key>{key}</arg_key>{newline}<arg_value>{shown}</arg_value>{newline}")
    parts.append("</tool_call>")
    return "".join(parts)


def render_reply(
    *,
    reasoning: str = "",
    content: str = "",
    tool_calls: Iterable[ToolCall | Mapping[str, Any]] = (),
    family: Family | str,
    thinking: bool | None = None,
) -> str:
    """The raw text ``family`` writes for a reply with this reasoning, content and tool calls.

    ``content`` is written as given (box markers included: ``"It is <|begin_of_box|>42<|end_of_box|>."``).
    ``tool_calls`` are :class:`~glmv.output.ToolCall` objects or ``{"name", "arguments"}`` dicts, written in the
    family's tool-call shape. ``thinking=None`` follows the family (a thinking family writes ``<think></think>``
    even without reasoning); ``thinking=False`` writes no empty think block (the prompt switched thinking off).
    Reasoning, when given, is always written. See the module docstring for each family's layout.
    """
    family = get_family(family)
    think = bool(reasoning) or (family.thinks_by_default if thinking is None else thinking)
    parts = []
    if think:
        if not family.answer_tags:
            parts.append(f"<think>{reasoning}</think>")
        else:
            parts.append(f"<think>\n{reasoning}\n</think>" if reasoning else "<think></think>")
    if content:
        parts.append(f"<answer>\n{content}\n</answer>" if family.answer_tags else content)
    parts.extend(render_tool_call(call, family.tool_call_shape) for call in tool_calls)
    return "\n".join(parts)
