"""Box markers and coordinates: ``<|begin_of_box|>…<|end_of_box|>`` spans, ``\\boxed{…}``, boxes and points.

GLM wraps its final answer, and grounding coordinates, in ``<|begin_of_box|>`` / ``<|end_of_box|>``. Coordinates
are thousandths of the original image (0–1000), written in any bracket style: ``[x1,y1,x2,y2]``,
``[[x1,y1,x2,y2], …]``, ``(x1,y1,x2,y2)``, ``<x1,y1,x2,y2>``, ``{…}``, bare ``x1,y1,x2,y2``; two numbers are a
point. Detection JSON (``[{"label": "cat", "bbox_2d": [...]}]``, ``"point_2d"``) gives labelled boxes/points.

:func:`extract_boxed` and :func:`extract_latex_boxed` are the answer extractors the reward system uses
(outermost spans, stack / brace matched, as the official reward system does); :func:`count_box_markers` and
:func:`has_latex_boxed` are the box questions of its format gate.
"""

from __future__ import annotations

import json
import re
from typing import Any

from glmv.output.reply import Box, Point

__all__ = [
    "BOX_BEGIN",
    "BOX_END",
    "LATEX_BOXED",
    "count_box_markers",
    "extract_boxed",
    "extract_latex_boxed",
    "find_bare_boxes",
    "has_latex_boxed",
    "parse_coordinates",
    "strip_box_markers",
]

BOX_BEGIN = "<|begin_of_box|>"
BOX_END = "<|end_of_box|>"
LATEX_BOXED = "\\boxed{"

_MARKER = re.compile(re.escape(BOX_BEGIN) + "|" + re.escape(BOX_END))
_NUM = r"(\d+(?:\.\d+)?)"
_SEP = r"(?:\s*,\s*|\s+)"
_TUPLE = re.compile(r"[\[(<{]\s*" + _NUM + _SEP + _NUM + r"(?:" + _SEP + _NUM + _SEP + _NUM + r")?\s*[\])>}]")
_BOX_TUPLE = re.compile(r"[\[(<{]\s*" + _NUM + _SEP + _NUM + _SEP + _NUM + _SEP + _NUM + r"\s*[\])>}]")
_BARE = re.compile(r"\s*" + _NUM + _SEP + _NUM + r"(?:" + _SEP + _NUM + _SEP + _NUM + r")?\s*")
_LIMIT = 1000


def strip_box_markers(text: str) -> str:
    """``text`` without ``<|begin_of_box|>`` / ``<|end_of_box|>`` (their inner text kept)."""
    return _MARKER.sub("", text)


def count_box_markers(text: str) -> tuple[int, int]:
    """How many ``<|begin_of_box|>`` and ``<|end_of_box|>`` markers ``text`` holds, in any case (the official
    format gate allows one of each in an answer)."""
    low = text.lower()
    return low.count(BOX_BEGIN), low.count(BOX_END)


def has_latex_boxed(text: str) -> bool:
    """Whether ``text`` opens a LaTeX ``\\boxed{`` (any case), which the official format gate refuses."""
    return LATEX_BOXED in text.lower()


def extract_boxed(text: str) -> list[str]:
    """The stripped text of each outermost ``<|begin_of_box|>…<|end_of_box|>`` pair, in order.

    Stack-based: a nested pair stays inside its outer span (``A<|begin_of_box|>B<|end_of_box|>C`` inside an
    outer pair is one string, markers included); unmatched end markers are ignored and an unclosed span
    (cut-off output) is not returned.
    """
    spans: list[str] = []
    depth = 0
    start = 0
    for match in _MARKER.finditer(text):
        if match.group() == BOX_BEGIN:
            if depth == 0:
                start = match.end()
            depth += 1
        elif depth > 0:
            depth -= 1
            if depth == 0:
                spans.append(text[start : match.start()].strip())
    return spans


def extract_latex_boxed(text: str) -> list[str]:
    """The text of each top-level ``\\boxed{…}`` (braces matched), in order; unbalanced spans are skipped.

    ``\\boxed{\\boxed{x}}`` gives ``["\\boxed{x}"]`` (the inner text of the outermost).
    """
    found: list[str] = []
    tag = LATEX_BOXED
    pos = text.find(tag)
    while pos != -1:
        start = pos + len(tag)
        depth = 1
        index = start
        while index < len(text) and depth:
            char = text[index]
            if char == "\\" and index + 1 < len(text) and text[index + 1] in "{}":
                index += 2
                continue
            if char == "{":
                depth += 1
            elif char == "}":
                depth -= 1
            index += 1
        if depth:
            return found
        found.append(text[start : index - 1].strip())
        pos = text.find(tag, index)
    return found


def _number(text: str) -> int | float:
    return float(text) if "." in text else int(text)


def _in_range(values: list[int | float]) -> bool:
    return all(0 <= value <= _LIMIT for value in values)


def _from_json(text: str) -> tuple[list[Box], list[Point]] | None:
    """Labelled boxes/points from detection JSON (``bbox_2d`` / ``point_2d``), or None if it is not that."""
    stripped = text.strip()
    if not stripped.startswith(("[", "{")) or ("bbox_2d" not in stripped and "point_2d" not in stripped):
        return None
    try:
        data: Any = json.loads(stripped)
    except ValueError:
        return None
    items = data if isinstance(data, list) else [data]
    boxes: list[Box] = []
    points: list[Point] = []
    for item in items:
        if not isinstance(item, dict):
            return None
        label = item.get("label")
        label = label if isinstance(label, str) else None
        for key, size in (("bbox_2d", 4), ("point_2d", 2)):
            values = item.get(key)
            if not isinstance(values, list) or len(values) != size:
                continue
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
                continue
            if not _in_range(values):
                continue
            if size == 4:
                boxes.append(Box(*values, label=label))
            else:
                points.append(Point(*values, label=label))
    return boxes, points


def parse_coordinates(text: str) -> tuple[list[Box], list[Point]]:
    """The boxes (4 numbers) and points (2 numbers) written in ``text``, the inside of one box span.

    Values must lie in 0–1000 (thousandths); tuples outside that range are not coordinates and are skipped.
    Numbers are kept as written (``int`` or ``float``).
    """
    labelled = _from_json(text)
    if labelled is not None:
        return labelled
    boxes: list[Box] = []
    points: list[Point] = []
    matches = list(_TUPLE.finditer(text))
    groups = [m.groups() for m in matches]
    if not matches:
        bare = _BARE.fullmatch(text)
        if bare is None:
            return boxes, points
        groups = [bare.groups()]
    for group in groups:
        values = [_number(v) for v in group if v is not None]
        if not _in_range(values):
            continue
        if len(values) == 4:
            boxes.append(Box(*values))
        else:
            points.append(Point(*values))
    return boxes, points


def find_bare_boxes(text: str) -> list[Box]:
    """Bracketed 4-tuples in 0–1000 anywhere in ``text`` (for replies that give boxes without box markers)."""
    boxes = []
    for match in _BOX_TUPLE.finditer(text):
        values = [_number(v) for v in match.groups()]
        if _in_range(values):
            boxes.append(Box(*values))
    return boxes
