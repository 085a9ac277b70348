"""``glmv tiny-checkpoint``: write a tiny random-weight GLM-V checkpoint for tests and benchmarks.

It writes into a new or empty folder; a folder that holds files is refused without ``--force`` (a taught
checkpoint is never silently replaced by an untaught one), and a path that is a file is always refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from glmv.cli import app
from glmv.errors import ConfigError


def check_destination(directory: Path, force: bool) -> None:
    """Refuse a ``directory`` that is a file, or a folder holding files unless ``force``; before any work."""
    folder = directory.expanduser()
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{folder} is a file, not a folder; choose a new folder for the checkpoint.")
    if not force and folder.is_dir() and any(folder.iterdir()):
        raise ConfigError(
            f"{folder} already holds files (a checkpoint?); choose a new folder, or pass --force to write "
            "over them."
        )


def _prompt_text(conversation) -> str:
    last = conversation.messages[-1]
    content = last["content"]
    text = (
        content
        if isinstance(content, str)
        else " ".join(p["text"] for p in content if p.get("type") == "text")
    )
    return text if last["role"] == "user" else f"(after the tool result {text!r})"


def list_prompts(family: str, images: Path | None) -> None:
    """Print the prompts a taught checkpoint of ``family`` answers in GLM format; write their images."""
    from rich.console import Console
    from rich.table import Table

    from glmv.families import get_family
    from glmv.testing import TAUGHT_IMAGES, taught_conversations, taught_image

    fam = get_family(family)
    table = Table(
        title=f"Prompts a taught {fam.name} checkpoint answers (greedy, exactly these)", show_lines=True
    )
    for column in ("name", "prompt", "images", "thinking", "reply"):
        table.add_column(column, overflow="fold")
    for conversation in taught_conversations(fam):
        shown = [f"{name} {TAUGHT_IMAGES[name][0]}×{TAUGHT_IMAGES[name][1]}" for name in conversation.images]
        thinking = {None: "default", True: "on", False: "off"}[conversation.enable_thinking]
        if conversation.tools:
            thinking += ", tools"
        table.add_row(
            conversation.name, _prompt_text(conversation), ", ".join(shown), thinking, conversation.reply
        )
    console = Console()
    console.print(table)
    if images is not None:
        images.mkdir(parents=True, exist_ok=True)
        for name in TAUGHT_IMAGES:
            taught_image(name).save(images / f"{name}.png")
        console.print(f"Wrote {', '.join(f'{n}.png' for n in TAUGHT_IMAGES)} to {images}; pass them with -i.")
    console.print(
        "Images are solid colour blocks of exactly these sizes; any other prompt or image gets noise.",
        style="dim",
    )


@app.command("tiny-checkpoint")
def tiny_checkpoint_command(
    family: Annotated[
        str, typer.Argument(help="glm-4.1v-thinking, glm-4.1v-base, glm-4.5v, glm-4.6v or glm-4.6v-flash.")
    ],
    directory: Annotated[
        Path | None,
        typer.Argument(help="Folder to write the checkpoint into (created; it must be new or empty)."),
    ] = None,
    list_taught: Annotated[
        bool,
        typer.Option(
            "--list-prompts",
            help="Show the prompts (and image sizes) a taught checkpoint answers, then stop.",
        ),
    ] = False,
    images: Annotated[
        Path | None,
        typer.Option(
            "--images", help="With --list-prompts: write the taught images as PNG files into this folder."
        ),
    ] = None,
    teach: Annotated[
        bool,
        typer.Option("--teach", help="Train it to reply to the taught prompts first (see --list-prompts)."),
    ] = False,
    size: Annotated[
        str, typer.Option("--size", help="small (~0.4M parameters) or bench (~50M, random weights).")
    ] = "small",
    seed: Annotated[int, typer.Option("--seed", help="Random seed of the weights and the teaching.")] = 0,
    force: Annotated[
        bool,
        typer.Option("--force", help="Write into a folder that already holds files (they are replaced)."),
    ] = False,
) -> None:
    """Write a tiny checkpoint with the family's real architecture that loads offline with transformers.

    With --teach it answers a fixed set of prompts in GLM format (thinking, answers, boxes, tool calls);
    --list-prompts shows them and --images writes their pictures, so a pipeline can be tried on purpose.
    """
    if list_taught:
        list_prompts(family, images)
        return
    if directory is None:
        raise ConfigError("Name the folder to write the checkpoint into (or pass --list-prompts).")
    check_destination(directory, force)
    import time

    from rich.console import Console

    from glmv.families import get_family
    from glmv.testing import taught_conversations, tiny_checkpoint
    from glmv.testing.teach import check_taught

    console = Console()
    fam = get_family(family)
    start = time.perf_counter()
    folder = tiny_checkpoint(fam, directory, teach=teach, size=size, seed=seed)  # type: ignore[arg-type]
    seconds = time.perf_counter() - start
    files = sorted(p for p in folder.iterdir() if p.is_file())
    total = sum(p.stat().st_size for p in files)
    console.print(f"Wrote a tiny {fam.name} checkpoint ({size}) to {folder} in {seconds:.1f} s:")
    for path in files:
        console.print(f"  {path.name:<28} {path.stat().st_size:>10,} bytes")
    console.print(f"  {'total':<28} {total:>10,} bytes")
    if teach:
        wrong = check_taught(folder)
        count = len(taught_conversations(fam))
        if wrong:
            console.print(f"[red]{len(wrong)} of {count} taught replies differ after reloading:[/]")
            for line in wrong:
                console.print(f"  {line}", highlight=False)
            raise typer.Exit(1)
        console.print(f"Taught {count} conversations; greedy replies verified after reloading.")
