"""``glmv ground``: locate expressions in an image (boxes or points), or in a folder / JSONL batch of images.

Each option maps onto one keyword of :func:`glmv.grounding.ground` / :func:`glmv.grounding.ground_batch`:
``-e`` (repeatable) the expressions, ``--all`` every instance, ``--point`` points instead of boxes,
``--concurrency`` the batch's requests in flight; ``-m`` / ``--api`` / ``--api-key`` / ``--device`` / ``--dtype``
open the engine as ``glmv chat`` does. One image prints a table (``--json``: the list of results) and ``-o`` writes
the annotated PNG; a batch prints one JSON line per job and ``-o DIR`` writes ``results.jsonl`` and one annotated
PNG per image there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from glmv.cli import app
from glmv.cli.engines import ApiKeyOption, ApiOption, DeviceOption, DtypeOption, FamilyOption
from glmv.settings import DEFAULT_MAX_TOKENS, DEFAULT_MODEL

if TYPE_CHECKING:
    from PIL import Image

    from glmv.engine import Engine

__all__ = ["ground_command"]


@app.command("ground")
def ground_command(
    image: Annotated[
        str, typer.Argument(help="An image (path or URL), a folder of images or a JSONL batch.")
    ],
    expression: Annotated[str | None, typer.Argument(help="What to locate, e.g. 'the red car'.")] = None,
    expressions: Annotated[
        list[str] | None, typer.Option("-e", "--expression", help="Another expression (repeatable).")
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="Every instance, not only the first.")] = False,
    point: Annotated[bool, typer.Option("--point", help="Points [x,y] instead of boxes.")] = False,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="The annotated PNG (a folder for a batch).")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, help="Batch requests in flight.")] = 4,
    model: Annotated[str, typer.Option("-m", "--model", help="Hub id or checkpoint folder.")] = DEFAULT_MODEL,
    family: FamilyOption = None,
    api: ApiOption = None,
    api_key: ApiKeyOption = None,
    device: DeviceOption = None,
    dtype: DtypeOption = None,
    max_tokens: Annotated[
        int, typer.Option("--max-tokens", min=1, help="Most tokens per reply.")
    ] = DEFAULT_MAX_TOKENS,
) -> None:
    """Locate objects in an image: boxes (or points) in pixels, an annotated PNG, JSON."""
    from glmv.errors import ConfigError

    names = ([expression] if expression else []) + list(expressions or [])
    source = Path(image).expanduser()
    batch = source.is_dir() or (source.is_file() and source.suffix.lower() == ".jsonl")
    if not batch and not names:
        raise ConfigError("Say what to locate: glmv ground IMAGE 'the red car' (or -e EXPR, repeatable).")
    from glmv.cli.engines import open_cli_engine
    from glmv.media import load_image

    picture = None if batch else load_image(image)  # a bad image is refused before a model loads
    engine = open_cli_engine(model, family=family, api=api, api_key=api_key, device=device, dtype=dtype)
    try:
        if picture is None:
            _run_batch(engine, source, names, every, point, output, concurrency, max_tokens)
        else:
            _run_one(engine, image, picture, names, every, point, output, json_output, max_tokens)
    finally:
        close = getattr(engine, "close", None)
        if close is not None:
            close()


def _run_one(
    engine: Engine,
    image: str,
    picture: Image.Image,
    names: list[str],
    every: bool,
    point: bool,
    output: Path | None,
    json_output: bool,
    max_tokens: int,
) -> None:
    from glmv.grounding import annotate, ground

    found = ground(engine, picture, names, all=every, point=point, max_tokens=max_tokens)
    if output is not None:
        annotate(picture, found).save(output, format="PNG")
    if json_output:
        print(json.dumps([item.to_dict() for item in found], ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{image} ({picture.width}×{picture.height})")
    for column in ("label", "pixels", "thousandths", "model said"):
        table.add_column(column, overflow="fold")
    for item in found:
        pixels = item.box_px or item.point_px
        thousandths = item.box_thousandths or item.point_thousandths
        table.add_row(
            item.label,
            "not found" if pixels is None else str(list(pixels)),
            "-" if thousandths is None else str(list(thousandths)),
            item.score_text[:80],
        )
    console = Console(highlight=False)
    console.print(table)
    if output is not None:
        console.print(f"Annotated image: {output}", markup=False)


def _run_batch(
    engine: Engine,
    source: Path,
    names: list[str],
    every: bool,
    point: bool,
    output: Path | None,
    concurrency: int,
    max_tokens: int,
) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from glmv.grounding import BatchResult, annotate, ground_batch, read_batch
    from glmv.media import load_image

    jobs = read_batch(source, names)
    stderr = Console(stderr=True)
    if output is not None:
        output.mkdir(parents=True, exist_ok=True)
    with Progress(
        TextColumn("grounding"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=stderr
    ) as bar:
        task = bar.add_task("grounding", total=len(jobs))

        def done(result: BatchResult) -> None:
            bar.advance(task)

        results = ground_batch(
            engine,
            jobs,
            all=every,
            point=point,
            concurrency=concurrency,
            on_result=done,
            max_tokens=max_tokens,
        )
    lines = [json.dumps(result.to_dict(), ensure_ascii=False) for result in results]
    if output is None:
        print("\n".join(lines))
    else:
        (output / "results.jsonl").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        for number, result in enumerate(results, 1):
            if result.error is None:
                stem = Path(result.job.image).stem or "image"
                annotate(load_image(result.job.image), result.groundings).save(
                    output / f"{number:04d}-{stem}.png"
                )
        stderr.print(f"Results: {output / 'results.jsonl'}", markup=False, highlight=False)
    failed = [result for result in results if result.error is not None]
    for result in failed[:20]:
        where = f"line {result.job.line}" if result.job.line else result.job.image
        stderr.print(
            f"{where}: {result.error}", style="yellow", markup=False, highlight=False, soft_wrap=True
        )
    if failed:
        stderr.print(f"{len(failed)} of {len(results)} jobs failed.", style="yellow", markup=False)
