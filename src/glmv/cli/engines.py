"""Opening an engine from the model flags the commands share: ``-m MODEL`` (a hub id, a checkpoint folder or
``scripted``), ``--api URL`` with ``--api-key`` (an OpenAI-compatible server, ``-m`` then names its model),
``--family``, ``--device`` and ``--dtype``. A local model shows one progress line on stderr while it loads. The
options are declared here once (``FamilyOption`` …), so every command spells and explains them alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from glmv.errors import ConfigError

if TYPE_CHECKING:
    from glmv.engine import Engine

__all__ = ["ApiKeyOption", "ApiOption", "DeviceOption", "DtypeOption", "FamilyOption", "open_cli_engine"]


def open_cli_engine(
    model: str | None,
    *,
    family: str | None = None,
    api: str | None = None,
    api_key: str | None = None,
    device: str | None = None,
    dtype: str | None = None,
) -> Engine:
    """The engine the flags name: a :class:`~glmv.engine.RemoteEngine` with ``api``, else a local one."""
    from glmv.engine import open_engine

    if api:
        return open_engine(api, model=model, api_key=api_key, family=family)
    if not model:
        raise ConfigError(
            "Give a model with -m MODEL (hub id or checkpoint folder) or a server with --api URL."
        )
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(f"Loading {model}", total=1.0)

        def progress(step: str, fraction: float) -> None:
            bar.update(task, description=step, completed=fraction)

        return open_engine(model, family=family, device=device, dtype=dtype, progress=progress)


FamilyOption = Annotated[
    str | None, typer.Option("--family", help="The GLM-V family, when the model name does not tell it.")
]
ApiOption = Annotated[
    str | None, typer.Option("--api", help="An OpenAI-compatible server URL instead of a local model.")
]
ApiKeyOption = Annotated[str | None, typer.Option("--api-key", envvar="GLMV_API_KEY", help="Key for --api.")]
DeviceOption = Annotated[
    str | None, typer.Option("--device", help="cuda, cpu, auto (default: cuda if present).")
]
DtypeOption = Annotated[
    str | None, typer.Option("--dtype", help="bfloat16, float16, float32 (default: automatic).")
]
