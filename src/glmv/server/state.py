"""What the routes of one app share: the engine, the settings, the admission gate, the worker threads, the metrics.

:meth:`ServerState.generation` is the one place a request's admission slot is taken and given back: it waits
for a slot (429 when the queue is full; a client that leaves while it waits leaves the queue at once), starts the
engine in a worker thread (which decodes the request's media first), and on leaving, however it leaves (a
finished reply, an error, a client that went away), stops a generation that has not finished and frees the slot.

Shutdown (:meth:`ServerState.begin_shutdown`, called when uvicorn starts shutting down): requests still waiting
for a slot and new ones get 503 at once; running ones have ``shutdown_timeout`` seconds (:attr:`stop_now` is set
after that) to finish before they are ended with an error.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, Literal

from fastapi import Request
from pydantic import ValidationError

from glmv.engine.types import Engine
from glmv.server.bridge import EngineStream
from glmv.server.config import ServerSettings
from glmv.server.errors import ApiError, from_validation_errors
from glmv.server.inputs import PendingChat
from glmv.server.limits import Admission
from glmv.server.metrics import ServerMetrics
from glmv.server.payload import parse_body
from glmv.server.schemas import ChatCompletionRequest

__all__ = ["ClientLeft", "Outcome", "ServerState", "log"]

log = logging.getLogger("glmv.server")

Outcome = Literal["done", "left", "stopped"]
"""How :meth:`ServerState.race` ended: the work finished, the client left, or the server is stopping."""


class ClientLeft(Exception):
    """The client went away before its request was admitted (nobody is left to answer)."""


async def _disconnected(request: Request) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


def shutting_down() -> ApiError:
    return ApiError(
        503,
        "The server is shutting down and takes no more requests; retry against a running server.",
        type="server_error",
        code="shutting_down",
        headers={"Retry-After": "5"},
    )


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
        if settings.max_request_pixels is not None:
            policy = policy.replace(max_request_pixels=settings.max_request_pixels)
        self.policy = policy.replace(allow_private_urls=True) if settings.allow_private_media_urls else policy
        self.draining = asyncio.Event()
        """Set when shutdown begins: nothing more is admitted."""
        self.stop_now = asyncio.Event()
        """Set ``shutdown_timeout`` seconds after shutdown began: running replies end with an error."""

    def begin_shutdown(self) -> None:
        """Refuse new and queued requests now; end running ones after ``settings.shutdown_timeout`` (in the loop)."""
        if self.draining.is_set():
            return
        self.draining.set()
        log.info(
            "Shutting down: %d running, %d queued; running replies get %g s to finish.",
            self.admission.running,
            self.admission.waiting,
            self.settings.shutdown_timeout,
        )
        asyncio.get_running_loop().call_later(self.settings.shutdown_timeout, self.stop_now.set)

    async def race(self, request: Request, work: asyncio.Future[Any], stop: asyncio.Event) -> Outcome:
        """Wait for ``work`` unless the client leaves or ``stop`` is set first; then ``work`` is cancelled."""
        if not work.done() and stop.is_set():
            work.cancel()
            return "stopped"
        watcher = asyncio.ensure_future(_disconnected(request))
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({work, watcher, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            watcher.cancel()
            stopper.cancel()
        if work.done():
            return "done"
        work.cancel()
        return "left" if watcher.done() and not watcher.cancelled() else "stopped"

    def check_key(self, request: Request) -> None:
        """401 unless the request carries the server's API key (when it has one; an empty key is refused when
        the settings are made, so auth cannot be turned off by accident)."""
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
        """The validated body: 413 over the size limit, 408 when it does not arrive within ``body_timeout``,
        400 for bad JSON (nested too deep, lone surrogates), 422 naming every bad field."""
        limit = self.settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise _too_large(int(declared), limit)
        data = bytearray()

        async def receive() -> None:
            async for piece in request.stream():
                data.extend(piece)
                if len(data) > limit:
                    raise _too_large(len(data), limit)

        try:
            await asyncio.wait_for(receive(), self.settings.body_timeout)
        except asyncio.TimeoutError as exc:
            raise ApiError(
                408,
                f"The request body did not arrive within {self.settings.body_timeout:g} s "
                f"({len(data)} bytes came); send it at once.",
                code="body_timeout",
            ) from exc
        if len(data) > _PARSE_ON_LOOP_BYTES:  # a big body is parsed off the event loop, which keeps streaming
            return await asyncio.to_thread(_validated, data)
        return _validated(data)

    @asynccontextmanager
    async def generation(self, pending: PendingChat, request: Request) -> AsyncIterator[EngineStream]:
        """Admit ``pending`` and run it; leaving stops an unfinished generation and frees the slot.

        Raises :class:`ClientLeft` when the client goes away while queued (it leaves the queue at once), 503
        when the server is shutting down, 429 when the queue is full."""
        if self.draining.is_set():
            raise shutting_down()
        self.metrics.queued.set(self.admission.waiting + 1)
        acquire = asyncio.ensure_future(self.admission.acquire())
        try:
            outcome = await self.race(request, acquire, self.draining)
            if outcome != "done":
                await asyncio.gather(acquire, return_exceptions=True)
                if not acquire.cancelled() and acquire.exception() is None:
                    self.admission.release()  # admitted in the same instant: give the slot straight back
                if outcome == "left":
                    log.debug("A client left while its request was queued.")
                    self.metrics.cancelled.inc()
                    raise ClientLeft
                raise shutting_down()
            acquire.result()  # 429 when the queue is full
            try:
                self._show_admission()
                stream = EngineStream(self.engine, pending.load, self.executor)
                try:
                    yield stream
                finally:
                    if not stream.finished:
                        stream.cancel()
                        self.metrics.cancelled.inc()
            finally:
                self.admission.release()
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
        if usage.timings is not None:
            metrics.observe_timings(usage.timings)

    def shutdown(self) -> None:
        """Stop the worker threads (the app's lifespan ends)."""
        self.executor.shutdown(wait=False, cancel_futures=True)


_PARSE_ON_LOOP_BYTES = 64 * 1024


def _validated(data: bytes | bytearray) -> ChatCompletionRequest:
    payload = parse_body(data)
    try:
        return ChatCompletionRequest.model_validate(payload)
    except ValidationError as exc:
        raise from_validation_errors(exc.errors(include_url=False)) from exc
    except RecursionError as exc:  # pydantic recursing where the payload check did not
        raise ApiError(
            400, "The request body is nested too deeply; flatten it.", code="invalid_json"
        ) from exc


def _too_large(size: int, limit: int) -> ApiError:
    return ApiError(
        413,
        f"The request body is {size} bytes, over the server's limit of {limit} bytes. Send smaller or fewer "
        "media (or resize images before sending).",
        code="body_too_large",
    )
