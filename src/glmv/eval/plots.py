"""The PNG plots of a run (matplotlib, Agg backend): score per category, the reasoning-length histogram, and
the score against reasoning length (mean score per length bin)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from glmv.errors import require

if TYPE_CHECKING:
    from glmv.eval.results import ItemResult

__all__ = ["write_plots"]


def write_plots(summary: dict[str, Any], results: list[ItemResult], out: Path) -> list[Path]:
    """Write ``score_per_category.png``, ``reasoning_length.png`` and ``score_vs_reasoning.png`` into ``out``."""
    require("matplotlib", extra="eval", purpose="glmv eval plots")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    categories = summary["per_category"]
    figure, axes = plt.subplots(figsize=(max(4.0, 0.6 * len(categories) + 2), 3.5))
    axes.bar(list(categories), [entry["score"] * 100 for entry in categories.values()], color="#4472c4")
    axes.set_ylabel("score")
    axes.set_ylim(0, 100)
    axes.set_title(f"{summary['title']}: score per category")
    axes.tick_params(axis="x", labelrotation=45)
    paths.append(_save(figure, out / "score_per_category.png"))

    lengths = [result.reasoning_tokens for result in results if result.error_kind not in ("record", "media")]
    figure, axes = plt.subplots(figsize=(5, 3.5))
    axes.hist(lengths or [0], bins=min(30, max(1, len(set(lengths)))), color="#ed7d31")
    budget = summary["protocol"]["thinking_budget"]
    if budget is not None:
        axes.axvline(budget, color="black", linestyle="--", label=f"budget {budget}")
        axes.legend()
    axes.set_xlabel("reasoning tokens")
    axes.set_ylabel("items")
    axes.set_title("Reasoning length")
    paths.append(_save(figure, out / "reasoning_length.png"))

    scored = [(r.reasoning_tokens, r.score) for r in results if r.error_kind not in ("record", "media")]
    figure, axes = plt.subplots(figsize=(5, 3.5))
    if scored:
        top = max(length for length, _ in scored) + 1
        width = max(1, top // 10 + (top % 10 > 0))
        bins: dict[int, list[float]] = {}
        for length, score in scored:
            bins.setdefault(length // width, []).append(score)
        keys = sorted(bins)
        axes.plot(
            [(key + 0.5) * width for key in keys],
            [100 * sum(bins[key]) / len(bins[key]) for key in keys],
            marker="o",
            color="#70ad47",
        )
    axes.set_ylim(0, 100)
    axes.set_xlabel("reasoning tokens")
    axes.set_ylabel("mean score")
    axes.set_title("Score vs reasoning length")
    paths.append(_save(figure, out / "score_vs_reasoning.png"))
    return paths


def _save(figure: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
