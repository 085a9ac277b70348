"""Fence raw HTML answers in a ```` ```html ```` block, as the official web demo's ``html_detector.py`` patch does.

GLM sometimes answers with a bare HTML page. The official demo opens a ```` ```html ```` fence before the first
HTML tag and closes it when the stream ends. Here the decision is made on the first :data:`WINDOW` characters
of the (already trimmed) content, so it is the same however the text is cut into deltas:

- a line in that window starts with ``<!DOCTYPE html``, ``<html``, ``<head``, ``<body``, ``<div``,
  ``<section``, ``<article``, ``<main``, ``<header``, ``<footer`` or ``<nav`` (any case), and
- the window holds no ```` ``` ```` (text the model fenced itself is left alone).

Text before that tag passes through, then ```` ```html\\n ```` and the rest; ``\\n```` `` closes the fence at
the end. Unlike the demo, a stray inline tag (``use <b>bold</b>``) does not open a fence.
"""

from __future__ import annotations

import re

__all__ = ["WINDOW", "HtmlFence", "fence_html"]

WINDOW = 64
_START = re.compile(
    r"(?:^|(?<=\n))[ \t]*(<(?:!doctype\s+html|html|head|body|div|section|article|main|header|footer|nav))"
    r"(?=[\s>/])",
    re.IGNORECASE,
)
_OPEN = "```html\n"
_CLOSE = "\n```"


class HtmlFence:
    """Streaming fencer: :meth:`push` text, then :meth:`close`; the outputs joined are the fenced text."""

    def __init__(self) -> None:
        self._held: list[str] = []
        self._size = 0
        self._fenced: bool | None = None

    def push(self, text: str) -> str:
        if self._fenced is not None:
            return text
        self._held.append(text)
        self._size += len(text)
        return self._decide() if self._size >= WINDOW else ""

    def close(self) -> str:
        out = self._decide() if self._fenced is None and self._size else ""
        if self._fenced:
            out += _CLOSE
        return out

    def _decide(self) -> str:
        text = "".join(self._held)
        self._held = []
        head = text[:WINDOW]
        match = None if "```" in head else _START.search(head)
        self._fenced = match is not None
        if match is None:
            return text
        return text[: match.start(1)] + _OPEN + text[match.start(1) :]


def fence_html(text: str) -> str:
    """``text`` with a raw HTML answer wrapped in a ```` ```html ```` fence (unchanged otherwise)."""
    fence = HtmlFence()
    return fence.push(text) + fence.close()
