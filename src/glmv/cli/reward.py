"""``glmv reward``: score a JSONL file with a reward config, or run the shipped demo.

Each input line is a JSON object with ``answer`` (or ``response``) and ``gt_answer`` (or ``ground_truth``);
``prompt``, ``datasource``, ``image_file`` and ``uuid`` are optional (:mod:`glmv.reward.jsonl`). Each output line
is the input row plus its ``line`` number and the result (``reward``, ``extracted_answer``,
``extracted_ground_truth``, ``reason``, ``error``, …). Nothing is lost: a line that cannot be read or scored
gets a record with ``error`` set, is listed by line number on stderr, and the other lines are scored.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from glmv.cli import app

if TYPE_CHECKING:
    from rich.console import Console

    from glmv.reward import RewardResult, RewardSystem
    from glmv.reward.jsonl import JsonlLine

__all__ = ["reward_app"]

reward_app = typer.Typer(help="Score model replies with the GLM-V reward system.", no_args_is_help=True)
app.add_typer(reward_app, name="reward")

_LISTED_ERRORS = 20


def _printable(text: str) -> str:
    """``text`` safe to print on any terminal: lone surrogates escaped."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _print_table(system: RewardSystem, lines: int, unreadable: int) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"Mean reward per datasource ({lines} lines)")
    # One-word headers: the table fits 80 columns with the datasource names whole.
    names = [_printable(name) for name in system.stats] + (["(unreadable lines)"] if unreadable else [])
    table.add_column("datasource", overflow="fold", min_width=min(20, max(map(len, names), default=10)))
    for column in ("items", "reward", "errors", "timeouts", "judged", "cached"):
        table.add_column(column, justify="right", no_wrap=True)
    for name, stats in sorted(system.stats.items()):
        table.add_row(
            Text(_printable(name)),
            str(stats.items),
            f"{stats.mean_reward:.3f}",
            str(stats.errors),
            str(stats.timeouts),
            str(stats.judge_calls),
            str(stats.cache_hits),
        )
    if unreadable:
        table.add_row(Text("(unreadable lines)"), str(unreadable), "-", str(unreadable), "-", "-", "-")
    Console().print(table)


def _print_errors(console: Console, failed: list[tuple[JsonlLine, RewardResult]], total: int) -> None:
    if not failed:
        return
    console.print(
        f"{len(failed)} of {total} lines have errors (their output records have 'error' set):",
        style="yellow",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    for line, result in failed[:_LISTED_ERRORS]:
        console.print(
            _printable(f"  line {line.number}: {result.reason}: {result.error}"),
            markup=False,
            highlight=False,
            soft_wrap=True,  # one line per error, whole, for grep
        )
    if len(failed) > _LISTED_ERRORS:
        console.print(f"  … and {len(failed) - _LISTED_ERRORS} more", markup=False, highlight=False)


def _score(config: Path, data: Path, output: Path | None, batch: int) -> None:
    from rich.console import Console

    console = Console(stderr=True)
    # Each failed line is listed below with its number: drop the library's per-batch warning about them.
    reward_log = logging.getLogger("glmv.reward")
    reported = _DropItemErrors()
    reward_log.addFilter(reported)
    try:
        _score_lines(console, config, data, output, batch)
    finally:
        reward_log.removeFilter(reported)


class _DropItemErrors(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        from glmv.reward.system import ITEM_ERRORS

        return not hasattr(record, ITEM_ERRORS)


def _score_lines(console: Console, config: Path, data: Path, output: Path | None, batch: int) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from glmv.errors import ConfigError
    from glmv.reward import RewardSystem
    from glmv.reward.jsonl import json_line, output_record, read_jsonl, unreadable_result

    lines = read_jsonl(data)
    failed: list[tuple[JsonlLine, RewardResult]] = []
    with RewardSystem.from_yaml(config) as system:
        try:
            out = open(output, "w", encoding="utf-8") if output else None  # noqa: SIM115
        except OSError as exc:
            raise ConfigError(f"Cannot write {output}: {exc.strerror}. Check the --output path.") from exc
        try:
            with Progress(
                TextColumn("scoring"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
            ) as progress:
                task = progress.add_task("score", total=len(lines))
                for start in range(0, len(lines), batch):
                    chunk = lines[start : start + batch]
                    scored = iter(system.score([line.row for line in chunk if line.row is not None]))
                    for line in chunk:
                        result = next(scored) if line.row is not None else unreadable_result(line)
                        if result.error is not None:
                            failed.append((line, result))
                        if out is not None:
                            out.write(json_line(output_record(line, result)))
                    progress.advance(task, len(chunk))
        finally:
            if out is not None:
                out.close()
        _print_table(system, len(lines), sum(1 for line in lines if line.row is None))
    _print_errors(console, failed, len(lines))


@reward_app.command("score")
def score_command(
    data: Annotated[Path, typer.Argument(help="JSONL file of items to score.", exists=True, dir_okay=False)],
    config: Annotated[
        Path,
        typer.Option(
            "--config", "-c", help="Reward YAML (official glmv_reward layout).", exists=True, dir_okay=False
        ),
    ],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write one JSON result per line.")
    ] = None,
    batch: Annotated[int, typer.Option(help="Items scored per batch.", min=1)] = 256,
) -> None:
    """Score DATA with the verifiers of --config; print a table per datasource."""
    _score(config, data, output, batch)


@reward_app.command("demo")
def demo_command(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write one JSON result per line.")
    ] = None,
) -> None:
    """Score the shipped example dataset with the shipped example config (offline, no judge)."""
    from importlib.resources import as_file, files

    examples = files("glmv.reward").joinpath("examples")
    with as_file(examples.joinpath("demo.yaml")) as config, as_file(examples.joinpath("demo.jsonl")) as data:
        typer.echo(f"config: {config}\ndata:   {data}", err=True)
        _score(Path(config), Path(data), output, 256)
