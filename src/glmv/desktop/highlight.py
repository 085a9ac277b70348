"""Code highlighting for the answers' fenced code blocks, with Pygments (a dependency of rich, so always there).

Qt's markdown reader marks each line of a fenced block with its language (``QTextFormat.BlockCodeLanguage``);
:class:`CodeHighlighter` colours those lines token by token with the Pygments lexer of that language and the
colours of a Pygments style (``default`` on light themes, ``monokai`` on dark ones). Lines are lexed one at a time,
so a string spanning lines may be coloured as code past its first line.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from PySide6.QtGui import QColor, QFont, QSyntaxHighlighter, QTextCharFormat, QTextFormat

__all__ = ["CodeHighlighter"]


@lru_cache(maxsize=64)
def _lexer(language: str) -> Any:
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound

    try:
        return get_lexer_by_name(language, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return None


@lru_cache(maxsize=4)
def _formats(style_name: str) -> dict[Any, QTextCharFormat]:
    from pygments.styles import get_style_by_name

    formats: dict[Any, QTextCharFormat] = {}
    for token, style in get_style_by_name(style_name):
        text_format = QTextCharFormat()
        if style["color"]:
            text_format.setForeground(QColor(f"#{style['color']}"))
        if style["bold"]:
            text_format.setFontWeight(QFont.Weight.Bold)
        if style["italic"]:
            text_format.setFontItalic(True)
        formats[token] = text_format
    return formats


class CodeHighlighter(QSyntaxHighlighter):
    """Colours the fenced code blocks of ``document`` (``dark`` picks colours for a dark background)."""

    def __init__(self, document: Any, dark: bool = False) -> None:
        super().__init__(document)
        self.style_name = "monokai" if dark else "default"

    def highlightBlock(self, text: str) -> None:  # Qt's name
        language = self.currentBlock().blockFormat().property(QTextFormat.Property.BlockCodeLanguage)
        if not language or not text:
            return
        lexer = _lexer(str(language).lower())
        if lexer is None:
            return
        formats = _formats(self.style_name)
        for index, token, value in lexer.get_tokens_unprocessed(text):
            while token not in formats and token.parent is not None:
                token = token.parent
            text_format = formats.get(token)
            if text_format is not None and value:
                self.setFormat(index, len(value), text_format)
