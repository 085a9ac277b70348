"""A validated request body becomes a :class:`PendingChat`: checked, its media measured but not yet decoded.

Media are resolved here, in the server, before the engine sees the request, in two steps:

1. :func:`build_request` (before admission) reads each ``image_url`` / ``video_url`` through :mod:`glmv.media`
   under the server's :class:`~glmv.media.MediaPolicy` (``file://`` only under ``--allowed-local-media-path``,
   symlinks and ``..`` resolved, regular files only; http(s) only to public addresses unless
   ``--allow-private-media-urls``; byte, pixel, aspect-ratio and bomb limits) and measures it from its header with
   :func:`glmv.media.check_request_media`, which refuses the request when all its media together pass the request
   budgets (``max_request_pixels``, ``max_request_frames``, ``max_request_bytes``). Nothing is decoded, so a
   request waiting in the queue holds only its encoded bytes.
2. :meth:`PendingChat.load` (after admission, in the worker thread) decodes the images and hands videos over as
   the bytes of the file (the engine samples frames for its family). The decoded request lives only while it is
   generated, so its pixels are released when the request ends.

The engine never sees a URL or path a user sent. An unknown part type is a 400 that names the part.

Text is checked for what would break the prompt: the media placeholder tokens (``<|image|>``, ``<|video|>``,
``<|begin_of_image|>`` …) typed as text are refused with a 400, since the processor would pair them with media
that are not there (vLLM fails on them too); other special tokens (``<think>``, ``<|begin_of_box|>`` …) pass as
vLLM passes them. ``stop`` is checked by :func:`glmv.engine.stops.check_stops` (a 400 past its limits).

``tool_choice``: ``"auto"`` (the default with tools) and ``"none"`` (the tools are not shown to the model)
are supported. ``"required"`` and a named function are rejected with a 400: GLM writes tool calls as XML
that no grammar enforces here, and silently not enforcing them (as vLLM's glm45 parser does) would mislead.
``response_format`` other than ``text`` is refused the same way, rather than ignored. ``logprobs`` and
``top_logprobs`` reach the engine (``top_logprobs`` without ``logprobs: true`` is a 400, as OpenAI answers).

``skip_special_tokens: false`` asks for the box markers to stay in ``content`` (as vLLM and SGLang decode it):
the request carries ``keep_box_markers=True`` and the engine's one parse honours it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from glmv.engine.stops import check_stops
from glmv.engine.types import ChatRequest
from glmv.errors import RequestError
from glmv.families import Family
from glmv.messages import check_text
from glmv.server.schemas import ChatCompletionRequest

__all__ = ["PendingChat", "build_request"]


@dataclass(frozen=True)
class _Slot:
    """Where a measured medium goes back: ``messages[message]["content"][part]``."""

    message: int
    part: int


@dataclass(frozen=True)
class PendingChat:
    """A checked request whose media are measured, not decoded: ``request`` holds the measured media in place
    of each medium (it carries everything but pixels: ``n``, ``tools``, ``stop`` …); :meth:`load` decodes them."""

    request: ChatRequest
    media: tuple[tuple[_Slot, Any], ...] = ()
    policy: Any = None

    def load(self) -> ChatRequest:
        """The engine request with every medium decoded (blocking: run it in a worker thread)."""
        if not self.media:
            return self.request
        messages = [dict(message) for message in self.request.messages]
        for slot, measured in self.media:
            content = messages[slot.message]["content"] = list(messages[slot.message]["content"])
            if measured.kind == "image":
                content[slot.part] = {"type": "image", "image": measured.load(self.policy)}
            else:
                content[slot.part] = {"type": "video", "video": measured.source.read()}
        return self.request.with_(messages=messages)


def _part_url(part: dict[str, Any], kind: str, where: str) -> str:
    value = part.get(kind)
    url = value.get("url") if isinstance(value, dict) else value
    if not isinstance(url, str) or not url:
        raise RequestError(
            f'{where} is a {kind} part without a URL: send {{"{kind}": {{"url": "..."}}}}.', field="messages"
        )
    if "\x00" in url:
        raise RequestError(
            f"{where} has a NUL character in its URL; no file or address has one.", field="messages"
        )
    return url


def _content(content: Any, where: str, media: list[tuple[str, str, _Slot]], number: int) -> Any:
    """``content`` with text checked and each media part noted in ``media`` (a placeholder left in its place)."""
    if content is None:
        return None
    if isinstance(content, str):
        return check_text(content, f"{where}.content")
    parts: list[Any] = []
    for index, part in enumerate(content):
        place = f"{where}.content[{index}]"
        if isinstance(part, str):
            parts.append({"type": "text", "text": check_text(part, place)})
            continue
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            if not isinstance(part.get("text"), str):
                raise RequestError(f"{place} is a text part without a text string.", field="messages")
            parts.append({"type": "text", "text": check_text(part["text"], place)})
        elif kind in ("image_url", "video_url"):
            media.append((kind.removesuffix("_url"), _part_url(part, kind, place), _Slot(number, len(parts))))
            parts.append(None)
        else:
            raise RequestError(
                f"Unknown content part type {kind!r} in {place}. Supported types: text, image_url, video_url. "
                "Send documents (PDF, slides) as one image_url part per page.",
                field="messages",
            )
    return parts


def _tools(body: ChatCompletionRequest, family: Family | None) -> list[dict[str, Any]] | None:
    if not body.tools or body.tool_choice == "none":
        return None
    if family is not None and not family.tool_calls:
        raise RequestError(
            f"{family.title} does not call tools; drop 'tools' from the request or serve a GLM-4.5V/4.6V model.",
            field="tools",
        )
    if body.tool_choice == "required" or isinstance(body.tool_choice, dict):
        raise RequestError(
            f"tool_choice {body.tool_choice!r} is not supported: GLM tool calls are not grammar-enforced, so glmv "
            "serves only 'auto' and 'none'. Use 'auto' and describe in the prompt which tool to call.",
            field="tool_choice",
        )
    return [tool.model_dump(exclude_none=True) for tool in body.tools]


def _check_unserved(body: ChatCompletionRequest) -> None:
    """A 400 for options glmv cannot honour, rather than ignoring them."""
    if body.response_format is not None and body.response_format.type != "text":
        raise RequestError(
            f"response_format {body.response_format.type!r} is not supported: glmv does not constrain decoding "
            "to JSON (GLM output is not grammar-enforced here). Send response_format {'type': 'text'} or leave it "
            "out, and ask for JSON in the prompt.",
            field="response_format",
        )


def build_request(body: ChatCompletionRequest, policy: Any, family: Family | None, model: str) -> PendingChat:
    """The checked request for ``body`` with its media measured against ``policy``'s request budgets; blocking
    (media are fetched and their headers read), so run it off the event loop. Nothing is decoded."""
    from glmv.media import check_request_media

    _check_unserved(body)
    stops = check_stops(body.stop)
    messages = []
    found: list[tuple[str, str, _Slot]] = []
    for number, message in enumerate(body.messages):
        data = message.model_dump(exclude_none=True)
        reasoning = data.pop("reasoning", None)
        if reasoning and not data.get("reasoning_content"):
            data["reasoning_content"] = reasoning
        where = f"messages[{number}]"
        if message.role == "assistant":
            if isinstance(message.content, str):
                check_text(message.content, f"{where}.content")
        else:
            data["content"] = _content(message.content, where, found, number)
        messages.append(data)
    measured = check_request_media(((kind, url) for kind, url, _ in found), policy, family)
    slots = tuple((slot, item) for (_, _, slot), item in zip(found, measured, strict=True))
    for slot, item in slots:
        messages[slot.message]["content"][slot.part] = {"type": item.kind, item.kind: item}
    top_k = body.top_k if body.top_k and body.top_k > 0 else None
    request = ChatRequest(
        messages=messages,
        tools=_tools(body, family),
        tool_choice="auto" if body.tools and body.tool_choice != "none" else None,
        max_tokens=body.length_limit,
        temperature=body.temperature,
        top_p=body.top_p,
        top_k=top_k,
        repetition_penalty=body.repetition_penalty,
        stop=[stop for stop in stops or () if stop] or None,
        seed=body.seed,
        n=body.n,
        enable_thinking=body.enable_thinking,
        thinking_budget=body.budget,
        model=model,
        keep_box_markers=not body.skip_special_tokens,
        logprobs=bool(body.logprobs),
        top_logprobs=body.top_logprobs,
    )
    return PendingChat(request, slots, policy)
