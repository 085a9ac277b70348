"""Checks on the parsed JSON of a request body that every later step relies on: bounded nesting, valid Unicode.

JSON nested thousands deep makes Python's parser (and anything that walks the result recursively: pydantic, the
chat template, ``json.dumps``) raise ``RecursionError``; a ``\\ud800`` escape decodes to a lone UTF-16 surrogate
that no tokenizer can encode. :func:`parse_body` parses the body and :func:`check_payload` walks the result once,
iteratively, refusing both with a 400 that says where. Nothing here recurses.
"""

from __future__ import annotations

import json
from typing import Any

from glmv.server.errors import ApiError

__all__ = ["MAX_JSON_DEPTH", "check_payload", "parse_body"]

MAX_JSON_DEPTH = 64
"""Nesting levels a request body may have (a tool schema or a message needs far fewer)."""


def _where(path: tuple[Any, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "the body"


def _lone_surrogate(text: str) -> int | None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start
    return None


def _check_text(text: str, path: tuple[Any, ...]) -> None:
    position = _lone_surrogate(text)
    if position is not None:
        raise ApiError(
            400,
            f"{_where(path)} holds a lone UTF-16 surrogate (U+{ord(text[position]):04X} at character {position}), "
            "which is not valid Unicode; send text as valid UTF-8 (pair or drop the \\ud8xx escape).",
            param=_where(path),
            code="invalid_unicode",
        )


def check_payload(payload: Any, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Refuse (400) a parsed body nested deeper than ``max_depth`` or holding a lone surrogate in any string."""
    stack: list[tuple[Any, tuple[Any, ...]]] = [(payload, ())]
    while stack:
        value, path = stack.pop()
        if len(path) > max_depth:
            raise ApiError(
                400,
                f"The request body is nested more than {max_depth} levels deep (at {_where(path[:8])}…); "
                "flatten it.",
                code="invalid_json",
            )
        if isinstance(value, str):
            _check_text(value, path)
        elif isinstance(value, dict):
            for key, item in value.items():
                _check_text(key, (*path, key))
                stack.append((item, (*path, key)))
        elif isinstance(value, list):
            stack.extend((item, (*path, index)) for index, item in enumerate(value))


def parse_body(data: bytes | bytearray) -> dict[str, Any]:
    """The JSON object of a request body, checked by :func:`check_payload`; a 400 for anything else."""
    try:
        payload = json.loads(data)
    except RecursionError as exc:
        raise ApiError(
            400,
            f"The request body is nested too deeply to parse (more than {MAX_JSON_DEPTH} levels are refused); "
            "flatten it.",
            code="invalid_json",
        ) from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"The request body is not valid JSON: {exc}.", code="invalid_json") from exc
    if not isinstance(payload, dict):
        raise ApiError(400, "The request body must be a JSON object.", code="invalid_json")
    check_payload(payload)
    return payload
