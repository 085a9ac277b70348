"""Serving the page: :func:`launch` (what ``glmv web`` runs) and :func:`mount_app` (beside ``glmv serve``, or in
a user's own FastAPI app), both with the upload limit, the queue and the auth of :class:`WebSettings`."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from glmv.errors import ConfigError
from glmv.web.settings import WebSettings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from glmv.engine import Engine

__all__ = ["check_mcp", "is_loopback", "launch", "mount_app", "parse_auth"]


def parse_auth(pairs: Sequence[str]) -> list[tuple[str, str]]:
    """``["user:password", …]`` as pairs; a ConfigError for one without a colon or with an empty part."""
    parsed = []
    for pair in pairs:
        user, colon, password = pair.partition(":")
        if not colon or not user or not password:
            raise ConfigError(f"--auth takes user:password, not {pair!r}.")
        parsed.append((user, password))
    return parsed


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_mcp(mcp: bool, auth: Sequence[tuple[str, str]]) -> None:
    """MCP and a login do not go together: Gradio's MCP server lists its tools to anyone and calls them without
    the page's login, so they would be refused (or, unqueued, open to all)."""
    if mcp and auth:
        raise ConfigError(
            "--mcp cannot be combined with --auth: Gradio's MCP server does not check the page's login, so its "
            "tools would be listed to anyone and every call refused. Serve the MCP tools without --auth on "
            "127.0.0.1 (or behind a proxy that checks who connects)."
        )


def _prepared(engine: Engine, settings: WebSettings, mcp: bool):
    from glmv.web.app import create_app

    demo = create_app(engine, settings)
    if mcp:
        from glmv.web.tools import add_tools, require_mcp

        require_mcp()
        add_tools(demo, engine, settings)
    demo.queue(default_concurrency_limit=settings.concurrency)
    return demo


def launch(
    engine: Engine,
    settings: WebSettings | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    auth: Sequence[tuple[str, str]] = (),
    root_path: str | None = None,
    mcp: bool = False,
    block: bool = True,
    quiet: bool = False,
) -> Any:
    """Serve the page on ``host:port`` (``block=False`` returns at once; the app runs in a thread) and return
    the Gradio Blocks."""
    check_mcp(mcp, auth)
    settings = settings or WebSettings()
    demo = _prepared(engine, settings, mcp)
    demo.launch(
        server_name=host,
        server_port=port,
        auth=list(auth) or None,
        root_path=root_path,
        max_file_size=settings.max_upload_bytes,
        mcp_server=mcp,
        prevent_thread_lock=not block,
        quiet=quiet,
        footer_links=["api"] if mcp else [],
        ssr_mode=False,
    )
    return demo


def mount_app(
    app: FastAPI,
    engine: Engine,
    settings: WebSettings | None = None,
    *,
    path: str = "/web",
    auth: Sequence[tuple[str, str]] = (),
    root_path: str | None = None,
    mcp: bool = False,
) -> FastAPI:
    """Mount the page on ``app`` at ``path`` (``glmv serve --web`` mounts it beside the OpenAI API)."""
    import gradio as gr

    check_mcp(mcp, auth)
    settings = settings or WebSettings()
    demo = _prepared(engine, settings, mcp)
    return gr.mount_gradio_app(
        app,
        demo,
        path=path,
        auth=list(auth) or None,
        root_path=root_path,
        max_file_size=settings.max_upload_bytes,
        mcp_server=mcp,
        footer_links=[],
        ssr_mode=False,
    )
