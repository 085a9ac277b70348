"""The ``glmv`` command line: a thin layer over the library.

Each sub-command lives in its own module and registers itself on :data:`app`; library errors are
translated into a one-line message and exit status 1 here, in one place (a missing extra among them: its
message names the ``pip install 'glmv[...]'`` to run). Nothing heavy is imported at start-up, so
``glmv --help`` and ``glmv --version`` are fast.
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


def _print_version(value: bool) -> None:
    if value:
        from glmv import __version__

        typer.echo(f"glmv {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(
        False, "--version", help="Print glmv's version and exit.", callback=_print_version, is_eager=True
    ),
) -> None:
    """Run, serve and chat with the GLM-V vision-language models (GLM-4.1V, GLM-4.5V, GLM-4.6V)."""


# Sub-commands register on `app` when their module is imported.
from glmv.cli import agent as _agent  # noqa: E402,F401
from glmv.cli import chat as _chat  # noqa: E402,F401
from glmv.cli import data as _data  # noqa: E402,F401
from glmv.cli import desktop as _desktop  # noqa: E402,F401
from glmv.cli import eval as _eval  # noqa: E402,F401
from glmv.cli import families as _families  # noqa: E402,F401
from glmv.cli import ground as _ground  # noqa: E402,F401
from glmv.cli import reward as _reward  # noqa: E402,F401
from glmv.cli import serve as _serve  # noqa: E402,F401
from glmv.cli import tiny as _tiny  # noqa: E402,F401
from glmv.cli import web as _web  # noqa: E402,F401


def main() -> None:
    """Entry point of the ``glmv`` console script."""
    try:
        app()
    except GlmvError as exc:
        from rich.console import Console
        from rich.markup import escape

        Console(stderr=True).print(f"[bold red]Error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
