"""The summary of a run (``summary.json``) and its markdown report (``report.md``).

The score is the mean over *questions*: items of one group (MMBench's rotations of one question) count as one
question, right only when every item is right. Besides the overall and per-category scores the summary gives
the benchmark's own total where it has one (OCRBench: points out of 1,000), the mean of the per-category scores
(``macro_score``: RefCOCO-avg over the splits), the share of items whose reasoning
hit the thinking budget (decided by the forced second pass), the mean reasoning length, and the failures by kind
with their ids. It holds no timings, so an interrupted and resumed run has the same summary as an uninterrupted
one.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from glmv.eval.protocol import Protocol
    from glmv.eval.results import ItemResult
    from glmv.eval.task import Task

__all__ = ["question_scores", "render_report", "summarize", "write_reports"]

_LISTED_FAILURES = 50
_NO_CATEGORY = "(none)"


def question_scores(results: list[ItemResult]) -> dict[str, tuple[str, float]]:
    """``group → (category, score)``: the lowest item score of each group (all rotations right → 1)."""
    groups: dict[str, tuple[str, float]] = {}
    for result in results:
        category = result.category or _NO_CATEGORY
        if result.group in groups:
            groups[result.group] = (groups[result.group][0], min(groups[result.group][1], result.score))
        else:
            groups[result.group] = (category, result.score)
    return groups


def _mean(values: list[float]) -> float:
    return round(sum(values) / len(values), 6) if values else 0.0


def summarize(
    task: Task, protocol: Protocol, results: list[ItemResult], *, planned: int, stopped: str | None = None
) -> dict[str, Any]:
    """The summary of ``results`` (items in run order)."""
    questions = question_scores(results)
    scores = [score for _, score in questions.values()]
    per_category: dict[str, dict[str, Any]] = {}
    for category, score in questions.values():
        entry = per_category.setdefault(category, {"questions": 0, "total": 0.0})
        entry["questions"] += 1
        entry["total"] += score
    categories = {
        name: {"questions": entry["questions"], "score": round(entry["total"] / entry["questions"], 6)}
        for name, entry in sorted(per_category.items())
    }
    failures = [result for result in results if result.error]
    asked = [result for result in results if result.error_kind not in ("record", "media")]
    counted = {result.tokens_counted for result in asked}
    summary: dict[str, Any] = {
        "task": task.name,
        "title": task.title,
        "metric": task.metric,
        "protocol": protocol.to_dict(),
        "complete": stopped is None and len(results) == planned,
        "stopped": stopped,
        "items": planned,
        "done": len(results),
        "questions": len(questions),
        "score": _mean(scores),
        "per_category": categories,
        "macro_score": _mean([entry["score"] for entry in categories.values()]),
        "budget_hit_rate": _mean([float(result.budget_hit) for result in asked]),
        "decided_by_second_pass": sum(result.passes == 2 for result in asked),
        "mean_reasoning_tokens": round(_mean([float(result.reasoning_tokens) for result in asked]), 2),
        "reasoning_tokens_counted": counted.pop() if len(counted) == 1 else ("mixed" if counted else None),
        "failures": {
            "count": len(failures),
            "by_kind": dict(sorted(Counter(str(result.error_kind) for result in failures).items())),
            "items": [
                {"id": result.id, "kind": result.error_kind, "error": result.error}
                for result in failures[:_LISTED_FAILURES]
            ],
        },
    }
    if task.points is not None:  # OCRBench: one point per right answer, per category and in all
        summary["points"] = round(summary["score"] * task.points, 2)
        summary["points_of"] = task.points
        for name, entry in per_category.items():
            categories[name]["points"] = round(entry["total"], 2)
    return summary


def render_report(summary: dict[str, Any]) -> str:
    """The summary as a markdown report."""
    protocol = summary["protocol"]
    lines = [
        f"# {summary['title']} — {summary['score'] * 100:.2f}",
        "",
        f"- metric: {summary['metric']}; mean over categories {summary['macro_score'] * 100:.2f}",
        f"- protocol: {protocol['name']} (thinking budget {protocol['thinking_budget']}, "
        f"max tokens {protocol['max_tokens']}, temperature {protocol['temperature']})",
        f"- questions: {summary['questions']} ({summary['done']} of {summary['items']} items done"
        + ("" if summary["complete"] else f"; **incomplete**: {summary['stopped'] or 'not every item ran'}")
        + ")",
    ]
    if "points" in summary:
        lines.append(f"- points: {summary['points']:g} of {summary['points_of']:g}")
    lines += [
        f"- budget hit (decided by the forced answer): {summary['budget_hit_rate'] * 100:.1f} % "
        f"({summary['decided_by_second_pass']} items)",
        f"- mean reasoning tokens: {summary['mean_reasoning_tokens']:g} ({summary['reasoning_tokens_counted']})",
        f"- failures: {summary['failures']['count']}",
        "",
        "| category | questions | score |",
        "|---|---:|---:|",
    ]
    for name, entry in summary["per_category"].items():
        lines.append(f"| {name} | {entry['questions']} | {entry['score'] * 100:.2f} |")
    failures = summary["failures"]
    if failures["count"]:
        lines += ["", "## Failures (scored 0)", ""]
        lines += [f"- `{f['id']}` ({f['kind']}): {f['error']}" for f in failures["items"]]
    return "\n".join(lines) + "\n"


def write_reports(
    summary: dict[str, Any], results: list[ItemResult], out: Path, plots: bool = True
) -> list[Path]:
    """Write ``summary.json``, ``report.md`` and (with ``plots`` and matplotlib installed) the PNG plots."""
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "summary.json", out / "report.md"]
    written[0].write_text(
        json.dumps(summary, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
    )
    written[1].write_text(render_report(summary), encoding="utf-8")
    if plots:
        from glmv.eval.plots import write_plots

        written += write_plots(summary, results, out)
    return written
