"""The OpenAI-compatible HTTP server behind ``glmv serve``.

``create_app(engine, settings)`` builds a FastAPI app that serves ``POST /v1/chat/completions`` (streaming and
not), ``GET /v1/models``, ``GET /health`` and ``GET /metrics`` on any :class:`~glmv.engine.Engine`.
``run_server`` runs it with uvicorn. FastAPI, uvicorn and prometheus-client come with ``glmv[serve]``; without
them importing this package raises :class:`~glmv.errors.MissingDependencyError` saying so.

The modules: ``app`` (the factory), ``routes``, ``completions`` (``POST /v1/chat/completions``),
``handlers`` (errors to HTTP), ``state`` (what the routes share), ``schemas``, ``inputs``, ``streaming``,
``bridge``, ``limits``, ``metrics``, ``errors``, ``config``, ``background``.
"""

from glmv.errors import require

require("fastapi", "uvicorn", "prometheus_client", extra="serve", purpose="glmv serve")

from glmv.server.app import create_app, run_server  # noqa: E402
from glmv.server.config import ServerSettings  # noqa: E402

__all__ = ["ServerSettings", "create_app", "run_server"]
