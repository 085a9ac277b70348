"""``glmv reward``: score a JSONL file with a reward config, or run the shipped demo.

Each input row needs ``answer`` (or ``response``) and ``gt_answer`` (or ``ground_truth``); ``prompt``,
``datasource``, ``image_file`` and ``uuid`` are optional. Each output row is the input row plus the result
(``reward``, ``extracted_answer``, ``extracted_ground_truth``, ``reason``, ``error``, …).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from glmv.cli import app

__all__ = ["reward_app"]

reward_app = typer.Typer(help="Score model replies with the GLM-V reward system.", no_args_is_help=True)
app.add_typer(reward_app, name="reward")


def _read_rows(path: Path) -> list[dict[str, Any]]:
    from glmv.errors import ConfigError

    rows = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{path}:{number} is not valid JSON: {exc.msg}. Fix that line.") from exc
            if not isinstance(row, dict):
                raise ConfigError(f"{path}:{number}: each line must be a JSON object.")
            rows.append(row)
    return rows


def _score(config: Path, data: Path, output: Path | None, batch: int) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from glmv.reward import RewardItem, RewardSystem

    console = Console(stderr=True)
    rows = _read_rows(data)
    items = [RewardItem.from_mapping(row) for row in rows]
    out = open(output, "w", encoding="utf-8") if output else None  # noqa: SIM115
    try:
        with RewardSystem.from_yaml(config) as system:
            with Progress(
                TextColumn("scoring"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
            ) as progress:
                task = progress.add_task("score", total=len(items))
                for start in range(0, len(items), batch):
                    results = system.score(items[start : start + batch])
                    if out is not None:
                        for row, result in zip(rows[start : start + batch], results, strict=True):
                            out.write(json.dumps({**row, **result.to_dict()}, ensure_ascii=False) + "\n")
                    progress.advance(task, len(results))
            table = Table(title=f"Rewards ({len(items)} items)")
            for column in (
                "datasource",
                "items",
                "mean reward",
                "errors",
                "timeouts",
                "judge calls",
                "cached",
            ):
                table.add_column(column, justify="left" if column == "datasource" else "right", no_wrap=True)
            for name, stats in sorted(system.stats.items()):
                table.add_row(
                    name,
                    str(stats.items),
                    f"{stats.mean_reward:.3f}",
                    str(stats.errors),
                    str(stats.timeouts),
                    str(stats.judge_calls),
                    str(stats.cache_hits),
                )
            Console().print(table)
            for name, stats in sorted(system.stats.items()):
                for example in stats.error_examples:
                    console.print(f"[yellow]{name}: {example}[/]", highlight=False)
    finally:
        if out is not None:
            out.close()


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
