"""The app's routes: ``GET /health``, ``GET /metrics``, ``GET /v1/models`` and ``POST /v1/chat/completions``.

``/v1/models`` lists the one model the server serves under its served name; requests may also name it by one
of its aliases (the model path it was loaded from). The chat route is :mod:`glmv.server.completions`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from glmv.server.completions import chat_completion
from glmv.server.state import ServerState

__all__ = ["add_routes"]


def add_routes(app: FastAPI, state: ServerState) -> None:
    """Install the routes on ``app``, all serving ``state``."""

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(state.metrics.render(), media_type="text/plain; version=0.0.4")

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
