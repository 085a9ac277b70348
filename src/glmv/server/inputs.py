"""A validated request body becomes a :class:`~glmv.engine.ChatRequest`, with every medium loaded.

Media are resolved here, in the server, before the engine sees the request: each ``image_url`` /
``video_url`` is read through :mod:`glmv.media` under the server's :class:`~glmv.media.MediaPolicy`
(``file://`` only under ``--allowed-local-media-path``, symlinks and ``..`` resolved; http(s) only to public
addresses unless ``--allow-private-media-urls``; byte and pixel limits). Images are replaced by the decoded
picture; videos by the bytes of the file (the engine samples frames for its family, under the frame limits).
The engine never sees a URL or path a user sent. An unknown part type is a 400 that names the part.

``tool_choice``: ``"auto"`` (the default with tools) and ``"none"`` (the tools are not shown to the model)
are supported. ``"required"`` and a named function are rejected with a 400: GLM writes tool calls as XML
that no grammar enforces here, and silently not enforcing them (as vLLM's glm45 parser does) would mislead.

``skip_special_tokens: false`` asks for the box markers to stay in ``content`` (as vLLM and SGLang decode it):
the request carries ``keep_box_markers=True`` and the engine's one parse honours it.
"""

from __future__ import annotations

from typing import Any

from glmv.engine.types import ChatRequest
from glmv.errors import RequestError
from glmv.families import Family
from glmv.server.schemas import ChatCompletionRequest

__all__ = ["build_request", "resolve_content"]

_MEDIA_TYPES = ("image_url", "video_url")


def _part_url(part: dict[str, Any], kind: str, where: str) -> str:
    value = part.get(kind)
    url = value.get("url") if isinstance(value, dict) else value
    if not isinstance(url, str) or not url:
        raise RequestError(f'{where} is a {kind} part without a URL: send {{"{kind}": {{"url": "..."}}}}.')
    return url


def resolve_content(content: Any, where: str, policy: Any) -> Any:
    """``content`` with every media part replaced by the loaded medium (text kept as is)."""
    from glmv.media import load_image
    from glmv.media.sources import open_source

    if isinstance(content, str) or content is None:
        return content
    parts = []
    for number, part in enumerate(content):
        place = f"{where}.content[{number}]"
        if isinstance(part, str):
            parts.append({"type": "text", "text": part})
            continue
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            if not isinstance(part.get("text"), str):
                raise RequestError(f"{place} is a text part without a text string.", field="messages")
            parts.append({"type": "text", "text": part["text"]})
        elif kind == "image_url":
            parts.append({"type": "image", "image": load_image(_part_url(part, kind, place), policy)})
        elif kind == "video_url":
            source = open_source(_part_url(part, kind, place), policy, policy.max_video_bytes, "video")
            parts.append({"type": "video", "video": source.read()})
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


def build_request(body: ChatCompletionRequest, policy: Any, family: Family | None, model: str) -> ChatRequest:
    """The engine request for ``body``; blocking (media are read and decoded), so run it off the event loop."""
    messages = []
    for number, message in enumerate(body.messages):
        data = message.model_dump(exclude_none=True)
        reasoning = data.pop("reasoning", None)
        if reasoning and not data.get("reasoning_content"):
            data["reasoning_content"] = reasoning
        if message.role != "assistant":
            data["content"] = resolve_content(message.content, f"messages[{number}]", policy)
        messages.append(data)
    top_k = body.top_k if body.top_k and body.top_k > 0 else None
    return ChatRequest(
        messages=messages,
        tools=_tools(body, family),
        tool_choice="auto" if body.tools and body.tool_choice != "none" else None,
        max_tokens=body.length_limit,
        temperature=body.temperature,
        top_p=body.top_p,
        top_k=top_k,
        repetition_penalty=body.repetition_penalty,
        stop=body.stop or None,
        seed=body.seed,
        n=body.n,
        enable_thinking=body.enable_thinking,
        thinking_budget=body.budget,
        model=model,
        keep_box_markers=not body.skip_special_tokens,
    )
