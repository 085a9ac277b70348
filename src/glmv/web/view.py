"""What the page shows, computed from the session: chat messages, the grounding picture, the HTML preview.

:func:`chat_messages` turns the :class:`~glmv.web.session.Turn` list into Gradio chat messages (the reasoning as
a collapsible thought whose header carries the token count and the time, open while it streams and closed once
the answer starts). :func:`grounding` draws the last reply's boxes and points on the conversation's last image
with :func:`glmv.output.draw_boxes` and lists their coordinates. :func:`html_preview` finds the HTML of an answer
(``glmv.output`` already fenced a raw page) and wraps it in a sandboxed iframe: scripts run, but in an opaque
origin (no ``allow-same-origin``) under a content security policy that lets nothing load from the network.
"""

from __future__ import annotations

import html
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from glmv.media import MediaPolicy
    from glmv.messages import Conversation
    from glmv.output import Reply
    from glmv.web.session import Turn

__all__ = ["chat_messages", "grounding", "html_preview", "html_source", "thinking_title"]

_HTML_FENCE = re.compile(r"```[ \t]*html[ \t]*\n(.*?)(?:\n```|\Z)", re.DOTALL | re.IGNORECASE)
_HEAD = re.compile(r"<head(?:\s[^>]*)?>", re.IGNORECASE)
CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:; "
    "font-src data:; media-src data: blob:"
)
"""What a previewed page may load: nothing from the network, only what it carries inline."""


def thinking_title(turn: Turn) -> str:
    """``Thinking · 12 tokens · 1.4 s`` while it streams, ``Thought for 1.4 s · 12 tokens`` after."""
    tokens = f"{turn.reasoning_tokens} token{'s' if turn.reasoning_tokens != 1 else ''}"
    if turn.thinking_seconds is None:
        return f"Thinking · {tokens} · {time.monotonic() - turn.started:.1f} s"
    return f"Thought for {turn.thinking_seconds:.1f} s · {tokens}"


def _user_content(turn: Turn) -> list[Any]:
    """The uploads (shown as thumbnails or players), then the text and what each upload costs."""
    lines = [turn.text] if turn.text else []
    lines += [f"*{note}*" for note in turn.notes]
    content: list[Any] = [{"path": str(upload.path)} for upload in turn.uploads]
    if lines:
        content.append("\n\n".join(lines))
    return content


def _answer(turn: Turn) -> str | None:
    text = turn.content
    if turn.status == "stopped":
        return f"{text}\n\n*(stopped)*" if text else "*(stopped)*"
    if turn.status == "done" and turn.reply is not None and turn.reply.finish_reason == "length":
        return f"{text}\n\n*(the reply reached the max tokens limit)*"
    if turn.status == "done" and not text and turn.reply is not None and turn.reply.tool_calls:
        return "\n".join(f"`{call.name}({call.arguments_json()})`" for call in turn.reply.tool_calls)
    return text or None


def chat_messages(turns: list[Turn]) -> tuple[list[dict[str, Any]], list[int]]:
    """The chat messages of ``turns`` and, for each message, the index of the turn it shows."""
    messages: list[dict[str, Any]] = []
    owners: list[int] = []

    def add(index: int, message: dict[str, Any]) -> None:
        messages.append(message)
        owners.append(index)

    for index, turn in enumerate(turns):
        add(index, {"role": "user", "content": _user_content(turn)})
        if turn.reasoning:
            status = "pending" if turn.status == "thinking" else "done"
            add(
                index,
                {
                    "role": "assistant",
                    "content": turn.reasoning,
                    "metadata": {"title": thinking_title(turn), "status": status},
                },
            )
        answer = _answer(turn)
        if answer:
            add(index, {"role": "assistant", "content": answer})
        if turn.error:
            add(index, {"role": "assistant", "content": f"**Error:** {turn.error}"})
    return messages, owners


def grounding(
    reply: Reply | None, conversation: Conversation, folder: Path, policy: MediaPolicy | None = None
) -> tuple[str | None, str]:
    """The last image with ``reply``'s boxes and points drawn and labelled (a PNG path in ``folder``, or
    ``None``) and a markdown table of their coordinates (thousandths and pixels of the original image)."""
    from glmv.media import load_image
    from glmv.output import Box, draw_boxes

    shapes = [*reply.boxes, *reply.points] if reply is not None else []
    source = conversation.last_image
    if not shapes or source is None:
        return None, ""
    image = load_image(source, policy)
    labels = [shape.label or str(number) for number, shape in enumerate(shapes, 1)]
    target = folder / f"boxes-{len(list(folder.glob('boxes-*.png')))}.png"
    draw_boxes(image, shapes, labels).save(target)
    width, height = image.size
    rows = [f"Boxes on the last image ({width}×{height} px):", "", "| # | kind | thousandths | pixels |"]
    rows.append("|---|---|---|---|")
    for label, shape in zip(labels, shapes, strict=True):
        kind = "box" if isinstance(shape, Box) else "point"
        pixels = ", ".join(str(round(value)) for value in shape.to_pixels(width, height))
        thousandths = ", ".join(f"{value:g}" for value in shape.as_list())
        rows.append(f"| {label} | {kind} | [{thousandths}] | [{pixels}] |")
    return str(target), "\n".join(rows)


def html_source(content: str) -> str | None:
    """The HTML of the last ```` ```html ```` block of an answer, or ``None``."""
    blocks = _HTML_FENCE.findall(content or "")
    return blocks[-1].strip() if blocks and blocks[-1].strip() else None


def html_preview(source: str, height: int = 480) -> str:
    """An ``<iframe>`` showing ``source`` sandboxed (scripts on, no same origin, no network)."""
    policy = f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
    match = _HEAD.search(source)
    page = source[: match.end()] + policy + source[match.end() :] if match else policy + source
    return (
        f'<iframe id="glmv-html-preview" title="HTML preview" sandbox="allow-scripts" '
        f'referrerpolicy="no-referrer" style="width:100%;height:{height}px;border:1px solid #ccc;'
        f'border-radius:6px;background:white" srcdoc="{html.escape(page, quote=True)}"></iframe>'
    )
