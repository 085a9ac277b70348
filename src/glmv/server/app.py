"""The FastAPI app factory, ``create_app(engine, settings)``, and ``run_server``.

The app is assembled from its parts: the shared state (:mod:`glmv.server.state`), the routes
(:mod:`glmv.server.routes`, with the chat completions in :mod:`glmv.server.completions`) and the error handlers
(:mod:`glmv.server.handlers`), which turn every error into OpenAI-style JSON (:mod:`glmv.server.errors`).
``run_server`` serves it with uvicorn under explicit limits and a graceful shutdown (:mod:`glmv.server.serving`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from glmv.engine.types import Engine
from glmv.server.config import ServerSettings
from glmv.server.handlers import add_error_handlers
from glmv.server.routes import add_routes
from glmv.server.state import ServerState
from glmv.settings import DEFAULT_HOST, DEFAULT_PORT

__all__ = ["create_app", "run_server"]


def create_app(engine: Engine, settings: ServerSettings | None = None) -> FastAPI:
    """An OpenAI-compatible app serving ``engine`` as ``settings.model_name``."""
    state = ServerState(engine, settings or ServerSettings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        state.shutdown()

    app = FastAPI(
        title="glmv",
        summary="OpenAI-compatible GLM-V server",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.glmv = state
    add_error_handlers(app, state.metrics)
    add_routes(app, state)
    return app


def run_server(
    engine: Engine,
    settings: ServerSettings | None = None,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    mount: Callable[[FastAPI], object] | None = None,
) -> None:
    """Serve ``engine`` with uvicorn until interrupted (SIGTERM or Ctrl-C end it gracefully).

    ``mount`` adds more to the app before it serves (``glmv serve --web`` mounts the chat page with it).
    """
    from glmv.server.serving import GracefulServer, uvicorn_config

    settings = settings or ServerSettings()
    app = create_app(engine, settings)
    if mount is not None:
        mount(app)
    config = uvicorn_config(app, settings, host=host, port=port, log_level="info")
    GracefulServer(config, app.state.glmv).run()
