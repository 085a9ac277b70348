"""The per-item record of a run and its file, ``results.jsonl``: one JSON object per line, appended as each item
finishes, so an interrupted run keeps everything it did and ``resume`` skips it.

Fields: ``id``, ``group``, ``category``, ``prompt``, ``raw`` (the model's text, when the engine gives it),
``reasoning``, ``content``, ``answer`` (the parsed prediction), ``gold``, ``score``, ``pass`` (1: the first
generation decided; 2: the reasoning was cut at the budget and the forced answer decided), ``budget_hit``,
``reasoning_tokens`` (``tokens_counted``: by the engine's tokenizer, or ``estimated``), ``prompt_tokens``,
``completion_tokens``, ``finish_reason``, ``latency_s``, ``error`` and ``error_kind`` (``record``, ``media``,
``request``, ``reply``).
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["ItemResult", "ResultsFile", "read_results"]


@dataclass
class ItemResult:
    """What happened to one item."""

    id: str
    group: str
    category: str | None
    score: float
    prompt: str = ""
    raw: str = ""
    reasoning: str = ""
    content: str = ""
    answer: Any = None
    gold: Any = None
    passes: int = 1
    budget_hit: bool = False
    reasoning_tokens: int = 0
    tokens_counted: str = "estimated"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = None
    latency_s: float = 0.0
    error: str | None = None
    error_kind: str | None = None
    info: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["pass"] = data.pop("passes")
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ItemResult:
        data = dict(data)
        data["passes"] = data.pop("pass", 1)
        known = cls.__dataclass_fields__
        return cls(**{key: value for key, value in data.items() if key in known})


def read_results(path: str | Path) -> list[ItemResult]:
    """The records of a ``results.jsonl`` (a half-written last line, left by a killed run, is skipped)."""
    path = Path(path)
    if path.is_dir():
        path = path / "results.jsonl"
    out = []
    if not path.exists():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(ItemResult.from_dict(json.loads(line)))
        except (json.JSONDecodeError, TypeError):
            continue
    return out


class ResultsFile:
    """``results.jsonl`` opened for appending, one flushed line per item, safe from many threads.

    Opening it cuts a half-written last line (a run killed mid-write) so appended lines stay whole; without
    ``resume`` an existing file is started afresh.
    """

    def __init__(self, path: Path, resume: bool) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        if resume and path.exists():
            data = path.read_bytes()
            if data and not data.endswith(b"\n"):
                with path.open("r+b") as handle:
                    handle.truncate(data.rfind(b"\n") + 1)
        elif path.exists():
            path.unlink()
        self._handle = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()

    def append(self, result: ItemResult) -> None:
        line = json.dumps(result.to_dict(), ensure_ascii=False, default=str)
        with self._lock:
            self._handle.write(line + "\n")
            self._handle.flush()

    def close(self) -> None:
        self._handle.close()
