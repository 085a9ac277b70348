"""The app's exception handlers: every error leaves as OpenAI-style JSON with its status, and is counted.

:class:`~glmv.server.errors.ApiError` keeps its own status; a :class:`~glmv.errors.GlmvError` gets the status
:func:`~glmv.server.errors.from_glmv_error` gives it; Starlette's own errors (an unknown path: 404) keep theirs;
anything else is a 500 ``server_error`` naming the exception.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from glmv.errors import GlmvError
from glmv.server.errors import ApiError, error_body, from_glmv_error
from glmv.server.metrics import ServerMetrics

__all__ = ["add_error_handlers", "json_error"]


def json_error(error: ApiError) -> JSONResponse:
    """The JSON response of ``error``: its body, status and headers (``Retry-After``)."""
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


def add_error_handlers(app: FastAPI, metrics: ServerMetrics) -> None:
    """Install the handlers on ``app``; each error response is counted in ``metrics`` by path and status."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        metrics.requests.labels(request.url.path, str(exc.status)).inc()
        return json_error(exc)

    @app.exception_handler(GlmvError)
    async def _glmv_error(request: Request, exc: GlmvError) -> JSONResponse:
        error = from_glmv_error(exc)
        metrics.requests.labels(request.url.path, str(error.status)).inc()
        return json_error(error)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        metrics.requests.labels(request.url.path, "500").inc()
        message = f"Generation failed: {type(exc).__name__}: {exc}"
        return JSONResponse(error_body(message, "server_error"), status_code=500)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
        return JSONResponse(error_body(str(exc.detail), kind), status_code=exc.status_code)
