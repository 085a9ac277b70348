"""``glmv web``: the chat page in a browser, over a local model or a server (``glmv.web``).

The model options are those of ``glmv chat`` (``-m`` / ``--api`` / ``--api-key`` / ``--device`` / ``--dtype``,
opened by :func:`glmv.cli.engines.open_cli_engine`); ``--host`` / ``--port`` / ``--auth`` / ``--root-path`` /
``--mcp`` go to :func:`glmv.web.launch`; ``--max-upload-mb`` / ``--document-tokens`` / ``--concurrency`` /
``--system`` / ``--max-tokens`` / ``--temperature`` / ``--top-p`` onto :class:`glmv.web.WebSettings`. Binding an
address other than loopback without ``--auth`` prints a warning; ``--mcp`` without the ``mcp`` package says which
extra installs it before a model is loaded.
"""

from __future__ import annotations

from typing import Annotated

import typer

from glmv.cli import app
from glmv.cli.engines import ApiKeyOption, ApiOption, DeviceOption, DtypeOption, FamilyOption
from glmv.settings import DEFAULT_MAX_TOKENS, DEFAULT_MODEL

__all__ = ["web_command"]


@app.command("web")
def web_command(
    model: Annotated[str, typer.Option("-m", "--model", help="Hub id or checkpoint folder.")] = DEFAULT_MODEL,
    family: FamilyOption = None,
    api: ApiOption = None,
    api_key: ApiKeyOption = None,
    device: DeviceOption = None,
    dtype: DtypeOption = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port to listen on.")] = 7860,
    auth: Annotated[
        list[str] | None, typer.Option("--auth", help="user:password allowed in (repeatable).")
    ] = None,
    root_path: Annotated[
        str | None, typer.Option("--root-path", help="The URL prefix when served behind a proxy (/chat).")
    ] = None,
    max_upload_mb: Annotated[
        float, typer.Option("--max-upload-mb", min=0.001, help="Largest file one upload may be, in MB.")
    ] = 100.0,
    document_tokens: Annotated[
        int,
        typer.Option(
            "--document-tokens",
            min=0,
            help="Image tokens one document may become; pages over it are left out (0: no budget).",
        ),
    ] = 24_000,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, help="Replies generated at once (more wait in a queue).")
    ] = 8,
    system: Annotated[str | None, typer.Option("--system", help="The starting system prompt.")] = None,
    max_tokens: Annotated[
        int, typer.Option("--max-tokens", min=1, help="The starting max tokens per reply.")
    ] = DEFAULT_MAX_TOKENS,
    temperature: Annotated[
        float | None, typer.Option("--temperature", min=0, help="The starting temperature (0: greedy).")
    ] = None,
    top_p: Annotated[
        float | None, typer.Option("--top-p", min=0.01, max=1, help="The starting top-p.")
    ] = None,
    mcp: Annotated[
        bool, typer.Option("--mcp", help="Also serve chat and grounding as MCP tools (Gradio's MCP server).")
    ] = False,
) -> None:
    """Open the GLM-V chat page (images, videos, PDFs and slides; reasoning, boxes, HTML previews)."""
    from rich.console import Console

    from glmv.cli.engines import open_cli_engine
    from glmv.web import WebSettings, launch
    from glmv.web.serving import is_loopback, parse_auth

    errors = Console(stderr=True)
    users = parse_auth(auth or [])
    if mcp:
        from glmv.web.serving import check_mcp
        from glmv.web.tools import require_mcp

        check_mcp(mcp, users)
        require_mcp()  # both before a model is loaded
    settings = WebSettings(
        model=model,
        family=family,
        system=system,
        max_tokens=max_tokens,
        temperature=temperature,
        top_p=top_p,
        max_upload_mb=max_upload_mb,
        document_tokens=document_tokens or None,
        concurrency=concurrency,
    )
    if not is_loopback(host) and not users:
        errors.print(
            f"[bold yellow]Warning:[/] serving on {host} without --auth: anyone who can reach this address can "
            "use the model. Add --auth user:password.",
            highlight=False,
        )
    engine = open_cli_engine(model, family=family, api=api, api_key=api_key, device=device, dtype=dtype)
    try:
        shown = "localhost" if is_loopback(host) else host
        errors.print(f"glmv web on http://{shown}:{port}{root_path or ''}/ (Ctrl-C stops)", highlight=False)
        launch(engine, settings, host=host, port=port, auth=users, root_path=root_path, mcp=mcp, quiet=True)
    finally:
        close = getattr(engine, "close", None)
        if close is not None:
            close()
