"""The conversation as files to download: the glmv conversation JSON (what ``glmv chat /save`` writes and
``glmv chat --load`` reads, media embedded) and a readable markdown transcript."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from glmv.messages import Conversation

__all__ = ["conversation_markdown", "export_json", "export_markdown"]


def _medium(part: dict[str, Any]) -> str:
    kind = "image" if part.get("type") == "image_url" else "video"
    url = str(part.get(part.get("type", ""), {}).get("url", ""))
    return f"*[{kind}: embedded]*" if url.startswith("data:") else f"*[{kind}: {url}]*"


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    pieces = []
    for part in content or []:
        if part.get("type") == "text":
            pieces.append(part.get("text", ""))
        else:
            pieces.append(_medium(part))
    return "\n\n".join(pieces)


def conversation_markdown(conversation: Conversation) -> str:
    """A markdown transcript: the system prompt, each question with its media named, each reply (reasoning in
    a collapsed ``<details>`` block)."""
    lines = [f"# Conversation with {conversation.family.title}", ""]
    if conversation.system:
        lines += ["**System:** " + conversation.system, ""]
    for message in conversation.messages:
        role = message.get("role")
        if role == "user":
            lines += ["## User", "", _text(message.get("content")), ""]
        elif role == "assistant":
            lines += ["## Assistant", ""]
            if message.get("reasoning_content"):
                lines += [
                    "<details><summary>Thinking</summary>",
                    "",
                    message["reasoning_content"],
                    "",
                    "</details>",
                    "",
                ]
            lines += [_text(message.get("content")), ""]
        elif role == "tool":
            lines += ["## Tool result", "", _text(message.get("content")), ""]
    return "\n".join(lines).rstrip() + "\n"


def export_json(conversation: Conversation, folder: Path) -> Path:
    """Write the conversation file (media embedded, so it travels alone) into ``folder``."""
    return conversation.save(folder / "conversation.json", embed_media=True)


def export_markdown(conversation: Conversation, folder: Path) -> Path:
    """Write the markdown transcript into ``folder``."""
    target = folder / "conversation.md"
    target.write_text(conversation_markdown(conversation), encoding="utf-8")
    return target
