"""Reward items in JSONL files: read every line, write one record per line, lose none.

:func:`read_jsonl` turns each non-blank line of a file into a :class:`JsonlLine` — its number and the JSON object
it holds, or why it holds none (not UTF-8, not JSON, nested too deeply, not an object, too long). A readable
line that is not a valid item (no ``gt_answer``, a datasource that is not a string) is still a row:
:meth:`~glmv.reward.RewardSystem.score` gives it an error result. :func:`output_record` is the line's output
record: the input row, its ``line`` number and the result's fields.

Input fields (official names first): ``answer`` / ``response`` (the model's reply, required), ``gt_answer`` /
``ground_truth`` (required; see :mod:`glmv.reward.truth` for the accepted forms), ``datasource`` (default
``"default"``), ``prompt`` / ``question``, ``image_file``, ``uuid``, ``answer_length``.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glmv.errors import ConfigError
from glmv.reward.system import RewardResult

__all__ = ["MAX_LINE_BYTES", "JsonlLine", "json_line", "output_record", "read_jsonl", "unreadable_result"]

MAX_LINE_BYTES = 64 * 1024 * 1024
"""The longest line read (64 MiB); a longer one is an error result, skipped without being held in memory."""

_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class JsonlLine:
    """One non-blank line: its 1-based ``number`` and the object it holds, or ``error`` saying why none."""

    number: int
    row: dict[str, Any] | None
    error: str | None = None


def _lines(path: Path, max_bytes: int) -> Iterator[tuple[int, bytes | None]]:
    """``(number, bytes)`` of each line of ``path``; bytes None for a line over ``max_bytes`` (skipped)."""
    with open(path, "rb") as f:
        number = 0
        while True:
            raw = f.readline(max_bytes + 1)
            if not raw:
                return
            number += 1
            if len(raw) > max_bytes and not raw.endswith(b"\n"):
                while (rest := f.readline(_CHUNK)) and not rest.endswith(b"\n"):
                    pass
                yield number, None
                continue
            yield number, raw


def _parse(number: int, raw: bytes) -> JsonlLine | None:
    if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]  # a UTF-8 byte-order mark
    if b"\x00" in raw:
        return JsonlLine(number, None, "not UTF-8 text (it holds NUL bytes: UTF-16?); save the file as UTF-8")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return JsonlLine(
            number, None, f"not UTF-8 text (byte {exc.start + 1} of the line); save the file as UTF-8"
        )
    if not text.strip():
        return None
    try:
        row = json.loads(text)
    except json.JSONDecodeError as exc:
        return JsonlLine(number, None, f"not valid JSON: {exc.msg} (column {exc.colno})")
    except RecursionError:
        return JsonlLine(number, None, "JSON nested too deeply to read")
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        return JsonlLine(number, None, f"unusable JSON: {exc}")
    if not isinstance(row, dict):
        kind = "a list" if isinstance(row, list) else "null" if row is None else f"a {type(row).__name__}"
        return JsonlLine(number, None, f"the line holds {kind}; each line must be a JSON object")
    return JsonlLine(number, row)


def read_jsonl(path: str | Path, *, max_line_bytes: int = MAX_LINE_BYTES) -> list[JsonlLine]:
    """Every non-blank line of the JSONL file at ``path``, in order (see the module docstring).

    Raises :class:`ConfigError` only when the file itself cannot be read: missing, not a regular file (a FIFO
    or a device would block or never end), or unreadable.
    """
    path = Path(path)
    try:
        info = os.stat(path)
    except OSError as exc:
        raise ConfigError(f"Cannot read {path}: {exc.strerror}. Check the path.") from exc
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"{path} is not a regular file. Give the path of a JSONL file.")
    lines = []
    try:
        for number, raw in _lines(path, max_line_bytes):
            if raw is None:
                lines.append(JsonlLine(number, None, f"longer than {max_line_bytes} bytes; not read"))
                continue
            line = _parse(number, raw)
            if line is not None:
                lines.append(line)
    except OSError as exc:
        raise ConfigError(f"Cannot read {path}: {exc.strerror}.") from exc
    return lines


def unreadable_result(line: JsonlLine) -> RewardResult:
    """The error result of a line that holds no object."""
    return RewardResult(0.0, None, None, "unreadable line", error=line.error, datasource="(unreadable lines)")


def output_record(line: JsonlLine, result: RewardResult) -> dict[str, Any]:
    """The output record of ``line``: its row (if any), ``line`` (its number) and the result's fields."""
    return {**(line.row or {}), "line": line.number, **result.to_dict()}


def json_line(record: dict[str, Any]) -> str:
    """``record`` as one JSON line, non-ASCII text kept; escaped where the text would not encode as UTF-8
    (a lone surrogate read from a ``\\ud800`` escape)."""
    text = json.dumps(record, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(record)
    return text + "\n"
