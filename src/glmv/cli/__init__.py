"""The ``glmv`` command line: a thin layer over the library.

Each sub-command lives in its own module and registers itself on :data:`app`; library errors are
translated into a one-line message and exit status 1 here, in one place. Nothing heavy is imported at
start-up, so ``glmv --help`` is fast.
"""

from __future__ import annotations

import sys

import typer

from glmv.errors import GlmvError

__all__ = ["app", "main"]

app = typer.Typer(
    name="glmv",
    help="Run, serve and chat with the GLM-V vision-language models (GLM-4.1V, GLM-4.5V, GLM-4.6V).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
)

# Sub-commands register on `app` when their module is imported.
from glmv.cli import chat as _chat  # noqa: E402,F401
from glmv.cli import families as _families  # noqa: E402,F401
from glmv.cli import reward as _reward  # noqa: E402,F401
from glmv.cli import serve as _serve  # noqa: E402,F401
from glmv.cli import tiny as _tiny  # noqa: E402,F401


def main() -> None:
    """Entry point of the ``glmv`` console script."""
    try:
        app()
    except GlmvError as exc:
        from rich.console import Console

        Console(stderr=True).print(f"[bold red]Error:[/] {exc}", highlight=False)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
