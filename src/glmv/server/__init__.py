"""The OpenAI-compatible HTTP server behind ``glmv serve``.

``create_app(engine, settings)`` builds a FastAPI app that serves ``POST /v1/chat/completions`` (streaming and
not), ``GET /v1/models``, ``GET /health`` and ``GET /metrics`` on any :class:`~glmv.engine.Engine`.
``run_server`` runs it with uvicorn. FastAPI, uvicorn and prometheus-client come with ``glmv[serve]``.
"""

from glmv.server.app import create_app, run_server
from glmv.server.config import ServerSettings

__all__ = ["ServerSettings", "create_app", "run_server"]
