"""Messages and content parts in the OpenAI chat format, the lingua franca of glmv.

A conversation is a list of OpenAI chat messages (``{"role": ..., "content": ...}``). This module builds
them from convenience inputs (:func:`user_message`), applies the GLM history policy
(:func:`apply_history_policy`) and turns them into what a chat template and a processor take
(:func:`to_processor_messages`).

Media parts are OpenAI parts: ``{"type": "image_url", "image_url": {"url": ...}}`` and
``{"type": "video_url", "video_url": {"url": ...}}`` where the URL is a path, ``file://``, ``http(s)://`` or
``data:`` URI. Processor-style parts (``{"type": "image", "image": PIL.Image | path}``) are accepted too.
"""

from __future__ import annotations

import base64
import copy
import io
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from glmv.errors import RequestError
from glmv.families import MEDIA_TOKENS, Family, get_family

__all__ = [
    "MediaRef",
    "apply_history_policy",
    "check_text",
    "data_uri",
    "image_part",
    "media_in_order",
    "normalize_content",
    "text_part",
    "to_processor_messages",
    "user_message",
    "video_part",
]

logger = logging.getLogger(__name__)

Message = dict[str, Any]

_IMAGE_TYPES = ("image_url", "image", "input_image")
_VIDEO_TYPES = ("video_url", "video")


@dataclass(frozen=True)
class MediaRef:
    """One image or video of a conversation, in the order the chat template emits them.

    ``source`` is what the message held: a URL / path / data URI string, a PIL image, bytes or a list of frames.
    """

    kind: Literal["image", "video"]
    source: Any


def text_part(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def data_uri(data: bytes, mime: str) -> str:
    """``data`` as a base64 ``data:`` URI of type ``mime``."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _pngdata_uri(image: Any) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return data_uri(buffer.getvalue(), "image/png")


def image_part(source: Any) -> dict[str, Any]:
    """An OpenAI ``image_url`` part for a path, URL, data URI, bytes or PIL image."""
    if isinstance(source, Path):
        source = str(source)
    if isinstance(source, bytes):
        source = data_uri(source, "application/octet-stream")
    elif not isinstance(source, str):
        source = _pngdata_uri(source)
    return {"type": "image_url", "image_url": {"url": source}}


def video_part(source: Any) -> dict[str, Any]:
    """An OpenAI ``video_url`` part for a path, URL or data URI (or bytes)."""
    if isinstance(source, Path):
        source = str(source)
    if isinstance(source, bytes):
        source = data_uri(source, "video/mp4")
    return {"type": "video_url", "video_url": {"url": source}}


def user_message(
    text: str | None = None,
    images: Iterable[Any] = (),
    videos: Iterable[Any] = (),
    files: Iterable[str | Path] = (),
    *,
    dpi: int = 180,
    max_pages: int | None = None,
    max_tokens: int | None = None,
) -> Message:
    """A user turn from a prompt plus images, videos and documents (PDF, PPTX, …).

    Media come before the text, as the official demos send them. Document pages are rendered (see
    :func:`glmv.media.load_documents`: the documents of one message share the request's page budget, as on the
    server) and become image parts; when a budget drops pages, a warning says which.
    """
    parts: list[dict[str, Any]] = []
    files = list(files)
    if files:
        from glmv.media import load_documents

        documents = load_documents(files, dpi=dpi, max_pages=max_pages, max_tokens=max_tokens)
        for path, document in zip(files, documents, strict=True):
            if document.note:
                logger.warning("%s: %s", path, document.note)
            parts.extend(image_part(page) for page in document.pages)
    parts.extend(image_part(image) for image in images)
    parts.extend(video_part(video) for video in videos)
    if text:
        parts.append(text_part(text))
    if not parts:
        raise RequestError("A user message needs a prompt or at least one image, video or file.")
    if len(parts) == 1 and parts[0]["type"] == "text":
        return {"role": "user", "content": text}
    return {"role": "user", "content": parts}


def _part_kind(part: Any) -> Literal["text", "image", "video"]:
    if isinstance(part, str):
        return "text"
    if not isinstance(part, dict):
        raise RequestError(f"A content part must be an object, got {type(part).__name__}.", field="messages")
    kind = part.get("type")
    if kind == "text" or (kind is None and "text" in part):
        return "text"
    if kind in _IMAGE_TYPES or (kind is None and ("image" in part or "image_url" in part)):
        return "image"
    if kind in _VIDEO_TYPES or (kind is None and ("video" in part or "video_url" in part)):
        return "video"
    raise RequestError(
        f"Unknown content part type {kind!r}. Supported: text, image_url, video_url "
        "(convert documents to page images with glmv.messages.user_message(files=...)).",
        field="messages",
    )


def _part_source(part: dict[str, Any], kind: str) -> Any:
    for key in (f"{kind}_url", kind, "url"):
        value = part.get(key)
        if isinstance(value, dict):
            value = value.get("url")
        if value is not None:
            return value
    raise RequestError(f"A {kind} part has no URL or data: {json.dumps(part)[:200]}", field="messages")


def normalize_content(content: Any) -> list[dict[str, Any]]:
    """Content as a list of typed parts (a plain string becomes one text part)."""
    if content is None:
        return []
    if isinstance(content, str):
        return [text_part(content)]
    if isinstance(content, dict):
        content = [content]
    if not isinstance(content, Sequence):
        raise RequestError(
            f"Message content must be a string or a list of parts, got {type(content).__name__}."
        )
    parts = []
    for part in content:
        kind = _part_kind(part)
        if kind == "text":
            parts.append(text_part(part if isinstance(part, str) else part.get("text", "")))
        else:
            parts.append(part)
    return parts


def _last_user_index(messages: Sequence[Message]) -> int:
    return max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)


def apply_history_policy(messages: Sequence[Message], family: Family | str) -> list[Message]:
    """Messages as GLM expects them back: earlier answers without their reasoning.

    Assistant turns before the last user turn lose ``reasoning_content`` / ``reasoning`` and any
    ``<think>`` text in their content; for families with ``<answer>`` tags (GLM-4.1V) only the answer text
    stays. Assistant turns after the last user turn (an ongoing tool loop) keep their reasoning, which the
    templates render (interleaved thinking). The input is not modified.
    """
    from glmv.output import parse_reply

    family = get_family(family)
    last_user = _last_user_index(messages)
    result = []
    for index, message in enumerate(messages):
        if message.get("role") != "assistant" or index > last_user:
            result.append(message)
            continue
        cleaned = {k: v for k, v in message.items() if k not in ("reasoning_content", "reasoning")}
        content = message.get("content")
        if isinstance(content, str) and content:
            cleaned["content"] = parse_reply(content, family=family, fence_html=False).content
        result.append(cleaned)
    return result


def media_in_order(messages: Sequence[Message], family: Family | str | None = None) -> list[MediaRef]:
    """Every image and video of a conversation, in the order the chat template emits their placeholders.

    Images inside tool results count only for families whose template renders them (GLM-4.6V).
    """
    multimodal_tools = family is not None and get_family(family).multimodal_tool_results
    refs: list[MediaRef] = []
    for message in messages:
        role = message.get("role")
        if role != "user" and not (role == "tool" and multimodal_tools):
            continue
        content = message.get("content")
        if role == "tool" and not isinstance(content, list):
            continue
        for part in normalize_content(content):
            kind = _part_kind(part)
            if kind != "text":
                refs.append(MediaRef(kind, _part_source(part, kind)))
    return refs


def _template_part(part: dict[str, Any]) -> dict[str, Any]:
    kind = _part_kind(part)
    return part if kind == "text" else {"type": kind}


def _system_text(content: Any) -> str:
    parts = normalize_content(content)
    if any(_part_kind(p) != "text" for p in parts):
        raise RequestError("System messages may hold text only; put images and videos in a user message.")
    return "".join(p["text"] for p in parts)


def _tool_calls_with_dict_arguments(calls: Any) -> list[dict[str, Any]]:
    """The assistant's ``tool_calls`` with arguments as dicts; a malformed call is a RequestError naming it."""
    if not isinstance(calls, list):
        raise RequestError("An assistant message's tool_calls must be a list of calls.", field="messages")
    fixed = []
    for number, call in enumerate(calls):
        function = call.get("function", call) if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise RequestError(
                f"tool_calls[{number}] is not a call: give {{'function': {{'name': ..., 'arguments': ...}}}}.",
                field="messages",
            )
        call = copy.deepcopy(call)
        function = call.get("function", call)
        arguments = function.get("arguments")
        if isinstance(arguments, str):
            try:
                function["arguments"] = json.loads(arguments) if arguments.strip() else {}
            except json.JSONDecodeError as exc:
                raise RequestError(
                    f"Tool call {function.get('name')!r} has arguments that are not valid JSON: {exc}",
                    field="messages",
                ) from exc
        elif arguments is None:
            function["arguments"] = {}
        if not isinstance(function["arguments"], dict):
            raise RequestError(
                f"Tool call {function['name']!r} has arguments that are not a JSON object.", field="messages"
            )
        fixed.append(call)
    return fixed


def check_text(text: str, where: str) -> str:
    """``text`` unchanged, or a :class:`~glmv.errors.RequestError` when it holds a media placeholder token or a
    lone surrogate (which no tokenizer can encode)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise RequestError(
            f"{where} holds a lone surrogate (U+{ord(text[exc.start]):04X} at character {exc.start}), which is "
            "not a character; send valid Unicode text.",
            field="messages",
        ) from exc
    for token in MEDIA_TOKENS:
        if token in text:
            raise RequestError(
                f"{where} contains {token}, a special token the model reserves for media; glmv inserts it "
                "for each image_url / video_url part. Remove it from the text (or send the medium as a part).",
                field="messages",
            )
    return text


def _check_texts(message: Message, where: str) -> None:
    content = message.get("content")
    if isinstance(content, str):
        check_text(content, f"{where}.content")
    elif isinstance(content, list):
        for number, part in enumerate(content):
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                check_text(part["text"], f"{where}.content[{number}]")


def to_processor_messages(
    messages: Sequence[Message], family: Family | str
) -> tuple[list[Message], list[MediaRef]]:
    """Messages a GLM chat template renders, plus the media to hand the processor in the same order.

    OpenAI media parts become ``{"type": "image"}`` / ``{"type": "video"}`` placeholders; tool-call
    ``arguments`` JSON strings become dicts (the templates need dicts); the history policy is applied. Text holding
    a media placeholder token (:data:`glmv.families.MEDIA_TOKENS`) is refused: it would pair with media that are not there.
    """
    family = get_family(family)
    rendered: list[Message] = []
    for number, message in enumerate(apply_history_policy(messages, family)):
        role = message.get("role")
        if role not in ("system", "user", "assistant", "tool"):
            raise RequestError(f"Unknown message role {role!r}.", field="messages")
        out = dict(message)
        content = message.get("content")
        if role == "system" and not isinstance(content, str):
            out["content"] = _system_text(content)
        elif (role == "user" and not isinstance(content, str)) or (
            role == "tool" and isinstance(content, list) and family.multimodal_tool_results
        ):
            out["content"] = [_template_part(p) for p in normalize_content(content)]
        elif role == "assistant":
            if isinstance(content, list):
                out["content"] = "".join(p["text"] for p in normalize_content(content) if "text" in p)
            elif content is None:
                out["content"] = ""
            if message.get("tool_calls"):
                out["tool_calls"] = _tool_calls_with_dict_arguments(message["tool_calls"])
        _check_texts(out, f"messages[{number}]")
        rendered.append(out)
    return rendered, media_in_order(messages, family)
