"""Turning one input record into a :class:`~glmv.finetune.Sample`, whatever shape it has.

Shapes read (the name is the sample's ``source``):

- ``openai``: ``{"messages": [...], "tools": [...]}`` in the OpenAI chat format; user content a string or
  ``text`` / ``image_url`` / ``video_url`` parts; assistant ``content`` raw GLM text or readable text with
  ``reasoning_content``; ``tool_calls``; ``tool`` results.
- ``llamafactory``: LLaMA-Factory's sharegpt layout with role/content tags (``{"messages": [{"role": "user",
  "content": "<image>…"}, …], "images": [...], "videos": [...], "system": "…", "tools": "[…]"}``), roles
  ``user`` / ``assistant`` / ``function_call`` / ``observation`` / ``system``; ``<image>`` / ``<video>``
  placeholders take the listed media in order.
- ``swift``: ms-swift's messages (``tool_call`` / ``tool_response`` roles, ``<image>`` placeholders, ``images``).
- ``placeholder``: messages with ``<image>`` / ``<video>`` placeholders and ``images`` / ``videos`` lists that
  could be either of the two (no system column, no tool roles); read the same way.
- ``sharegpt``: ``{"conversations": [{"from": "human" | "gpt" | "system" | "function_call" | "observation",
  "value": …}], "images": [...], "system": …, "tools": …}``.
- ``conversation``: a ``glmv chat`` ``/save`` (or ``glmv web`` export) file, format ``glmv.conversation``.
- ``agent`` / ``eval``: a *prompt-reply* record, ``{"prompt": [messages] | "text", "images": [...], "reply": raw
  GLM text | {"content", "reasoning_content", "tool_calls"}, "reasoning": "…", "tools": [...]}`` (``response`` or
  ``raw`` are read as ``reply``): a ``glmv agent`` step (it has ``step``: a ``{"type": "step"}`` line of
  ``trajectory.jsonl``, the prompt as the agent built it with the screenshot's file name, the raw reply the
  action) or a ``glmv eval`` result (a ``results.jsonl`` line). :func:`glmv.finetune.load_samples` passes over
  the ``run`` / ``end`` lines of a trajectory and its failed steps, and with ``passed_only`` keeps the results
  whose ``passed`` is true or, without it, whose ``score`` is at least 1.

Assistant text is parsed with :func:`glmv.output.parse_reply` (box markers kept), so 4.1V-style
``<think>…</think><answer>…</answer>`` replies and 4.5V-style replies both become reasoning + content + tool
calls, to be written again for the target family. Anything else is a :class:`~glmv.finetune.Problem` naming the
record.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from glmv.errors import GlmvError
from glmv.finetune.records import Record
from glmv.finetune.sample import Problem, Sample
from glmv.messages.conversation_file import FORMAT_NAME, check_messages, local_path
from glmv.output import parse_reply

__all__ = ["ShapeError", "record_to_sample", "shape_of"]

Message = dict[str, Any]

_PLACEHOLDER = re.compile(r"(<image>|<video>)")
_SHAREGPT_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "system": "system",
    "function_call": "function_call",
    "observation": "observation",
    "tool": "tool",
}
_LLAMAFACTORY_ROLES = {"function_call", "observation"}
_SWIFT_ROLES = {"tool_call", "tool_response"}
_KNOWN_ROLES = {"system", "user", "assistant", "tool", *_LLAMAFACTORY_ROLES, *_SWIFT_ROLES}


class ShapeError(GlmvError):
    """A record does not have a shape :func:`record_to_sample` reads; ``code`` names the problem."""

    def __init__(self, message: str, code: str = "unknown-shape") -> None:
        super().__init__(message)
        self.code = code


def shape_of(data: Any) -> str:
    """The name of the record shape of ``data`` (see the module docstring); :class:`ShapeError` if none fits."""
    if not isinstance(data, dict):
        raise ShapeError(f"a record must be a JSON object, not {type(data).__name__}")
    if data.get("format") == FORMAT_NAME:
        return "conversation"
    if isinstance(data.get("conversations"), list):
        return "sharegpt"
    if "prompt" in data and any(key in data for key in ("reply", "response", "raw")):
        return "agent" if "step" in data else "eval"
    messages = data.get("messages")
    if isinstance(messages, list):
        roles = {m.get("role") for m in messages if isinstance(m, dict)}
        if roles & _SWIFT_ROLES:
            return "swift"
        if roles & _LLAMAFACTORY_ROLES or isinstance(data.get("system"), str):
            return "llamafactory"
        if "images" in data or "videos" in data:
            return "placeholder"
        return "openai"
    keys = ", ".join(sorted(data)[:8]) or "none"
    raise ShapeError(
        f"unknown record shape (keys: {keys}); expected messages, conversations, a glmv.conversation "
        "file or a prompt/reply record"
    )


def _media_url(value: Any, base: Path) -> str:
    if isinstance(value, dict):
        value = value.get("url") or value.get("path")
    if not isinstance(value, str) or not value:
        raise ShapeError(
            f"a media entry must be a path or URL string, not {json.dumps(value)[:80]}", "bad-media"
        )
    lowered = value[:8].lower()
    if lowered.startswith(("data:", "http://", "https://")):
        return value
    if lowered.startswith("file://"):
        return str(local_path(value))
    path = os.path.expanduser(value)  # plain strings: this runs once per medium of every sample
    return path if os.path.isabs(path) else os.path.join(base, path)


def _media_part(kind: str, url: str) -> dict[str, Any]:
    return {"type": f"{kind}_url", f"{kind}_url": {"url": url}}


class _Media:
    """The ``images`` / ``videos`` lists of a placeholder-style record, taken in order by ``<image>`` / ``<video>``."""

    def __init__(self, data: dict[str, Any], base: Path) -> None:
        self.lists = {
            kind: [_media_url(v, base) for v in _as_list(data.get(f"{kind}s"))] for kind in ("image", "video")
        }
        self.used = {"image": 0, "video": 0}

    def take(self, kind: str) -> str:
        index = self.used[kind]
        self.used[kind] += 1
        items = self.lists[kind]
        if index >= len(items):
            raise ShapeError(
                f"more <{kind}> placeholders than {kind}s: the record lists {len(items)} {kind}(s)",
                "placeholder-count",
            )
        return items[index]

    def finish(self) -> None:
        for kind, items in self.lists.items():
            if self.used[kind] != len(items):
                raise ShapeError(
                    f"{len(items)} {kind}(s) listed but {self.used[kind]} <{kind}> placeholder(s) in the messages",
                    "placeholder-count",
                )


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _placeholder_parts(text: str, media: _Media) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for piece in _PLACEHOLDER.split(text):
        if piece in ("<image>", "<video>"):
            kind = piece[1:-1]
            parts.append(_media_part(kind, media.take(kind)))
        elif piece:
            parts.append({"type": "text", "text": piece})
    return parts


def _openai_parts(content: Any, base: Path, media: _Media | None) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return (
            _placeholder_parts(content, media) if media is not None else [{"type": "text", "text": content}]
        )
    if not isinstance(content, list):
        raise ShapeError(f"message content must be a string or a list of parts, not {type(content).__name__}")
    parts = []
    for part in content:
        if isinstance(part, str):
            parts.append({"type": "text", "text": part})
            continue
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" or (kind is None and isinstance(part, dict) and "text" in part):
            parts.append({"type": "text", "text": str(part.get("text", ""))})
        elif kind in ("image_url", "image", "input_image", "video_url", "video"):
            which = "video" if kind.startswith("video") else "image"
            value = part.get(f"{which}_url", part.get(which, part.get("url")))
            parts.append(_media_part(which, _media_url(value, base)))
        else:
            raise ShapeError(f"unknown content part {json.dumps(part)[:80]}")
    return parts


def _arguments(value: Any, name: str) -> dict[str, Any]:
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ShapeError(
                f"the arguments of tool call {name!r} are not JSON: {exc.msg}", "bad-tool-call"
            ) from exc
    if not isinstance(value, dict):
        raise ShapeError(f"the arguments of tool call {name!r} must be a JSON object", "bad-tool-call")
    return value


def _call(call: Any, number: int) -> dict[str, Any]:
    function = call.get("function", call) if isinstance(call, dict) else None
    name = function.get("name") if isinstance(function, dict) else None
    if not isinstance(name, str) or not name:
        raise ShapeError(f"a tool call needs a name: {json.dumps(call)[:80]}", "bad-tool-call")
    return {
        "id": str(call.get("id") or f"call_{number}"),
        "type": "function",
        "function": {"name": name, "arguments": _arguments(function.get("arguments"), name)},
    }


def _assistant(
    content: Any, tools: list[dict[str, Any]], reasoning: Any = None, calls: Any = None
) -> Message:
    """An assistant message parsed from raw GLM text (or readable text plus ``reasoning``)."""
    if isinstance(content, list):
        content = "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    if content is not None and not isinstance(content, str):
        raise ShapeError(f"assistant content must be text, not {type(content).__name__}")
    text = content or ""
    if "<" not in text and not calls:  # plain text holds no GLM markup: nothing to parse
        thought = reasoning.strip() if isinstance(reasoning, str) else ""
        return {"role": "assistant", "content": text.strip(), "reasoning_content": thought, "tool_calls": []}
    parsed = parse_reply(text, tools=tools or None, keep_box_markers=True, fence_html=False)
    found = [
        {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": dict(c.arguments)}}
        for c in parsed.tool_calls
    ]
    found += [_call(c, len(found) + n) for n, c in enumerate(_as_list(calls))]
    thought = reasoning if isinstance(reasoning, str) and reasoning.strip() else parsed.reasoning
    return {
        "role": "assistant",
        "content": parsed.content,
        "reasoning_content": thought.strip(),
        "tool_calls": found,
    }


def _tools(value: Any) -> list[dict[str, Any]]:
    if value in (None, "", []):
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ShapeError(f"tools is not a JSON list: {exc.msg}", "bad-tools") from exc
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        raise ShapeError("tools must be a list of tool objects", "bad-tools")
    return [t if t.get("type") == "function" else {"type": "function", "function": t} for t in value]


def _function_call(content: Any, tools: list[dict[str, Any]]) -> Message:
    """A LLaMA-Factory ``function_call`` / ms-swift ``tool_call``: optional thought, then JSON call(s)."""
    text = content if isinstance(content, str) else json.dumps(content)
    parsed = parse_reply(text, tools=tools or None, keep_box_markers=True, fence_html=False)
    try:
        calls = json.loads(parsed.content)
    except json.JSONDecodeError as exc:
        raise ShapeError(
            f"a function_call / tool_call message must hold JSON: {exc.msg}", "bad-tool-call"
        ) from exc
    return {
        "role": "assistant",
        "content": "",
        "reasoning_content": parsed.reasoning.strip(),
        "tool_calls": [_call(c, n) for n, c in enumerate(_as_list(calls))],
    }


def _tool_results(content: Any, base: Path, media: _Media | None) -> list[Message]:
    """One ``tool`` message per result; a LLaMA-Factory observation may hold several ``<tool_response>`` blocks."""
    if isinstance(content, str) and content.startswith("<tool_response>"):
        blocks = [b.strip("\n") for b in content.split("</tool_response>") if b.strip()]
        texts = [b.removeprefix("<tool_response>").strip("\n") for b in blocks]
    else:
        texts = [content]
    messages = []
    for text in texts:
        parts = _openai_parts(text, base, media)
        plain = all(p["type"] == "text" for p in parts)
        body: Any = "".join(p["text"] for p in parts) if plain else parts
        messages.append({"role": "tool", "content": body, "tool_call_id": ""})
    return messages


def _merge(messages: list[Message]) -> list[Message]:
    """Consecutive assistant messages (a swift ``assistant`` thought followed by ``tool_call`` s) become one turn."""
    merged: list[Message] = []
    for message in messages:
        last = merged[-1] if merged else None
        if message["role"] == "assistant" and last is not None and last["role"] == "assistant":
            last["content"] = "\n".join(t for t in (last["content"], message["content"]) if t)
            last["reasoning_content"] = last["reasoning_content"] or message["reasoning_content"]
            last["tool_calls"] = [*last["tool_calls"], *message["tool_calls"]]
        else:
            merged.append(message)
    return merged


def _messages(
    raw: list[Any], base: Path, tools: list[dict[str, Any]], media: _Media | None, system: Any = None
) -> list[Message]:
    out: list[Message] = []
    if isinstance(system, str) and system:
        out.append({"role": "system", "content": system})
    for index, message in enumerate(raw):
        if not isinstance(message, dict):
            raise ShapeError(f"messages[{index}] must be an object")
        role, content = message.get("role"), message.get("content")
        if role not in _KNOWN_ROLES:
            raise ShapeError(f"messages[{index}] has an unknown role {role!r}")
        if role == "system":
            text = content if isinstance(content, str) else "".join(p.get("text", "") for p in content or [])
            out.append({"role": "system", "content": text})
        elif role == "user":
            out.append({"role": "user", "content": _openai_parts(content, base, media)})
        elif role == "assistant":
            reasoning = message.get("reasoning_content", message.get("reasoning"))
            out.append(_assistant(content, tools, reasoning, message.get("tool_calls")))
        elif role in ("function_call", "tool_call"):
            out.append(_function_call(content, tools))
        else:
            results = _tool_results(content, base, media)
            if message.get("tool_call_id"):
                results[0]["tool_call_id"] = str(message["tool_call_id"])
            out.extend(results)
    return _merge(out)


def _from_messages(data: dict[str, Any], base: Path) -> tuple[list[Message], list[dict[str, Any]]]:
    tools = _tools(data.get("tools"))
    placeholders = any(k in data for k in ("images", "videos"))
    media = _Media(data, base) if placeholders else None
    messages = _messages(data["messages"], base, tools, media, data.get("system"))
    if media is not None:
        media.finish()
    return messages, tools


def _from_sharegpt(data: dict[str, Any], base: Path) -> tuple[list[Message], list[dict[str, Any]]]:
    turns = []
    for index, turn in enumerate(data["conversations"]):
        if not isinstance(turn, dict) or turn.get("from") not in _SHAREGPT_ROLES:
            who = turn.get("from") if isinstance(turn, dict) else turn
            raise ShapeError(f"conversations[{index}] has an unknown 'from' {who!r}")
        turns.append({"role": _SHAREGPT_ROLES[turn["from"]], "content": turn.get("value", "")})
    return _from_messages(
        {**data, "messages": turns, "images": data.get("images"), "videos": data.get("videos")}, base
    )


def _from_conversation(
    data: dict[str, Any], base: Path, where: str
) -> tuple[list[Message], list[dict[str, Any]]]:
    try:
        check_messages(data.get("messages"), where)
    except GlmvError as exc:
        raise ShapeError(str(exc).removeprefix(f"{where}: ")) from exc
    settings = data.get("settings") or {}
    tools = _tools(settings.get("tools"))
    return _messages(data["messages"], base, tools, None, data.get("system")), tools


def _from_prompt_reply(data: dict[str, Any], base: Path) -> tuple[list[Message], list[dict[str, Any]]]:
    tools = _tools(data.get("tools"))
    prompt = data["prompt"]
    if isinstance(prompt, str):
        media = _Media(data, base)
        messages = [{"role": "user", "content": _placeholder_parts(prompt, media)}]
        if not any(p["type"] != "text" for p in messages[0]["content"]):
            images = [_media_part(kind, url) for kind in ("image", "video") for url in media.lists[kind]]
            messages[0]["content"] = [*images, *messages[0]["content"]]
            media.used = {k: len(v) for k, v in media.lists.items()}
        media.finish()
    elif isinstance(prompt, list):
        messages = _messages(prompt, base, tools, None)
    else:
        raise ShapeError("prompt must be a list of messages or a string")
    reply = next((data[key] for key in ("reply", "response", "raw") if key in data), None)
    if isinstance(reply, dict):
        messages.append(
            _assistant(reply.get("content"), tools, reply.get("reasoning_content"), reply.get("tool_calls"))
        )
    else:
        messages.append(_assistant(reply, tools, data.get("reasoning")))
    return messages, tools


_READERS: dict[str, Callable[[dict[str, Any], Path], tuple[list[Message], list[dict[str, Any]]]]] = {
    "openai": _from_messages,
    "llamafactory": _from_messages,
    "swift": _from_messages,
    "placeholder": _from_messages,
    "sharegpt": _from_sharegpt,
    "agent": _from_prompt_reply,
    "eval": _from_prompt_reply,
}


def record_to_sample(record: Record) -> Sample | Problem:
    """The :class:`Sample` a record holds, or the :class:`Problem` that keeps it from being one."""
    try:
        shape = shape_of(record.data)
        if shape == "conversation":
            messages, tools = _from_conversation(record.data, record.base, record.where)
        else:
            messages, tools = _READERS[shape](record.data, record.base)
    except ShapeError as exc:
        return Problem(record.where, record.where, exc.code, str(exc))
    except (GlmvError, TypeError, AttributeError, KeyError) as exc:
        return Problem(record.where, record.where, "unknown-shape", f"cannot read the record: {exc}")
    data = record.data
    given = data.get("id", data.get("uuid"))
    sample_id = str(given) if given not in (None, "") else record.where
    return Sample(sample_id, record.where, shape, messages, tools)
