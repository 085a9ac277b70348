"""Evaluation of GLM-V models on the benchmarks they report, on any engine, with the official protocol.

    from glmv.engine import open_engine
    from glmv.eval import run

    result = run("chartqa", "chartqa_test.parquet", open_engine("zai-org/GLM-4.6V-Flash"), "official",
                 out="runs/chartqa", concurrency=4)
    print(result.summary["score"])

A task (:class:`Task`, registered with :func:`register_task` or the ``glmv.tasks`` entry-point group) loads
records, builds the request, extracts the prediction and scores it; :class:`Protocol` says how long the model may
think (``official``: 8,192 tokens, then the answer is forced); :func:`run` asks the items concurrently, appends
each result to ``results.jsonl`` (``resume`` continues an interrupted run), and writes ``summary.json``,
``report.md`` and plots. :func:`compare_runs` compares two runs with a paired bootstrap. The scorers are public
in :mod:`glmv.eval.scoring`.
"""

from glmv.eval.compare import Comparison, Difference, compare_runs, paired_bootstrap
from glmv.eval.data import Records, map_columns, read_records
from glmv.eval.protocol import Protocol
from glmv.eval.results import ItemResult, read_results
from glmv.eval.runner import Progress, Run, build_messages, run, select_items
from glmv.eval.summary import render_report, summarize
from glmv.eval.task import Item, Task, available_tasks, get_task, register_task, task_class

__all__ = [
    "Comparison",
    "Difference",
    "Item",
    "ItemResult",
    "Progress",
    "Protocol",
    "Records",
    "Run",
    "Task",
    "available_tasks",
    "build_messages",
    "compare_runs",
    "get_task",
    "map_columns",
    "paired_bootstrap",
    "read_records",
    "read_results",
    "register_task",
    "render_report",
    "run",
    "select_items",
    "summarize",
    "task_class",
]
