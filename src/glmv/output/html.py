"""Fence raw HTML answers in a ```` ```html ```` block, as the official web demo's ``html_detector.py`` patch does.

GLM sometimes answers with a bare HTML page. The official demo opens a ```` ```html ```` fence before the first
HTML tag and closes it when the stream ends. Here the decision is made on the first :data:`WINDOW` characters
of the (already trimmed) content, so it is the same however the text is cut into deltas. The text is fenced when

- a line in that window starts (after spaces or tabs) with ``<!DOCTYPE html``, ``<html``, ``<head``, ``<body``,
  ``<div``, ``<section``, ``<article``, ``<main``, ``<header``, ``<footer`` or ``<nav`` (any case, followed by
  a space, ``>`` or ``/``), and
- the window holds no ```` ``` ```` (text the model fenced itself is left alone).

Text before that tag passes through, then ```` ```html\\n ```` and the rest; ``\\n```` `` closes the fence at
the end. Unlike the demo, a stray inline tag (``use <b>bold</b>``) does not open a fence.

**Streaming holds back as little as the rule allows.** The fence only ever goes in front of a ``<`` that starts
a line, so everything before such a ``<`` passes through at once, fenced or not. Held back is only the text
from the first line-starting ``<`` whose characters so far could still grow into one of the tags above
(``<``, ``<d``, ``<!DOC``, ``<div ``) until the window is full, a ```` ``` ```` shows up, or the text ends;
a ``<`` that can no longer become such a tag (``<b>``, ``<3``, ``<|``) is let through. So ``The answer is 4``
streams from its first character, while ``<div>hi</div>`` waits for the window (or the end) to decide.
"""

from __future__ import annotations

import re

__all__ = ["WINDOW", "HtmlFence", "fence_html"]

WINDOW = 64
_TAGS = ("html", "head", "body", "div", "section", "article", "main", "header", "footer", "nav")
_START = re.compile(
    r"(?:^|(?<=\n))[ \t]*(<(?:!doctype\s+html|" + "|".join(_TAGS) + r"))(?=[\s>/])",
    re.IGNORECASE,
)
# A ``<`` at the start of a line (after spaces or tabs): the only places a fence can open.
_LINE_TAG = re.compile(r"(?:^|(?<=\n))[ \t]*(<)")
# The tag of _START (its lookahead character included) at a position.
_TAG = re.compile(r"<(?:!doctype\s+html|" + "|".join(_TAGS) + r")[\s>/]", re.IGNORECASE)


def _prefixes(pieces: list[str]) -> str:
    """A pattern matching every non-empty prefix of ``pieces`` joined (each piece a regex atom)."""
    pattern = ""
    for piece in reversed(pieces):
        pattern = f"{piece}(?:{pattern})?" if pattern else piece
    return pattern


# Text at a position that is a proper beginning of a _TAG match: it may still become one.
_TAG_BEGINNING = re.compile(
    "<(?:"
    + "|".join([_prefixes(["!", *"doctype", r"\s+", *"html"]), *(_prefixes(list(tag)) for tag in _TAGS)])
    + r")?",
    re.IGNORECASE,
)
_OPEN = "```html\n"
_CLOSE = "\n```"


class HtmlFence:
    """Streaming fencer: :meth:`push` text, then :meth:`close`; the outputs joined are the fenced text."""

    def __init__(self) -> None:
        self._text = ""  # everything pushed while undecided (shorter than WINDOW until the decision)
        self._sent = 0  # how much of it has been passed through
        self._fenced: bool | None = None

    def push(self, text: str) -> str:
        if self._fenced is not None:
            return text
        self._text += text
        if len(self._text) >= WINDOW or "```" in self._text:
            return self._decide()
        hold = self._first_possible_tag()
        out = self._text[self._sent : hold]
        self._sent = hold
        return out

    def close(self) -> str:
        out = self._decide() if self._fenced is None and self._text else ""
        if self._fenced:
            out += _CLOSE
        return out

    def _first_possible_tag(self) -> int:
        """Where the first line-starting ``<`` that may still open a fence is (the text's end if none)."""
        text = self._text
        for line in _LINE_TAG.finditer(text):
            start = line.start(1)
            if start < self._sent:
                continue
            if _TAG.match(text, start) or _TAG_BEGINNING.fullmatch(text, start):
                return start
        return len(text)

    def _decide(self) -> str:
        text = self._text
        head = text[:WINDOW]
        match = None if "```" in head else _START.search(head)
        self._fenced = match is not None
        self._text = ""
        if match is None:
            return text[self._sent :]
        # Nothing from a possible tag on was passed through, so the fence still goes where it belongs.
        return text[self._sent : match.start(1)] + _OPEN + text[match.start(1) :]


def fence_html(text: str) -> str:
    """``text`` with a raw HTML answer wrapped in a ```` ```html ```` fence (unchanged otherwise)."""
    fence = HtmlFence()
    return fence.push(text) + fence.close()
