"""Grounding many images: :func:`read_batch` reads a folder or a JSONL file of jobs, :func:`ground_batch` runs them
with a bounded number of requests in flight.

A JSONL line is ``{"image": PATH, "expression": TEXT}`` (``expressions``: a list, is accepted too); a relative
image path is read from the JSONL file's folder. A folder gives one job per image file in it (sorted by name), each
asking for the expressions given on the command line. A line that cannot be read, an image that cannot be loaded or
a failed request gives a :class:`BatchResult` with ``error`` set; the other jobs go on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glmv.engine import Engine
from glmv.errors import ConfigError, GlmvError
from glmv.grounding.ground import ground
from glmv.grounding.result import Grounding

__all__ = ["IMAGE_SUFFIXES", "BatchJob", "BatchResult", "ground_batch", "read_batch"]

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"})
"""The file suffixes a folder batch treats as images."""


@dataclass(frozen=True)
class BatchJob:
    """One image and the expressions to locate in it; ``error`` when its line could not be read."""

    image: str
    expressions: tuple[str, ...]
    line: int | None = None
    error: str | None = None


@dataclass
class BatchResult:
    """What one job gave: its groundings, or the error that stopped it."""

    job: BatchJob
    groundings: list[Grounding] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "image": self.job.image,
            "line": self.job.line,
            "expressions": list(self.job.expressions),
            "groundings": [item.to_dict() for item in self.groundings],
            "error": self.error,
        }


def _jsonl_job(text: str, number: int, folder: Path) -> BatchJob:
    try:
        row = json.loads(text)
    except ValueError as exc:
        return BatchJob("", (), number, f"line {number} is not JSON: {exc}")
    if not isinstance(row, dict) or not isinstance(row.get("image"), str):
        return BatchJob("", (), number, f'line {number} needs "image": a path')
    expressions = row.get("expressions", row.get("expression"))
    if isinstance(expressions, str):
        expressions = [expressions]
    if (
        not isinstance(expressions, list)
        or not expressions
        or not all(isinstance(item, str) and item.strip() for item in expressions)
    ):
        return BatchJob(row["image"], (), number, f'line {number} needs "expression": a non-empty text')
    image = row["image"]
    if "://" not in image and not image.startswith("data:") and not Path(image).is_absolute():
        image = str(folder / image)
    return BatchJob(image, tuple(expressions), number)


def read_batch(source: str | Path, expressions: Sequence[str] = ()) -> list[BatchJob]:
    """The jobs of a JSONL file, or of a folder of images (each asking for ``expressions``).

    Raises :class:`~glmv.errors.ConfigError` for a source that is neither, or a folder without expressions.
    """
    path = Path(source).expanduser()
    if path.is_dir():
        if not expressions:
            raise ConfigError(f"{path} is a folder: give the expressions to locate in its images with -e.")
        images = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            raise ConfigError(f"{path} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))}).")
        return [BatchJob(str(image), tuple(expressions)) for image in images]
    if path.is_file() and path.suffix.lower() == ".jsonl":
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        return [_jsonl_job(text, number, path.parent) for number, text in enumerate(lines, 1) if text.strip()]
    raise ConfigError(
        f"{path} is neither a folder of images nor a .jsonl file of {{image, expression}} lines."
    )


def ground_batch(
    engine: Engine,
    jobs: Sequence[BatchJob],
    *,
    all: bool = False,
    point: bool = False,
    concurrency: int = 4,
    on_result: Callable[[BatchResult], None] | None = None,
    **options: Any,
) -> list[BatchResult]:
    """Run every job through :func:`~glmv.grounding.ground` with at most ``concurrency`` in flight.

    Results come back in job order; ``on_result`` is called as each finishes (a progress bar's hook).
    ``options`` go to :func:`ground` (``max_tokens``, ``temperature``, ``policy``).
    """
    if concurrency < 1:
        raise ConfigError(f"concurrency must be at least 1, got {concurrency}.")

    def run(job: BatchJob) -> BatchResult:
        if job.error is not None:
            result = BatchResult(job, error=job.error)
        else:
            try:
                result = BatchResult(
                    job, ground(engine, job.image, job.expressions, all=all, point=point, **options)
                )
            except GlmvError as exc:
                result = BatchResult(job, error=str(exc))
        if on_result is not None:
            on_result(result)
        return result

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return list(pool.map(run, jobs))
