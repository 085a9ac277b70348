"""The two nouns of :mod:`glmv.finetune`: a :class:`Sample` (one training conversation) and a :class:`Problem`.

A :class:`Sample` is one conversation in glmv's own form, whatever file it came from: OpenAI chat messages with
the system prompt as the first message, user and tool content as lists of ``text`` / ``image_url`` / ``video_url``
parts (media URLs are absolute paths, ``http(s)://`` URLs or ``data:`` URIs), and assistant messages already parsed:
readable ``content`` (box markers kept: the model is trained to write them), ``reasoning_content`` and
``tool_calls`` whose ``arguments`` are dicts. ``where`` says where it was read (``file:line``); ``id`` is the
record's own id when it had one, else ``where``.

A :class:`Problem` is one thing wrong with one sample: ``code`` is a stable short name (``missing-media``,
``placeholder-count``, ``roles``, ``empty-reply``, ``no-reasoning``, ``too-long``, ``duplicate``,
``broken-json``, ``unknown-shape``, …); ``fatal`` says whether it would break training (the sample is then left
out of a converted dataset, and ``glmv data check`` exits non-zero).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Problem", "Sample"]

Message = dict[str, Any]


@dataclass
class Sample:
    """One training conversation (see the module docstring for the shape of ``messages``)."""

    id: str
    where: str
    source: str
    messages: list[Message]
    tools: list[dict[str, Any]] = field(default_factory=list)

    def media(self) -> list[tuple[str, str]]:
        """``(kind, url)`` of every image and video, in the order the chat template emits them."""
        found = []
        for message in self.messages:
            if message.get("role") not in ("user", "tool"):
                continue
            content = message.get("content")
            if not isinstance(content, list):
                continue
            for part in content:
                kind = part.get("type")
                if kind in ("image_url", "video_url"):
                    found.append((kind[: -len("_url")], part[kind]["url"]))
        return found

    @property
    def system(self) -> str:
        """The system prompt, or an empty string."""
        first = self.messages[0] if self.messages else {}
        return first.get("content") or "" if first.get("role") == "system" else ""


@dataclass(frozen=True)
class Problem:
    """One problem with one sample: where it is, a stable ``code``, a message and whether it breaks training."""

    sample: str
    where: str
    code: str
    message: str
    fatal: bool = True

    def __str__(self) -> str:
        level = "error" if self.fatal else "warning"
        return f"{self.where}: {level} [{self.code}] {self.message}"
