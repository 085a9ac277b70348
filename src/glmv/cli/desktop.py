"""``glmv desktop``: the desktop assistant (extra ``desktop``: PySide6, mss).

The model options are those of ``glmv chat``: ``-m`` (a hub id or checkpoint folder, loaded in-process) or
``--api URL`` with ``--api-key`` (an OpenAI-compatible server), each onto :func:`glmv.engine.open_engine`; given
here they override the saved settings for this run (they are saved only when the settings dialog saves; the API
key then goes to the OS keyring, or to a file only the user can read where there is none). ``--data-dir`` /
``--config-dir`` choose where the history and the settings live (default: the user's data and config folders,
:mod:`glmv.desktop.paths`). ``--floating`` opens the compact always-on-top window too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from glmv.cli import app
from glmv.cli.engines import ApiKeyOption, ApiOption, DeviceOption, DtypeOption, FamilyOption

__all__ = ["desktop_command"]


@app.command("desktop")
def desktop_command(
    model: Annotated[
        str | None,
        typer.Option("-m", "--model", help="Hub id or checkpoint folder (default: the saved one)."),
    ] = None,
    family: FamilyOption = None,
    api: ApiOption = None,
    api_key: ApiKeyOption = None,
    device: DeviceOption = None,
    dtype: DtypeOption = None,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Folder of the history (default: the user's data folder)."),
    ] = None,
    config_dir: Annotated[
        Path | None,
        typer.Option("--config-dir", help="Folder of the settings (default: the user's config folder)."),
    ] = None,
    floating: Annotated[bool, typer.Option("--floating", help="Open the floating window too.")] = False,
) -> None:
    """Open the desktop assistant: chat, screenshots, region capture and screen recordings."""
    from glmv.errors import require

    require("PySide6.QtWidgets", "mss", "av", extra="desktop", purpose="glmv desktop")
    from glmv.desktop import config_dir as default_config_dir
    from glmv.desktop import data_dir as default_data_dir
    from glmv.desktop import load_settings
    from glmv.desktop.app import check_display, run_desktop
    from glmv.engine import open_engine

    check_display()
    configs = default_config_dir(config_dir)
    settings = load_settings(configs)
    changes: dict[str, object] = {}
    if model is not None:
        changes["model"] = model
    if family is not None:
        changes["family"] = family
    if api:
        changes.update(engine="api", api_url=api)
    elif model is not None:
        changes["engine"] = "local"
    if api_key is not None:
        changes["api_key"] = api_key
    settings = settings.with_(**changes)
    if settings.engine == "api":
        if not settings.api_url:
            from glmv.errors import ConfigError

            raise ConfigError("The saved settings use an API but name no URL: pass --api URL.")
        engine = open_engine(
            settings.api_url, model=settings.model, api_key=settings.api_key or None, family=settings.family
        )
    else:
        typer.echo(f"Loading {settings.model} …", err=True)
        given = {"family": settings.family, "device": device, "dtype": dtype}
        engine = open_engine(
            settings.model, **{key: value for key, value in given.items() if value is not None}
        )
    try:
        status = run_desktop(engine, settings, default_data_dir(data_dir), configs, floating=floating)
    finally:
        close = getattr(engine, "close", None)
        if close is not None:
            close()
    raise typer.Exit(status)
