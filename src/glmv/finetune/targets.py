"""Writing a :class:`~glmv.finetune.Sample` as one record of a LLaMA-Factory or ms-swift dataset.

Both targets take the assistant text :func:`glmv.finetune.render.reply_text` writes for the family (4.1V
``<think>…</think><answer>…</answer>``, 4.5V / 4.6V without answer tags, reasoning only after the last user turn),
``<image>`` / ``<video>`` placeholders where the media were, and the media lists with paths relative to the
dataset folder.

- ``llamafactory``: the sharegpt layout with role/content tags that :data:`LLAMAFACTORY_DATASET_INFO` declares:
  ``{"messages": [...], "system": "…", "tools": "[…]", "images": [...], "videos": [...]}``; roles ``user``,
  ``assistant``, ``function_call`` (JSON ``[{"name", "arguments"}]``, reasoning first in LLaMA-Factory's thought
  words ``<think>\\n…\\n</think>\\n\\n``) and ``observation``. LLaMA-Factory's GLM templates write an observation's
  content as it is, so each tool result is wrapped in ``<tool_response>\\n…\\n</tool_response>`` as the official
  chat templates write it, several results of one turn in one observation (the format alternates strictly).
- with ``tool_calls="inline"`` (either target) an assistant turn that calls tools is one ``assistant`` message
  holding the calls as GLM text, exactly as the official templates write them (LLaMA-Factory's own ``glm4_moe``
  function format leaves out ``</tool_call>``); tool results stay in the framework's format.
- ``swift``: ms-swift's messages: ``system`` / ``user`` / ``assistant`` messages, one ``tool_call`` message
  (JSON ``{"name", "arguments"}``) per call after the assistant's thought, one ``tool_response`` per result;
  ``tools`` a JSON string.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal

from glmv.families import Family
from glmv.finetune.media import MediaStore
from glmv.finetune.render import reply_text
from glmv.finetune.sample import Sample

__all__ = ["LLAMAFACTORY_DATASET_INFO", "TARGETS", "Target", "ToolCallFormat", "dataset_info", "to_record"]

Target = Literal["llamafactory", "swift"]
ToolCallFormat = Literal["framework", "inline"]
TARGETS: tuple[str, ...] = ("llamafactory", "swift")

LLAMAFACTORY_DATASET_INFO: dict[str, Any] = {
    "formatting": "sharegpt",
    "columns": {
        "messages": "messages",
        "system": "system",
        "tools": "tools",
        "images": "images",
        "videos": "videos",
    },
    "tags": {
        "role_tag": "role",
        "content_tag": "content",
        "user_tag": "user",
        "assistant_tag": "assistant",
        "observation_tag": "observation",
        "function_tag": "function_call",
        "system_tag": "system",
    },
}
"""The ``dataset_info.json`` entry (less ``file_name``) of a dataset glmv writes for LLaMA-Factory."""

_LF_THOUGHT = (
    "<think>\n",
    "\n</think>\n\n",
)  # LLaMA-Factory's default thought words (its function-call format)
Message = dict[str, Any]


class _Writer:
    def __init__(self, sample: Sample, family: Family, store: MediaStore | None, inline: bool) -> None:
        self.sample, self.family, self.store, self.inline = sample, family, store, inline
        self.images: list[str] = []
        self.videos: list[str] = []
        self.last_user = max((i for i, m in enumerate(sample.messages) if m["role"] == "user"), default=-1)

    def text(self, content: Any) -> str:
        """Content as text with ``<image>`` / ``<video>`` placeholders; the media appended to the lists."""
        if isinstance(content, str):
            return content
        pieces = []
        for part in content:
            kind = part["type"]
            if kind == "text":
                pieces.append(part["text"])
                continue
            url = part[kind]["url"]
            placed = self.store.place(url) if self.store is not None else url
            if kind == "image_url":
                self.images.append(placed)
                pieces.append("<image>")
            else:
                self.videos.append(placed)
                pieces.append("<video>")
        return "".join(pieces)

    def reply(self, index: int, message: Message, with_calls: bool = True) -> str:
        shown = message if with_calls else {**message, "tool_calls": []}
        return reply_text(shown, self.family, keep_reasoning=index > self.last_user)


def _calls(message: Message) -> list[dict[str, Any]]:
    return [
        {"name": c["function"]["name"], "arguments": c["function"]["arguments"]}
        for c in message["tool_calls"]
    ]


def _llamafactory(writer: _Writer) -> dict[str, Any]:
    messages: list[Message] = []
    for index, message in enumerate(writer.sample.messages):
        role = message["role"]
        if role == "system":
            continue
        if role == "user":
            messages.append({"role": "user", "content": writer.text(message["content"])})
        elif role == "assistant" and message["tool_calls"] and not writer.inline:
            thought = message["reasoning_content"] if index > writer.last_user else ""
            prefix = f"{_LF_THOUGHT[0]}{thought}{_LF_THOUGHT[1]}" if thought else ""
            body = json.dumps(_calls(message), ensure_ascii=False)
            messages.append({"role": "function_call", "content": prefix + body})
        elif role == "assistant":
            messages.append({"role": "assistant", "content": writer.reply(index, message)})
        else:
            block = f"<tool_response>\n{writer.text(message['content'])}\n</tool_response>"
            if messages and messages[-1]["role"] == "observation":
                messages[-1]["content"] += "\n" + block
            else:
                messages.append({"role": "observation", "content": block})
    return {
        "messages": messages,
        "system": writer.sample.system,
        "tools": json.dumps(writer.sample.tools, ensure_ascii=False) if writer.sample.tools else "",
        "images": writer.images,
        "videos": writer.videos,
    }


def _swift(writer: _Writer) -> dict[str, Any]:
    messages: list[Message] = []
    for index, message in enumerate(writer.sample.messages):
        role = message["role"]
        if role == "system":
            messages.append({"role": "system", "content": message["content"]})
        elif role == "user":
            messages.append({"role": "user", "content": writer.text(message["content"])})
        elif role == "assistant" and writer.inline:
            messages.append({"role": "assistant", "content": writer.reply(index, message)})
        elif role == "assistant":
            messages.append({"role": "assistant", "content": writer.reply(index, message, with_calls=False)})
            messages += [
                {"role": "tool_call", "content": json.dumps(call, ensure_ascii=False)}
                for call in _calls(message)
            ]
        else:
            messages.append({"role": "tool_response", "content": writer.text(message["content"])})
    record: dict[str, Any] = {"messages": messages, "images": writer.images, "videos": writer.videos}
    if writer.sample.tools:
        record["tools"] = json.dumps(writer.sample.tools, ensure_ascii=False)
    return record


_WRITERS: dict[str, Callable[[_Writer], dict[str, Any]]] = {"llamafactory": _llamafactory, "swift": _swift}


def to_record(
    sample: Sample,
    family: Family,
    target: str,
    store: MediaStore | None = None,
    tool_calls: ToolCallFormat = "framework",
) -> dict[str, Any]:
    """``sample`` as one ``target`` record for ``family``; media placed in ``store`` (or left where they are).

    ``tool_calls="inline"`` writes each assistant turn with tool calls as one assistant message holding the GLM
    text of the calls (:func:`glmv.output.render_reply`), instead of LLaMA-Factory ``function_call`` / ms-swift
    ``tool_call`` messages: the trained text is then the official template's, where LLaMA-Factory's own GLM tool
    format differs (its ``glm4_moe`` formatter writes no ``</tool_call>``).
    """
    return _WRITERS[target](_Writer(sample, family, store, tool_calls == "inline"))


def dataset_info(name: str, file_name: str) -> dict[str, Any]:
    """The ``dataset_info.json`` of a LLaMA-Factory dataset ``name`` stored in ``file_name``."""
    return {name: {"file_name": file_name, **LLAMAFACTORY_DATASET_INFO}}
