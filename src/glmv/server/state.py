"""What the routes of one app share: the engine, the settings, the admission gate, the worker threads, the metrics.

:meth:`ServerState.generation` is the one place a request's admission slot is taken and given back: it waits
for a slot (429 when the queue is full), starts the engine in a worker thread, and on leaving, however it
leaves (a finished reply, an error, a client that went away), stops a generation that has not finished and frees
the slot.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Request
from pydantic import ValidationError

from glmv.engine.types import ChatRequest, Engine
from glmv.server.bridge import EngineStream
from glmv.server.config import ServerSettings
from glmv.server.errors import ApiError, from_validation_errors
from glmv.server.limits import Admission
from glmv.server.metrics import ServerMetrics
from glmv.server.schemas import ChatCompletionRequest

__all__ = ["ServerState"]


class ServerState:
    """The shared state of one app (``app.state.glmv``)."""

    def __init__(self, engine: Engine, settings: ServerSettings) -> None:
        from glmv.media import MediaPolicy

        self.engine = engine
        self.settings = settings
        self.family = getattr(engine, "family", None)
        self.started = int(time.time())
        self.metrics = ServerMetrics()
        self.admission = Admission(settings.max_concurrency, settings.max_queue, settings.retry_after)
        self.executor = ThreadPoolExecutor(settings.max_concurrency, thread_name_prefix="glmv-engine")
        policy = MediaPolicy.strict(settings.allowed_local_media_path)
        self.policy = policy.replace(allow_private_urls=True) if settings.allow_private_media_urls else policy

    def check_key(self, request: Request) -> None:
        """401 unless the request carries the server's API key (when it has one)."""
        expected = self.settings.api_key
        if not expected:
            return
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected.encode()):
            raise ApiError(
                401,
                "Missing or wrong API key: send 'Authorization: Bearer <key>' with the key the server was "
                "started with (--api-key).",
                type="authentication_error",
                code="invalid_api_key",
            )

    def check_model(self, model: str | None) -> None:
        """404 unless ``model`` is omitted or names this server's model (or one of its aliases)."""
        if model is not None and not self.settings.serves(model):
            raise ApiError(
                404,
                f"The model {model!r} does not exist here; this server serves {self.settings.model_name!r} "
                "(see GET /v1/models).",
                type="not_found_error",
                param="model",
                code="model_not_found",
            )

    async def read_body(self, request: Request) -> ChatCompletionRequest:
        """The validated body: 413 over the size limit, 400 for bad JSON, 422 naming every bad field."""
        limit = self.settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise _too_large(int(declared), limit)
        data = bytearray()
        async for piece in request.stream():
            data.extend(piece)
            if len(data) > limit:
                raise _too_large(len(data), limit)
        try:
            payload = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(400, f"The request body is not valid JSON: {exc}.", code="invalid_json") from exc
        if not isinstance(payload, dict):
            raise ApiError(400, "The request body must be a JSON object.", code="invalid_json")
        try:
            return ChatCompletionRequest.model_validate(payload)
        except ValidationError as exc:
            raise from_validation_errors(exc.errors(include_url=False)) from exc

    @asynccontextmanager
    async def generation(self, chat: ChatRequest) -> AsyncIterator[EngineStream]:
        """Admit ``chat`` and run it; leaving stops an unfinished generation and frees the slot."""
        self.metrics.queued.set(self.admission.waiting + 1)
        try:
            async with self.admission.slot():
                self._show_admission()
                stream = EngineStream(self.engine, chat, self.executor)
                try:
                    yield stream
                finally:
                    if not stream.finished:
                        stream.cancel()
                        self.metrics.cancelled.inc()
        finally:
            self._show_admission()

    def _show_admission(self) -> None:
        self.metrics.queued.set(self.admission.waiting)
        self.metrics.running.set(self.admission.running)

    def record(self, status: str, started: float, first_text_at: float | None, usage: Any) -> None:
        """Count one finished chat completion: its status, latency, time to first text and tokens."""
        metrics = self.metrics
        metrics.requests.labels("/v1/chat/completions", status).inc()
        metrics.latency.observe(time.perf_counter() - started)
        if first_text_at is not None:
            metrics.ttft.observe(first_text_at - started)
        metrics.prompt_tokens.inc(usage.prompt_tokens)
        metrics.completion_tokens.inc(usage.completion_tokens)

    def shutdown(self) -> None:
        """Stop the worker threads (the app's lifespan ends)."""
        self.executor.shutdown(wait=False, cancel_futures=True)


def _too_large(size: int, limit: int) -> ApiError:
    return ApiError(
        413,
        f"The request body is {size} bytes, over the server's limit of {limit} bytes. Send smaller or fewer "
        "media (or resize images before sending).",
        code="body_too_large",
    )
