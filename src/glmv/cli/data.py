"""``glmv data``: fine-tuning datasets for GLM-V — convert, check, show and stats.

Each option maps onto one keyword of :mod:`glmv.finetune`: ``convert`` onto :func:`~glmv.finetune.convert_files`
(``--to`` the target, ``--strict``, ``--passed-only``, ``--link``, ``--tool-calls``), ``check`` onto :func:`~glmv.finetune.check`
(``--max-length``, ``--tokenizer``) and :func:`~glmv.finetune.length_histogram` (``--histogram``), ``show`` onto
:func:`~glmv.finetune.render`, ``stats`` onto :func:`~glmv.finetune.stats`. DATA is any file or folder
:mod:`glmv.finetune.sources` reads, converted datasets included. Problems are listed with the file and line
they come from; ``check`` exits with status 1 when one would break training, ``convert --strict`` at the first.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from glmv.cli import app

if TYPE_CHECKING:
    from rich.console import Console

    from glmv.finetune import Problem, Rendered, TokenCounter

__all__ = ["data_app"]

data_app = typer.Typer(
    help="Fine-tuning data: convert conversations into LLaMA-Factory / ms-swift datasets, check, show, stats.",
    no_args_is_help=True,
)
app.add_typer(data_app, name="data")

_LISTED = 30
_DEFAULT_FAMILY = "glm-4.6v-flash"

DataArgument = Annotated[
    list[Path], typer.Argument(help="Input files or folders (JSONL, JSON).", exists=True)
]
FamilyOption = Annotated[
    str,
    typer.Option("--family", "-f", help="The GLM-V family the data trains (glm-4.1v-thinking, glm-4.5v, …)."),
]
TokenizerOption = Annotated[
    Path | None,
    typer.Option(
        "--tokenizer", help="A checkpoint or tokenizer folder: count text tokens exactly (else estimated)."
    ),
]


def _console(stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def _counter(tokenizer: Path | None) -> TokenCounter:
    from glmv.finetune import TokenCounter

    return TokenCounter(tokenizer)


def _print_problems(console: Console, problems: list[Problem]) -> None:
    """One line per problem (file:line first, whole, for grep), then a table per problem kind with sample ids."""
    if not problems:
        return
    from rich.table import Table
    from rich.text import Text

    for problem in problems[:_LISTED]:
        shown = str(problem) + (f" (sample {problem.sample})" if problem.sample != problem.where else "")
        console.print(Text(shown, style="red" if problem.fatal else "yellow"))
    if len(problems) > _LISTED:
        console.print(f"… and {len(problems) - _LISTED} more", markup=False)
    kinds: dict[tuple[str, bool], list[str]] = {}
    for problem in problems:
        kinds.setdefault((problem.code, problem.fatal), []).append(problem.sample)
    table = Table(title=f"{len(problems)} problem(s)")
    for column in ("problem", "level", "count", "samples"):
        table.add_column(column, overflow="fold")
    for (code, fatal), samples in sorted(kinds.items()):
        level = Text("error", style="red") if fatal else Text("warning", style="yellow")
        more = f" … (+{len(samples) - 3})" if len(samples) > 3 else ""
        table.add_row(Text(code), level, str(len(samples)), Text(", ".join(samples[:3]) + more))
    console.print(table)


@data_app.command("convert")
def convert_command(
    data: DataArgument,
    output: Annotated[Path, typer.Option("--output", "-o", help="The dataset folder to write.")],
    family: FamilyOption,
    to: Annotated[str, typer.Option("--to", help="The training framework: llamafactory or swift.")],
    strict: Annotated[bool, typer.Option(help="Stop at the first problem and write nothing.")] = False,
    passed_only: Annotated[
        bool,
        typer.Option(
            "--passed-only", help="Keep only passing glmv eval results (passed: true, else score >= 1)."
        ),
    ] = False,
    link: Annotated[
        str,
        typer.Option(help="How media get into OUT/media: hardlink (copy where impossible), symlink or copy."),
    ] = "hardlink",
    tool_calls: Annotated[
        str,
        typer.Option(
            "--tool-calls",
            help="framework: the framework's tool-call messages; inline: GLM tool-call text in the assistant "
            "turn, exactly as the official chat template writes it.",
        ),
    ] = "framework",
) -> None:
    """Convert conversations into a LLaMA-Factory or ms-swift dataset folder for one family."""
    from glmv.errors import ConfigError
    from glmv.finetune import convert_files

    if link not in ("hardlink", "symlink", "copy"):
        raise ConfigError(f"Unknown --link {link!r}; use hardlink, symlink or copy.")
    result = convert_files(
        data, output, family, to, strict=strict, passed_only=passed_only, link=link, tool_calls=tool_calls
    )  # type: ignore[arg-type]
    console = _console(stderr=True)
    _print_problems(console, result.problems)
    if result.stopped:
        console.print("[red]Stopped at the first problem (--strict); nothing was written.[/]")
        raise typer.Exit(1)
    console.print(
        f"Converted {len(result.records)} sample(s) into {result.output} for {family} ({to}); "
        f"{result.dropped} left out.",
        markup=False,
    )


@data_app.command("check")
def check_command(
    data: DataArgument,
    family: FamilyOption,
    max_length: Annotated[
        int | None, typer.Option("--max-length", help="Longest sample in tokens (media included).", min=1)
    ] = None,
    tokenizer: TokenizerOption = None,
    histogram: Annotated[Path | None, typer.Option(help="Where to draw the length histogram (PNG).")] = Path(
        "lengths.png"
    ),
    passed_only: Annotated[
        bool, typer.Option("--passed-only", help="Check only passing glmv eval results.")
    ] = False,
) -> None:
    """Check a dataset for what would break training; exit 1 when something would."""
    from glmv.finetune import check, length_histogram, load_samples

    counter = _counter(tokenizer)
    report = check(
        load_samples(data, passed_only=passed_only), family, max_length=max_length, counter=counter
    )
    console = _console()
    _print_problems(console, report.problems)
    lengths = sorted(report.lengths.values())
    how = "estimated" if report.estimated else f"counted with {counter.source}"
    if lengths:
        console.print(
            f"{report.samples} sample(s); tokens ({how}): median {lengths[len(lengths) // 2]}, max {lengths[-1]}.",
            markup=False,
        )
    else:
        console.print(f"{report.samples} sample(s).", markup=False)
    if histogram is not None and lengths:
        console.print(f"Length histogram: {length_histogram(lengths, histogram, max_length)}", markup=False)
    fatal = len(report.fatal)
    if fatal:
        console.print(f"[red]{fatal} problem(s) would break training.[/]")
        raise typer.Exit(1)
    console.print("[green]Nothing would break training.[/]")


def _show_one(console: Console, rendered: Rendered) -> None:
    from rich.panel import Panel
    from rich.text import Text

    text = Text()
    for segment in rendered.segments:
        if segment.measured is not None:
            measured = segment.measured
            if measured.error:
                label = f"[{segment.kind}: {measured.error}]"
            elif segment.kind == "video":
                label = f"[video: {measured.tokens} tokens in {len(measured.timestamps)} frame pairs]"
            else:
                label = f"[<|image|> x {measured.tokens}]"
            text.append(label, style="bold magenta")
        else:
            text.append(segment.text, style="black on green" if segment.trained else "")
    how = "estimated " if rendered.estimated else ""
    console.print(
        Text(
            f"{rendered.sample.id}: {rendered.tokens} {how}tokens, {rendered.media_tokens} of them media, "
            f"{rendered.trained_tokens} trained (highlighted green)"
        )
    )
    console.print(Panel(text))


@data_app.command("show")
def show_command(
    data: DataArgument,
    family: FamilyOption,
    count: Annotated[int, typer.Option("-n", help="How many samples to show.", min=1)] = 3,
    tokenizer: TokenizerOption = None,
) -> None:
    """Show samples exactly as training sees them: the family's chat template, trained spans highlighted."""
    from glmv.finetune import Problem, load_samples, render

    counter = _counter(tokenizer)
    console = _console()
    shown = 0
    for sample in load_samples(data):
        if shown >= count:
            break
        if isinstance(sample, Problem):
            _print_problems(console, [sample])
            continue
        _show_one(console, render(sample, family, counter=counter))
        shown += 1


@data_app.command("stats")
def stats_command(
    data: DataArgument,
    family: Annotated[
        str, typer.Option("--family", "-f", help="The family lengths are counted for.")
    ] = _DEFAULT_FAMILY,
    tokenizer: TokenizerOption = None,
) -> None:
    """Counts, lengths, media per sample and reasoning length of a dataset, by source."""
    from rich.table import Table

    from glmv.finetune import load_samples, stats

    counter = _counter(tokenizer)
    result = stats(load_samples(data), family, counter=counter)
    how = "estimated" if result.estimated else "tokenizer"
    table = Table(
        title=f"{family}: tokens per sample ({how}; mean, p95, max) and mean reasoning tokens (think)"
    )
    table.add_column("source", no_wrap=True, min_width=max([6, *map(len, result.sources)]))
    for column in (
        "samples",
        "replies",
        "images",
        "videos",
        "media/s",
        "calls",
        "mean",
        "p95",
        "max",
        "think",
    ):
        table.add_column(column, justify="right")
    rows = sorted(result.sources.items())
    if len(rows) > 1:
        rows.append(("all", result.total))
    for name, one in rows:
        table.add_row(
            name,
            str(one.samples),
            str(one.turns),
            str(one.images),
            str(one.videos),
            f"{one.media_per_sample:.2f}",
            str(one.tool_calls),
            f"{one.mean_tokens:.0f}",
            str(one.p95_tokens),
            str(one.max_tokens),
            f"{one.mean_reasoning_tokens:.0f}",
        )
    console = _console()
    console.print(table)
    if result.unreadable:
        console.print(f"{result.unreadable} record(s) could not be read (see glmv data check).", markup=False)
