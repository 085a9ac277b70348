"""``POST /v1/chat/completions``, streamed and not.

A request is authenticated, size-checked, parsed and validated (422 with every bad field named), its media
loaded under the server's policy off the event loop (:mod:`glmv.server.inputs`), then admitted and generated in
a worker thread inside :meth:`~glmv.server.state.ServerState.generation`, which frees the slot however the
request ends. A client that disconnects cancels its generation (499). ``skip_special_tokens: false`` becomes
``ChatRequest.keep_box_markers``: the engine keeps the box markers in ``content``, as vLLM does.

A streamed reply awaits its first chunk before the response starts, so an engine that fails at once (or a full
queue) still gets an HTTP status; after the headers have gone out an error can only be an SSE error event.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from glmv.engine.types import ChatRequest, Chunk, collect
from glmv.errors import GlmvError
from glmv.server.errors import ApiError, from_glmv_error
from glmv.server.inputs import build_request
from glmv.server.schemas import ChatCompletionRequest
from glmv.server.state import ServerState
from glmv.server.streaming import DONE, ChunkBuilder, completion_body, sse, total_usage

__all__ = ["chat_completion"]

_CLIENT_LEFT = 499  # nginx's "client closed request": nobody reads it, the logs and metrics do

_PRIMED = ""
"""What the event generator yields first, once admitted and holding the first chunk (not sent to the client)."""


async def chat_completion(state: ServerState, request: Request) -> Response:
    """The response to one ``POST /v1/chat/completions``."""
    started = time.perf_counter()
    state.check_key(request)
    body = await state.read_body(request)
    state.check_model(body.model)
    settings = state.settings
    if body.n > settings.max_n:
        raise ApiError(422, f"n is {body.n}; this server allows at most {settings.max_n}.", param="n")
    chat = await asyncio.to_thread(build_request, body, state.policy, state.family, settings.model_name)
    if body.stream:
        return await _stream(state, request, body, chat, started)
    return await _complete(state, request, chat, started)


def _has_text(chunk: Chunk) -> bool:
    return bool(chunk.reasoning or chunk.content or chunk.tool_calls)


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


async def _complete(state: ServerState, request: Request, chat: ChatRequest, started: float) -> Response:
    """Generate in full, then answer with one ``chat.completion`` body."""
    chunks: list[Chunk] = []
    first_text_at: list[float] = []
    async with state.generation(chat) as stream:

        async def gather() -> None:
            async for chunk in stream:
                if not first_text_at and _has_text(chunk):
                    first_text_at.append(time.perf_counter())
                chunks.append(chunk)

        work = asyncio.ensure_future(gather())
        if not await _finished_before_disconnect(request, work):
            return Response(status_code=_CLIENT_LEFT)
        work.result()
    replies = collect(chunks, tools=chat.tools, family=state.family)
    state.record("200", started, next(iter(first_text_at), None), total_usage(r.usage for r in replies))
    return JSONResponse(completion_body(replies, state.settings.model_name))


async def _stream(
    state: ServerState, request: Request, body: ChatCompletionRequest, chat: ChatRequest, started: float
) -> Response:
    """Stream the reply as server-sent events, once the first chunk is in."""
    events = _events(state, request, body, chat, started)
    try:
        await anext(events)  # admitted, and the first chunk is in (an engine that fails at once raises here)
    except StopAsyncIteration:  # the client left before the first chunk
        return Response(status_code=_CLIENT_LEFT)
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _events(
    state: ServerState, request: Request, body: ChatCompletionRequest, chat: ChatRequest, started: float
) -> AsyncIterator[str]:
    """:data:`_PRIMED` once the first chunk is in, then the SSE events of the whole reply."""
    async with state.generation(chat) as stream:
        iterator = stream.__aiter__()
        waiting = asyncio.ensure_future(anext(iterator))
        if not await _finished_before_disconnect(request, waiting):
            return
        try:
            chunk: Chunk | None = waiting.result()
        except StopAsyncIteration:
            chunk = None
        yield _PRIMED
        builder = ChunkBuilder(state.settings.model_name, chat.n, body.include_usage)
        first_text_at: float | None = None
        try:
            for payload in builder.start():
                yield sse(payload)
            while chunk is not None:
                if first_text_at is None and _has_text(chunk):
                    first_text_at = time.perf_counter()
                for payload in builder.delta(chunk):
                    yield sse(payload)
                chunk = await anext(iterator, None)
            for payload in builder.end():
                yield sse(payload)
            yield DONE
            state.record("200", started, first_text_at, total_usage(builder.usages.values()))
        except Exception as exc:  # after the headers went out, an error can only be an event
            error = (
                from_glmv_error(exc)
                if isinstance(exc, GlmvError)
                else ApiError(500, f"Generation failed: {type(exc).__name__}: {exc}", type="server_error")
            )
            state.metrics.requests.labels("/v1/chat/completions", f"{error.status}-stream").inc()
            yield sse(error.body())
            yield DONE
