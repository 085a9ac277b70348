"""``glmv eval``: run a benchmark task on a model (``run``), compare two runs (``compare``), list tasks (``tasks``).

Every option of ``glmv eval run`` maps onto one keyword of :func:`glmv.eval.run`: ``--protocol`` / ``--budget`` /
``--no-think`` / ``--temperature`` / ``--seed`` onto its :class:`~glmv.eval.Protocol`; ``--data``, ``--column``,
``--prompt``, ``--option``, ``--concurrency``, ``--resume``, ``--overwrite``, ``--limit``, ``--shuffle``,
``--filter`` and ``--out`` onto the keywords so named (plural for ``--column``, ``--option``, ``--filter``);
``-m`` / ``--api`` / ``--api-key`` / ``--family`` / ``--device`` / ``--dtype`` onto :func:`glmv.engine.open_engine`.
A live progress bar shows the ETA and the running score; an engine that goes away stops the run with everything
kept (exit status 1), and ``--resume`` continues it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from glmv.cli import app
from glmv.cli.engines import ApiKeyOption, ApiOption, DeviceOption, DtypeOption, FamilyOption, open_cli_engine
from glmv.errors import ConfigError

if TYPE_CHECKING:
    from glmv.eval import Run

__all__ = ["eval_app"]

eval_app = typer.Typer(help="Evaluate GLM-V models on benchmarks, compare runs.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")


def _pairs(values: list[str] | None, option: str) -> dict[str, str]:
    out = {}
    for value in values or []:
        name, sep, rest = value.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"{option} takes NAME=VALUE, got {value!r}.")
        out[name.strip()] = rest.strip()
    return out


def _protocol(
    protocol: str, budget: int | None, no_think: bool, temperature: float | None, seed: int | None
) -> Any:
    from glmv.eval import Protocol

    if no_think and budget is not None:
        raise ConfigError("--no-think and --budget exclude each other.")
    chosen = Protocol.no_think() if no_think else Protocol.budget(budget) if budget is not None else None
    return (chosen or Protocol.parse(protocol)).with_(temperature=temperature, seed=seed)


@eval_app.command("run")
def run_command(
    task: Annotated[str, typer.Argument(help="The task (glmv eval tasks lists them).")],
    data: Annotated[Path, typer.Option("--data", help="JSONL, parquet or CSV file, or a datasets folder.")],
    out: Annotated[
        Path, typer.Option("--out", help="Folder for results.jsonl, summary.json, report, plots.")
    ],
    model: Annotated[str | None, typer.Option("-m", "--model", help="Hub id or checkpoint folder.")] = None,
    api: ApiOption = None,
    api_key: ApiKeyOption = None,
    family: FamilyOption = None,
    device: DeviceOption = None,
    dtype: DtypeOption = None,
    protocol: Annotated[
        str, typer.Option("--protocol", help="official (think 8192, then answer), 'budget N' or no-think.")
    ] = "official",
    budget: Annotated[
        int | None, typer.Option("--budget", min=0, help="Same as --protocol 'budget N'.")
    ] = None,
    no_think: Annotated[
        bool, typer.Option("--no-think", help="Thinking off (same as --protocol no-think).")
    ] = False,
    temperature: Annotated[
        float | None, typer.Option("--temperature", min=0, help="Override the protocol's.")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Sampling and --shuffle seed.")] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, help="Requests in flight.")] = 1,
    resume: Annotated[bool, typer.Option("--resume", help="Skip the items already in --out.")] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Start afresh in an --out with results.")
    ] = False,
    limit: Annotated[
        int | None, typer.Option("--limit", min=0, help="Ask only the first N questions.")
    ] = None,
    shuffle: Annotated[bool, typer.Option("--shuffle", help="Shuffle the questions (with --seed).")] = False,
    filters: Annotated[
        list[str] | None, typer.Option("--filter", help="FIELD=VALUE, e.g. category=Art (repeatable).")
    ] = None,
    columns: Annotated[
        list[str] | None, typer.Option("--column", help="TASK_COLUMN=DATA_COLUMN (repeatable).")
    ] = None,
    prompt: Annotated[
        str | None, typer.Option("--prompt", help="Own prompt template, e.g. '{question}'.")
    ] = None,
    options: Annotated[
        list[str] | None, typer.Option("--option", help="Task option NAME=VALUE, e.g. circular=false.")
    ] = None,
    no_plots: Annotated[bool, typer.Option("--no-plots", help="Do not draw the PNG plots.")] = False,
) -> None:
    """Run TASK on a model and write results.jsonl, summary.json, report.md and plots into --out."""
    from rich.console import Console

    from glmv.eval import run

    chosen = _protocol(protocol, budget, no_think, temperature, seed)
    mapping, where, settings = (
        _pairs(columns, "--column"),
        _pairs(filters, "--filter"),
        _pairs(options, "--option"),
    )
    engine = open_cli_engine(model, family=family, api=api, api_key=api_key, device=device, dtype=dtype)
    console = Console(stderr=True, highlight=False)
    try:
        with _ProgressBar(console, task) as bar:
            outcome = run(
                task,
                data,
                engine,
                chosen,
                out=out,
                columns=mapping,
                prompt=prompt,
                options=settings,
                concurrency=concurrency,
                resume=resume,
                overwrite=overwrite,
                limit=limit,
                shuffle=shuffle,
                seed=seed or 0,
                filters=where,
                plots=not no_plots,
                on_result=bar.update,
            )
    finally:
        close = getattr(engine, "close", None)
        if close is not None:
            close()
    _print_summary(outcome)
    if outcome.stopped:
        console.print(
            f"Stopped: {outcome.stopped} Continue with the same command and --resume.",
            style="bold red",
            markup=False,
            soft_wrap=True,
        )
        raise typer.Exit(1)


class _ProgressBar:
    """A rich progress bar with the ETA and the running score, fed by :func:`glmv.eval.run`'s ``on_result``."""

    def __init__(self, console: Any, title: str) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("score {task.fields[score]}  failures {task.fields[failures]}"),
            TimeRemainingColumn(),
            console=console,
        )
        self.task = self.progress.add_task(title, total=None, score="-", failures=0)

    def __enter__(self) -> _ProgressBar:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def update(self, state: Any) -> None:
        self.progress.update(
            self.task,
            total=state.total,
            completed=state.done,
            score=f"{state.score * 100:.1f}",
            failures=state.failures,
        )


def _print_summary(outcome: Run) -> None:
    from rich.console import Console
    from rich.table import Table

    summary = outcome.summary
    table = Table(title=f"{summary['title']} ({summary['protocol']['name']}): {summary['score'] * 100:.2f}")
    table.add_column("category")
    table.add_column("questions", justify="right")
    table.add_column("score", justify="right")
    for name, entry in summary["per_category"].items():
        table.add_row(name, str(entry["questions"]), f"{entry['score'] * 100:.2f}")
    console = Console()
    console.print(table)
    if "points" in summary:
        console.print(f"points: {summary['points']:g} / {summary['points_of']:g}")
    console.print(
        f"budget hit {summary['budget_hit_rate'] * 100:.1f} %, mean reasoning {summary['mean_reasoning_tokens']:g} "
        f"tokens, failures {summary['failures']['count']}; written to {outcome.out}",
        markup=False,
    )


@eval_app.command("compare")
def compare_command(
    run_a: Annotated[Path, typer.Argument(help="The --out folder of run A.")],
    run_b: Annotated[Path, typer.Argument(help="The --out folder of run B.")],
    resamples: Annotated[int, typer.Option("--resamples", min=100, help="Bootstrap resamples.")] = 10_000,
    seed: Annotated[int, typer.Option("--seed", help="Bootstrap seed.")] = 0,
    show: Annotated[int, typer.Option("--show", min=0, help="How many flipped questions to list.")] = 20,
) -> None:
    """Compare two runs of one task: B − A with a paired bootstrap 95 % interval, and the flipped questions."""
    from rich.console import Console
    from rich.table import Table

    from glmv.eval import compare_runs

    comparison = compare_runs(run_a, run_b, resamples=resamples, seed=seed)
    task = f"{comparison.task}: " if comparison.task else ""
    table = Table(title=f"{task}B − A ({run_b.name} vs {run_a.name}), paired bootstrap 95 % CI")
    for column in ("category", "questions", "A", "B", "B − A", "95 % CI"):
        table.add_column(column, justify="left" if column == "category" else "right")
    rows = [("(all)", comparison.overall), *comparison.per_category.items()]
    for name, diff in rows:
        table.add_row(
            name,
            str(diff.questions),
            f"{diff.score_a * 100:.2f}",
            f"{diff.score_b * 100:.2f}",
            f"{diff.delta * 100:+.2f}",
            f"[{diff.low * 100:+.2f}, {diff.high * 100:+.2f}]",
        )
    console = Console()
    console.print(table)
    if comparison.only_a or comparison.only_b:
        console.print(f"left out: {comparison.only_a} questions only in A, {comparison.only_b} only in B")
    console.print(f"{len(comparison.flipped)} questions flipped", markup=False)
    for key, a, b in comparison.flipped[:show]:
        console.print(f"  {key}: {a:g} → {b:g}", markup=False)


@eval_app.command("tasks")
def tasks_command() -> None:
    """List the registered tasks with their metric and the columns they need."""
    from rich.console import Console
    from rich.table import Table

    from glmv.eval import available_tasks, task_class

    table = Table(title="glmv eval tasks")
    for column in ("task", "benchmark", "metric", "columns"):
        table.add_column(column)
    for name in available_tasks():
        try:
            cls = task_class(name)
        except ConfigError as exc:
            table.add_row(name, "-", f"cannot load: {exc}", "-")
            continue
        table.add_row(name, cls.title, cls.metric, ", ".join(cls.required))
    Console().print(table)
