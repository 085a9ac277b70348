"""The app's routes: ``GET /health``, ``GET /metrics``, ``GET /v1/models``, ``POST /v1/chat/completions`` and the
OpenAPI docs (``/openapi.json``, ``/docs``, ``/redoc``).

``/v1/models`` lists the one model the server serves under its served name; requests may also name it by one
of its aliases (the model path it was loaded from). The chat route is :mod:`glmv.server.completions`.
When the server has an API key, ``/metrics`` and the docs ask for it too, unless ``public_metrics`` / ``docs``
are set; only ``/health`` is always open (load balancers probe it).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response

from glmv.server.completions import chat_completion
from glmv.server.state import ServerState

__all__ = ["add_routes"]


def add_routes(app: FastAPI, state: ServerState) -> None:
    """Install the routes on ``app``, all serving ``state``."""

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics")
    async def metrics(request: Request) -> Response:
        if not state.settings.public_metrics:
            state.check_key(request)
        return Response(state.metrics.render(), media_type="text/plain; version=0.0.4")

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi(request: Request) -> JSONResponse:
        if not state.settings.docs:
            state.check_key(request)
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    async def swagger(request: Request) -> HTMLResponse:
        if not state.settings.docs:
            state.check_key(request)
        return get_swagger_ui_html(openapi_url="/openapi.json", title="glmv")

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        if not state.settings.docs:
            state.check_key(request)
        return get_redoc_html(openapi_url="/openapi.json", title="glmv")

    @app.get("/v1/models")
    async def models(request: Request) -> dict[str, Any]:
        state.check_key(request)
        model = {
            "id": state.settings.model_name,
            "object": "model",
            "created": state.started,
            "owned_by": "glmv",
        }
        return {"object": "list", "data": [model]}

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        return await chat_completion(state, request)
