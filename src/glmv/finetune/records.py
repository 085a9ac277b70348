"""Reading the records of input files: JSONL, JSON (one object or an array) and folders of them.

:func:`read_records` yields a :class:`Record` per JSON object with where it was found (``file:line`` for JSONL,
``file`` or ``file[index]`` for JSON) and the folder relative media paths are read against; a line that is not
JSON, or a file that cannot be read, is a :class:`~glmv.finetune.Problem` (``broken-json`` / ``unreadable``)
and reading goes on. A folder (a ``glmv agent`` trajectory, a folder of ``glmv chat`` saves) is read file by
file in name order, ``*.jsonl`` and ``*.json`` only (a LLaMA-Factory ``dataset_info.json`` is not data).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glmv.finetune.sample import Problem

__all__ = ["Record", "read_records"]


@dataclass(frozen=True)
class Record:
    """One JSON object of an input file: ``data``, ``where`` it is and the folder its relative paths start from."""

    data: Any
    where: str
    base: Path


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(
            p
            for p in path.rglob("*")
            if p.suffix.lower() in (".json", ".jsonl") and p.name != "dataset_info.json" and p.is_file()
        )
    return [path]


def _jsonl(path: Path, text: str) -> Iterator[Record | Problem]:
    base = path.parent
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            yield Record(json.loads(line), where, base)
        except json.JSONDecodeError as exc:
            yield Problem(where, where, "broken-json", f"not a JSON line ({exc.msg} at column {exc.colno})")


def _json(path: Path, text: str) -> Iterator[Record | Problem]:
    where = str(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        yield Problem(
            where, f"{path}:{exc.lineno}", "broken-json", f"not JSON ({exc.msg} at column {exc.colno})"
        )
        return
    if isinstance(data, list):
        for index, item in enumerate(data):
            yield Record(item, f"{path}[{index}]", path.parent)
    else:
        yield Record(data, where, path.parent)


def read_records(paths: Iterable[str | Path]) -> Iterator[Record | Problem]:
    """Every JSON record of ``paths`` (files or folders), or a :class:`Problem` where one cannot be read."""
    for given in paths:
        given = Path(given).expanduser()
        if not given.exists():
            yield Problem(str(given), str(given), "unreadable", "no such file or folder")
            continue
        for path in _files(given):
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                yield Problem(str(path), str(path), "unreadable", f"cannot read the file: {exc}")
                continue
            jsonl = path.suffix.lower() == ".jsonl" or (
                path.suffix.lower() != ".json" and not text.lstrip().startswith("[")
            )
            yield from (_jsonl if jsonl else _json)(path, text)
