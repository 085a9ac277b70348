"""LaTeX math in answers drawn as formulas: each one rendered to an image with matplotlib's mathtext.

Qt's rich text has no MathJax, so :func:`with_formulas` takes an answer's markdown, finds its formulas outside code
(``$…$`` and ``\\(…\\)`` inline; ``$$…$$`` and ``\\[…\\]`` displayed, centred on a line of their own) and puts an
image reference (``glmv-math:…``) in the place of each; the answer's text view serves those images (its
``loadResource``). Prices are not math: an opening ``$`` is never followed by a space, a closing one never follows
a space nor comes before a digit, so ``$5 or $10`` stays text. An image is rendered once per source, size, colour
and pixel ratio (cached), at the size of the text's font, in the text's colour (so a dark theme gets light
formulas), and padded so that the formula's baseline sits on the text's (:func:`align_formulas` lines inline ones
up and centres display ones). A formula mathtext cannot draw keeps its source, in code style. A few LaTeX
spellings mathtext lacks are translated first (``\\le``, ``\\tfrac``, ``\\displaystyle``; ``\\boxed{…}`` around a
whole formula draws a frame). Indented (not fenced) code blocks are not told apart from text.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QTextCharFormat, QTextCursor, QTextDocument

__all__ = [
    "Formula",
    "FormulaStyle",
    "align_formulas",
    "render_formula",
    "split_math",
    "warm_up",
    "with_formulas",
]

SCHEME = "glmv-math"
DISPLAY_SCALE = 1.25
"""Display formulas are drawn this much larger than the text."""

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+)(.+?)(?<!`)\1(?!`)", re.DOTALL)
_MATH = re.compile(
    r"\$\$(?P<display>.+?)\$\$"
    r"|\\\[(?P<bracket>.+?)\\\]"
    r"|\\\((?P<paren>.+?)\\\)"
    r"|(?<![\\$\w])\$(?![\s$])(?P<inline>(?:[^$\\\n]|\\.)+?)(?<![\s\\])\$(?![\d$])",
    re.DOTALL,
)
_SPELLINGS = (
    (re.compile(r"\\(?:displaystyle|textstyle|scriptstyle)(?![A-Za-z])\s*"), ""),
    (re.compile(r"\\[dt]frac(?![A-Za-z])"), r"\\frac"),
    (re.compile(r"\\le(?![A-Za-z])"), r"\\leq"),
    (re.compile(r"\\ge(?![A-Za-z])"), r"\\geq"),
    (re.compile(r"\\lt(?![A-Za-z])"), "<"),
    (re.compile(r"\\gt(?![A-Za-z])"), ">"),
    (re.compile(r"\\dots(?![A-Za-z])"), r"\\ldots"),
)
_BOXED = re.compile(r"\\boxed(?![A-Za-z])\s*")


@dataclass(frozen=True)
class Formula:
    """A formula of an answer: its LaTeX ``source`` (without delimiters), ``display`` (own line) or inline, and
    ``text``, what it was written as (delimiters included)."""

    source: str
    display: bool
    text: str


class FormulaStyle(NamedTuple):
    """How formulas are drawn: the text's font size and x-height in (logical) pixels, its colour (``#rrggbb``)
    and the screen's device pixel ratio."""

    pixel_size: float
    x_height: float
    colour: str
    ratio: float = 1.0


def _code_spans(text: str) -> list[tuple[bool, str]]:
    """``text`` as (is code, piece) pairs: inline code spans (any number of backticks) apart."""
    pieces: list[tuple[bool, str]] = []
    end = 0
    for match in _CODE_SPAN.finditer(text):
        pieces.append((False, text[end : match.start()]))
        pieces.append((True, match.group(0)))
        end = match.end()
    pieces.append((False, text[end:]))
    return [piece for piece in pieces if piece[1]]


def _outside_fences(markdown: str) -> list[tuple[bool, str]]:
    """``markdown`` as (is code, piece) pairs: fenced code blocks (``` or ~~~, until their closing fence) apart."""
    pieces: list[tuple[bool, str]] = []
    current: list[str] = []
    fence = ""
    for line in markdown.splitlines(keepends=True):
        opened = _FENCE.match(line)
        if not fence and opened:
            if current:
                pieces.append((False, "".join(current)))
            current, fence = [line], opened.group(1)
        elif fence and line.strip().startswith(fence[0] * len(fence)) and not line.strip().strip(fence[0]):
            current.append(line)
            pieces.append((True, "".join(current)))
            current, fence = [], ""
        else:
            current.append(line)
    if current:
        pieces.append((bool(fence), "".join(current)))
    return pieces


def split_math(markdown: str) -> list[str | Formula]:
    """``markdown`` as pieces of text and :class:`Formula` in order; code (fenced blocks, inline spans) is text,
    whatever ``$`` it holds."""
    pieces: list[str | Formula] = []
    for fenced, block in _outside_fences(markdown):
        for code, piece in [(True, block)] if fenced else _code_spans(block):
            if code:
                pieces.append(piece)
                continue
            end = 0
            for match in _MATH.finditer(piece):
                source = next(group for group in match.groups() if group is not None)
                if not source.strip():
                    continue
                pieces.append(piece[end : match.start()])
                display = match.lastgroup in ("display", "bracket")
                pieces.append(Formula(source.strip(), display, match.group(0)))
                end = match.end()
            pieces.append(piece[end:])
    merged: list[str | Formula] = []
    for piece in pieces:
        if isinstance(piece, str) and merged and isinstance(merged[-1], str):
            merged[-1] += piece
        elif piece != "":
            merged.append(piece)
    return merged


def _mathtext_source(source: str) -> tuple[str, bool]:
    """``source`` in the LaTeX mathtext reads, and whether it was one ``\\boxed{…}`` (drawn framed)."""
    boxed = False
    stripped = source.strip()
    match = _BOXED.match(stripped)
    if match and stripped.endswith("}") and _closing_brace(stripped, match.end()) == len(stripped) - 1:
        stripped, boxed = stripped[match.end() + 1 : -1], True
    for pattern, replacement in _SPELLINGS:
        stripped = pattern.sub(replacement, stripped)
    return _BOXED.sub("", stripped), boxed


def _closing_brace(text: str, start: int) -> int:
    """The index of the brace closing the one at ``start`` (-1 when it is not a brace or never closes)."""
    if start >= len(text) or text[start] != "{":
        return -1
    depth = 0
    for index in range(start, len(text)):
        if text[index] == "{" and text[index - 1] != "\\":
            depth += 1
        elif text[index] == "}" and text[index - 1] != "\\":
            depth -= 1
            if depth == 0:
                return index
    return -1


_PARSING = threading.Lock()
_warming: list[threading.Thread] = []


@lru_cache(maxsize=1)
def _parser() -> Any:
    from matplotlib.mathtext import MathTextParser

    return MathTextParser("agg")


def _parse(text: str, size: float) -> Any:
    """mathtext's raster of ``$text$`` at ``size`` pixels per em (one parse at a time: the parser is shared)."""
    from matplotlib.font_manager import FontProperties

    with _PARSING:
        return _parser().parse(f"${text}$", dpi=72, prop=FontProperties(size=size))


def _warm() -> None:
    try:
        _parse("x^2", 12.0)
    except (ImportError, ValueError, RuntimeError):
        return  # no matplotlib: formulas show as code


def warm_up() -> None:
    """Load matplotlib's mathtext and its fonts on a thread (once per process; about a second on a busy
    machine), so that the first formula of a streamed answer does not hold the window up."""
    if not _warming:
        thread = threading.Thread(target=_warm, name="glmv-mathtext", daemon=True)
        _warming.append(thread)
        thread.start()


@lru_cache(maxsize=512)
def render_formula(source: str, display: bool, style: FormulaStyle) -> QImage | None:
    """``source`` drawn by mathtext in ``style`` (transparent background), or None when mathtext cannot read it
    (or matplotlib is not installed). The image's device pixel ratio is ``style.ratio``; it is padded above or
    below so that, centred on the text's middle (Qt's ``AlignMiddle``), its baseline is the text's."""
    text, boxed = _mathtext_source(source)
    scale = (DISPLAY_SCALE if display else 1.0) * style.ratio
    try:
        import numpy as np

        parsed = _parse(text, style.pixel_size * scale)
    except (ImportError, ValueError, RuntimeError):
        return None
    alpha = np.asarray(parsed.image, dtype=np.uint8)
    if alpha.size == 0:
        return None
    if boxed:
        margin = max(2, round(3 * style.ratio))
        alpha = np.pad(alpha, margin)
        line = max(1, round(style.ratio))
        alpha[:line, :] = alpha[-line:, :] = alpha[:, :line] = alpha[:, -line:] = 255
        depth = parsed.depth + margin
    else:
        depth = parsed.depth
    height = alpha.shape[0]
    # Qt centres an AlignMiddle image at half the x-height above the baseline: its part below the baseline is
    # (height - x_height / 2) / 2, which must be the formula's depth.
    half_x = style.x_height * style.ratio / 2
    above = round(2 * depth + half_x - height)
    if above > 0:
        alpha = np.pad(alpha, ((above, 0), (0, 0)))
    elif above < 0:
        alpha = np.pad(alpha, ((0, -above), (0, 0)))
    colour = tuple(int(style.colour[i : i + 2], 16) for i in (1, 3, 5))
    pixels = np.empty((*alpha.shape, 4), dtype=np.uint8)
    pixels[..., :3] = colour
    pixels[..., 3] = alpha
    rows, columns = alpha.shape
    image = QImage(pixels.tobytes(), columns, rows, columns * 4, QImage.Format.Format_RGBA8888).copy()
    image.setDevicePixelRatio(style.ratio)
    return image


def _code(formula: Formula) -> str:
    """The formula's source as markdown code (a fenced block for a display formula)."""
    if formula.display:
        return f"\n\n```latex\n{formula.text}\n```\n\n"
    ticks = "`" * (max((len(run) for run in re.findall("`+", formula.text)), default=0) + 1)
    return f"{ticks} {formula.text} {ticks}"


def with_formulas(markdown: str, style: FormulaStyle) -> tuple[str, dict[str, QImage]]:
    """``markdown`` with each formula replaced by a ``glmv-math:`` image reference (display ones as their own
    paragraph), and the images by their URL; a formula that cannot be drawn becomes code."""
    pieces = split_math(markdown)
    if not any(isinstance(piece, Formula) for piece in pieces):
        return markdown, {}
    images: dict[str, QImage] = {}
    out: list[str] = []
    for piece in pieces:
        if isinstance(piece, str):
            out.append(piece)
            continue
        image = render_formula(piece.source, piece.display, style)
        if image is None:
            out.append(_code(piece))
            continue
        key = hashlib.sha1(repr((piece.source, piece.display, style)).encode()).hexdigest()[:20]
        url = f"{SCHEME}:{'display' if piece.display else 'inline'}/{key}"
        images[url] = image
        out.append(f"\n\n![formula]({url})\n\n" if piece.display else f"![formula]({url})")
    return "".join(out), images


def align_formulas(document: QTextDocument) -> int:
    """Line the formula images of ``document`` up with their text (inline) and centre the display ones alone on
    their line; how many formulas there are."""
    found: list[
        tuple[int, int, Any]
    ] = []  # position, length, the block when a display formula is all it holds
    block = document.begin()
    while block.isValid():
        iterator = block.begin()
        while not iterator.atEnd():
            fragment = iterator.fragment()
            text_format = fragment.charFormat()
            name = text_format.toImageFormat().name() if text_format.isImageFormat() else ""
            if name.startswith(f"{SCHEME}:"):
                alone = name.startswith(f"{SCHEME}:display/") and block.text().strip() == "\ufffc"
                found.append((fragment.position(), fragment.length(), block if alone else None))
            iterator += 1
        block = block.next()
    if not found:
        return 0
    middle = QTextCharFormat()
    middle.setVerticalAlignment(QTextCharFormat.VerticalAlignment.AlignMiddle)
    cursor = QTextCursor(document)
    cursor.beginEditBlock()  # one layout pass for all the changes
    for position, length, alone in found:
        cursor.setPosition(position)
        cursor.setPosition(position + length, QTextCursor.MoveMode.KeepAnchor)
        cursor.mergeCharFormat(middle)
        if alone is not None:
            block_format = alone.blockFormat()
            block_format.setAlignment(Qt.AlignmentFlag.AlignHCenter)
            cursor.setBlockFormat(block_format)
    cursor.endEditBlock()
    return len(found)
