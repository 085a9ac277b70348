"""The FastAPI app factory: ``create_app(engine, settings)`` and ``run_server``.

Routes: ``POST /v1/chat/completions`` (streaming and not), ``GET /v1/models``, ``GET /health``,
``GET /metrics``. Each request is authenticated, size-checked, parsed, validated (422 with every bad field
named), its media loaded under the server's policy off the event loop, admitted (429 + ``Retry-After``
when the queue is full) and generated in a worker thread; a client that disconnects cancels its generation.
Errors leave as OpenAI-style JSON (:mod:`glmv.server.errors`). ``skip_special_tokens: false`` keeps the box
markers in content, as vLLM does (:mod:`glmv.server.markers`).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from glmv.engine.types import ChatRequest, Chunk, Engine, collect
from glmv.errors import GlmvError
from glmv.server.bridge import EngineStream
from glmv.server.config import ServerSettings
from glmv.server.errors import ApiError, error_body, from_glmv_error, from_validation_errors
from glmv.server.inputs import build_request
from glmv.server.limits import Admission
from glmv.server.markers import MarkerKeeper, keep_markers
from glmv.server.metrics import ServerMetrics
from glmv.server.schemas import ChatCompletionRequest
from glmv.server.streaming import DONE, ChunkBuilder, completion_body, sse, total_usage

__all__ = ["create_app", "run_server"]


class _Server:
    """What the routes share: the engine, the settings, the admission gate, the worker threads, the metrics."""

    def __init__(self, engine: Engine, settings: ServerSettings) -> None:
        from glmv.media import MediaPolicy

        self.engine = engine
        self.settings = settings
        self.family = getattr(engine, "family", None)
        self.metrics = ServerMetrics()
        self.admission = Admission(settings.max_concurrency, settings.max_queue, settings.retry_after)
        self.executor = ThreadPoolExecutor(settings.max_concurrency, thread_name_prefix="glmv-engine")
        policy = MediaPolicy.strict(settings.allowed_local_media_path)
        self.policy = policy.replace(allow_private_urls=True) if settings.allow_private_media_urls else policy

    def check_key(self, request: Request) -> None:
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
        if model is not None and model != self.settings.model_name:
            raise ApiError(
                404,
                f"The model {model!r} does not exist here; this server serves {self.settings.model_name!r} "
                "(see GET /v1/models).",
                type="not_found_error",
                param="model",
                code="model_not_found",
            )

    async def read_body(self, request: Request) -> ChatCompletionRequest:
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

    async def admit(self) -> None:
        self.metrics.queued.set(self.admission.waiting + 1)
        try:
            await self.admission.acquire()
        finally:
            self.metrics.queued.set(self.admission.waiting)
        self.metrics.running.set(self.admission.running)

    def release(self) -> None:
        self.admission.release()
        self.metrics.running.set(self.admission.running)


def _too_large(size: int, limit: int) -> ApiError:
    return ApiError(
        413,
        f"The request body is {size} bytes, over the server's limit of {limit} bytes. Send smaller or fewer "
        "media (or resize images before sending).",
        code="body_too_large",
    )


def _json_error(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


async def _wait_for_disconnect(request: Request) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def _finished_before_disconnect(request: Request, work: asyncio.Future[Any]) -> bool:
    """Wait for ``work`` unless the client leaves first; then ``work`` is cancelled and the answer is False."""
    watcher = asyncio.ensure_future(_wait_for_disconnect(request))
    await asyncio.wait({work, watcher}, return_when=asyncio.FIRST_COMPLETED)
    if work.done():
        watcher.cancel()
        return True
    work.cancel()
    return False


def create_app(engine: Engine, settings: ServerSettings | None = None) -> FastAPI:
    """An OpenAI-compatible app serving ``engine`` as ``settings.model_name``."""
    settings = settings or ServerSettings()
    server = _Server(engine, settings)
    started = int(time.time())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        server.executor.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="glmv", summary="OpenAI-compatible GLM-V server", lifespan=lifespan)
    app.state.glmv = server

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        server.metrics.requests.labels(request.url.path, str(exc.status)).inc()
        return _json_error(exc)

    @app.exception_handler(GlmvError)
    async def _glmv_error(request: Request, exc: GlmvError) -> JSONResponse:
        error = from_glmv_error(exc)
        server.metrics.requests.labels(request.url.path, str(error.status)).inc()
        return _json_error(error)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        server.metrics.requests.labels(request.url.path, "500").inc()
        message = f"Generation failed: {type(exc).__name__}: {exc}"
        return JSONResponse(error_body(message, "server_error"), status_code=500)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
        return JSONResponse(error_body(str(exc.detail), kind), status_code=exc.status_code)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(server.metrics.render(), media_type="text/plain; version=0.0.4")

    @app.get("/v1/models")
    async def models(request: Request) -> dict[str, Any]:
        server.check_key(request)
        return {
            "object": "list",
            "data": [
                {"id": settings.model_name, "object": "model", "created": started, "owned_by": "glmv"},
            ],
        }

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        started = time.perf_counter()
        server.check_key(request)
        body = await server.read_body(request)
        server.check_model(body.model)
        if body.n > settings.max_n:
            raise ApiError(422, f"n is {body.n}; this server allows at most {settings.max_n}.", param="n")
        chat = await asyncio.to_thread(build_request, body, server.policy, server.family, settings.model_name)
        await server.admit()
        if not body.stream:
            return await _complete(request, body, chat, started)
        try:
            return await _stream(request, body, chat, started)
        except BaseException:
            server.release()
            raise

    async def _complete(
        request: Request, body: ChatCompletionRequest, chat: ChatRequest, started: float
    ) -> Response:
        """Generate in full; the admission slot is released here."""
        chunks: list[Chunk] = []
        first: list[float] = []
        stream = EngineStream(engine, chat, server.executor)

        async def gather() -> None:
            async for chunk in stream:
                if not first and (chunk.reasoning or chunk.content or chunk.tool_calls):
                    first.append(time.perf_counter())
                chunks.append(chunk)

        try:
            work = asyncio.ensure_future(gather())
            if not await _finished_before_disconnect(request, work):
                stream.cancel()
                server.metrics.cancelled.inc()
                return Response(status_code=499)
            work.result()
        finally:
            server.release()
        replies = collect(chunks, tools=chat.tools, family=server.family)
        if not body.skip_special_tokens:
            replies = keep_markers(replies, server.family, chat.tools)
        _record(server, "200", started, first, total_usage(r.usage for r in replies))
        return JSONResponse(completion_body(replies, settings.model_name))

    async def _stream(
        request: Request, body: ChatCompletionRequest, chat: ChatRequest, started: float
    ) -> Response:
        """Stream the reply; the first chunk is awaited first, so an engine that fails at once gets a status.

        A client that leaves before that first chunk cancels the generation and frees its slot.
        """
        stream = EngineStream(engine, chat, server.executor)
        iterator = stream.__aiter__()
        waiting = asyncio.ensure_future(anext(iterator))
        if not await _finished_before_disconnect(request, waiting):
            stream.cancel()
            server.metrics.cancelled.inc()
            server.release()
            return Response(status_code=499)
        try:
            first_chunk: Chunk | None = waiting.result()
        except StopAsyncIteration:
            first_chunk = None
        builder = ChunkBuilder(settings.model_name, chat.n, body.include_usage)
        keeper = None if body.skip_special_tokens else MarkerKeeper(server.family, chat.tools)

        async def events() -> AsyncIterator[str]:
            first: list[float] = []
            finished = False
            try:
                for payload in builder.start():
                    yield sse(payload)
                chunk = first_chunk
                while chunk is not None:
                    if keeper is not None:
                        chunk = keeper.chunk(chunk)
                    if not first and (chunk.reasoning or chunk.content or chunk.tool_calls):
                        first.append(time.perf_counter())
                    for payload in builder.delta(chunk):
                        yield sse(payload)
                    try:
                        chunk = await anext(iterator)
                    except StopAsyncIteration:
                        chunk = None
                for payload in builder.end():
                    yield sse(payload)
                yield DONE
                finished = True
                _record(server, "200", started, first, total_usage(builder.usages.values()))
            except Exception as exc:  # after the headers went out, an error can only be an event
                error = (
                    from_glmv_error(exc)
                    if isinstance(exc, GlmvError)
                    else ApiError(500, f"Generation failed: {type(exc).__name__}: {exc}", type="server_error")
                )
                server.metrics.requests.labels("/v1/chat/completions", f"{error.status}-stream").inc()
                yield sse(error.body())
                yield DONE
                finished = True
            finally:
                if not finished:
                    stream.cancel()
                    server.metrics.cancelled.inc()
                server.release()

        return StreamingResponse(
            events(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return app


def _record(server: _Server, status: str, started: float, first: list[float], usage: Any) -> None:
    metrics = server.metrics
    metrics.requests.labels("/v1/chat/completions", status).inc()
    metrics.latency.observe(time.perf_counter() - started)
    if first:
        metrics.ttft.observe(first[0] - started)
    metrics.prompt_tokens.inc(usage.prompt_tokens)
    metrics.completion_tokens.inc(usage.completion_tokens)


def run_server(
    engine: Engine, settings: ServerSettings | None = None, host: str = "127.0.0.1", port: int = 8000
) -> None:
    """Serve ``engine`` with uvicorn until interrupted."""
    import uvicorn

    uvicorn.run(
        create_app(engine, settings), host=host, port=port, log_level="info", timeout_graceful_shutdown=5
    )
