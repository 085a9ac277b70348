"""Comparing two runs of the same task, question by question: the score difference with a paired bootstrap
confidence interval, per category, and the questions that flipped.

Only questions present in both runs count (their intersection), so a run on a subset compares fairly with
the full run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glmv.errors import ConfigError
from glmv.eval.results import read_results
from glmv.eval.summary import question_scores

__all__ = ["Comparison", "Difference", "compare_runs", "paired_bootstrap"]


@dataclass(frozen=True)
class Difference:
    """Mean score of A and of B over the same questions, B − A, and its confidence interval."""

    questions: int
    score_a: float
    score_b: float
    delta: float
    low: float
    high: float


@dataclass
class Comparison:
    """The overall and per-category differences and the flipped questions (``(id, score A, score B)``)."""

    overall: Difference
    per_category: dict[str, Difference]
    flipped: list[tuple[str, float, float]] = field(default_factory=list)
    only_a: int = 0
    only_b: int = 0
    task: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "overall": self.overall.__dict__,
            "per_category": {name: diff.__dict__ for name, diff in self.per_category.items()},
            "flipped": [{"id": key, "a": a, "b": b} for key, a, b in self.flipped],
            "only_a": self.only_a,
            "only_b": self.only_b,
            "task": self.task,
        }


def paired_bootstrap(
    a: list[float], b: list[float], resamples: int = 10_000, confidence: float = 0.95, seed: int = 0
) -> Difference:
    """B − A over paired scores, with the percentile interval of ``resamples`` paired bootstrap resamples."""
    if len(a) != len(b):
        raise ConfigError("A paired bootstrap needs the same questions in both runs.")
    count = len(a)
    if count == 0:
        return Difference(0, 0.0, 0.0, 0.0, 0.0, 0.0)
    import numpy as np

    deltas = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    rng = np.random.default_rng(seed)
    means = []
    for start in range(0, resamples, 1000):  # chunks keep memory at 1000 x count indices
        picks = rng.integers(0, count, size=(min(1000, resamples - start), count))
        means.append(deltas[picks].mean(axis=1))
    tail = (1.0 - confidence) / 2
    low, high = np.quantile(np.concatenate(means), [tail, 1.0 - tail])
    delta = float(deltas.mean())
    return Difference(count, sum(a) / count, sum(b) / count, delta, float(low), float(high))


def compare_runs(
    run_a: str | Path, run_b: str | Path, resamples: int = 10_000, confidence: float = 0.95, seed: int = 0
) -> Comparison:
    """Compare the runs in folders (or ``results.jsonl`` files) ``run_a`` and ``run_b``."""
    tasks = {_task_of(Path(run_a)), _task_of(Path(run_b))} - {None}
    if len(tasks) > 1:
        raise ConfigError(f"{run_a} and {run_b} are runs of different tasks ({', '.join(sorted(tasks))}).")
    results_a, results_b = read_results(run_a), read_results(run_b)
    for path, results in ((run_a, results_a), (run_b, results_b)):
        if not results:
            raise ConfigError(
                f"{path} holds no results.jsonl records; give the --out folder of a glmv eval run."
            )
    questions_a, questions_b = question_scores(results_a), question_scores(results_b)
    shared = [key for key in questions_a if key in questions_b]
    a = [questions_a[key][1] for key in shared]
    b = [questions_b[key][1] for key in shared]
    overall = paired_bootstrap(a, b, resamples, confidence, seed)
    per_category: dict[str, Difference] = {}
    for category in sorted({questions_a[key][0] for key in shared}):
        keys = [key for key in shared if questions_a[key][0] == category]
        per_category[category] = paired_bootstrap(
            [questions_a[k][1] for k in keys], [questions_b[k][1] for k in keys], resamples, confidence, seed
        )
    flipped = [
        (key, questions_a[key][1], questions_b[key][1])
        for key in shared
        if questions_a[key][1] != questions_b[key][1]
    ]
    return Comparison(
        task=tasks.pop() if tasks else None,
        overall=overall,
        per_category=per_category,
        flipped=flipped,
        only_a=len(questions_a) - len(shared),
        only_b=len(questions_b) - len(shared),
    )


def _task_of(folder: Path) -> str | None:
    meta = folder / "run.json"
    if folder.is_dir() and meta.exists():
        return json.loads(meta.read_text(encoding="utf-8")).get("task")
    return None
