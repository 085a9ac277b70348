"""Reading a mobile action object: JSON, or the Python literal some replies write instead.

GLM sometimes writes ``{'action_type': 'click', 'override': True}`` (Python spelling) where the prompt asks
for JSON. :func:`read_object_literal` reads both, never evaluating code: the common Python spelling is
rewritten to JSON, and what JSON cannot hold goes through ``ast.literal_eval`` (with ``true`` / ``false`` /
``null`` accepted as names).
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

__all__ = ["read_object_literal"]

_JSON_CONSTANTS = {"true": True, "false": False, "null": None}
_JSON_WORDS = {"True": "true", "False": "false", "None": "null"}
# a double-quoted string (kept), a single-quoted string (group 1) or a Python constant (group 2)
_PYTHON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|\'((?:[^\'\\]|\\.)*)\'|\b(True|False|None)\b', re.DOTALL)
_ESCAPE_OR_QUOTE = re.compile(r'\\.|"', re.DOTALL)
_MAX_LITERAL_CHARS = 20_000


class _JsonConstants(ast.NodeTransformer):
    """Turns the names ``true`` / ``false`` / ``null`` into constants so ``ast.literal_eval`` accepts them."""

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in _JSON_CONSTANTS:
            return ast.copy_location(ast.Constant(_JSON_CONSTANTS[node.id]), node)
        return node


def _json_escape(match: re.Match[str]) -> str:
    token = match[0]
    return '\\"' if token == '"' else "'" if token == "\\'" else token


def _python_token_as_json(match: re.Match[str]) -> str:
    if match[2] is not None:
        return _JSON_WORDS[match[2]]
    if match[1] is None:
        return match[0]
    return '"' + _ESCAPE_OR_QUOTE.sub(_json_escape, match[1]) + '"'


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a Python literal")


def _python_literal(text: str) -> Any:
    """``text`` read as a Python literal, ``true`` / ``false`` / ``null`` allowed; None when it is not one.

    The common case (single-quoted strings, ``True`` / ``False`` / ``None``) is rewritten to JSON and read by
    ``json.loads``, ten times faster than ``ast``; anything JSON cannot hold goes through ``ast.literal_eval``.
    """
    if len(text) > _MAX_LITERAL_CHARS:
        return None
    try:
        if "\\/" in text:  # JSON reads \/ as /, Python keeps the backslash
            raise ValueError("not JSON-compatible")
        return json.loads(_PYTHON_TOKEN.sub(_python_token_as_json, text), parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        pass
    try:
        return ast.literal_eval(_JsonConstants().visit(ast.parse(text, mode="eval")))
    except (SyntaxError, ValueError, TypeError, RecursionError, MemoryError):
        return None


def read_object_literal(text: str) -> Any:
    """``text`` read as JSON or, failing that, as a Python literal; None when it is neither."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return _python_literal(text)
