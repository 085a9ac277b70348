"""``POST /v1/chat/completions``, streamed and not.

A request is authenticated, size-checked, parsed and validated (422 with every bad field named), its media
measured against the request budgets off the event loop (:mod:`glmv.server.inputs`; nothing decoded yet), then
admitted and generated in a worker thread inside :meth:`~glmv.server.state.ServerState.generation` (which decodes
the media first and frees the slot however the request ends). A client that disconnects, while queued or while
generating, cancels its request (499). ``skip_special_tokens: false`` becomes ``ChatRequest.keep_box_markers``:
the engine keeps the box markers in ``content``, as vLLM does.

A streamed reply awaits its first chunk before the response starts, so an engine that fails at once (or a full
queue) still gets an HTTP status; after the headers have gone out an error can only be an SSE error event. The
events are written by :class:`~glmv.server.sse.EventStream` (a client that stops reading is dropped). When the
server shuts down, a reply still running after the grace period ends with a 503 (an error event and ``[DONE]``
when streamed).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from glmv.engine.types import Chunk, collect
from glmv.errors import GlmvError
from glmv.server.errors import ApiError, from_glmv_error
from glmv.server.inputs import PendingChat, build_request
from glmv.server.schemas import ChatCompletionRequest
from glmv.server.sse import EventStream
from glmv.server.state import ClientLeft, ServerState, log
from glmv.server.streaming import DONE, ChunkBuilder, completion_body, sse, total_usage

__all__ = ["chat_completion"]

_CLIENT_LEFT = 499  # nginx's "client closed request": nobody reads it, the logs and metrics do

_PRIMED = ""
"""What the event generator yields first, once admitted and holding the first chunk (not sent to the client)."""


def _cut_short() -> ApiError:
    return ApiError(
        503,
        "The server shut down before this reply was finished; retry the request against a running server.",
        type="server_error",
        code="shutting_down",
    )


async def chat_completion(state: ServerState, request: Request) -> Response:
    """The response to one ``POST /v1/chat/completions``."""
    started = time.perf_counter()
    state.check_key(request)
    body = await state.read_body(request)
    state.check_model(body.model)
    settings = state.settings
    if body.n > settings.max_n:
        raise ApiError(422, f"n is {body.n}; this server allows at most {settings.max_n}.", param="n")
    pending = await asyncio.to_thread(build_request, body, state.policy, state.family, settings.model_name)
    try:
        if body.stream:
            return await _stream(state, request, body, pending, started)
        return await _complete(state, request, pending, started)
    except ClientLeft:
        return Response(status_code=_CLIENT_LEFT)


def _has_text(chunk: Chunk) -> bool:
    return bool(chunk.reasoning or chunk.content or chunk.tool_calls)


async def _complete(state: ServerState, request: Request, pending: PendingChat, started: float) -> Response:
    """Generate in full, then answer with one ``chat.completion`` body."""
    chunks: list[Chunk] = []
    first_text_at: list[float] = []
    chat = pending.request
    async with state.generation(pending, request) as stream:

        async def gather() -> None:
            async for chunk in stream:
                if not first_text_at and _has_text(chunk):
                    first_text_at.append(time.perf_counter())
                chunks.append(chunk)

        work = asyncio.ensure_future(gather())
        outcome = await state.race(request, work, state.stop_now)
        if outcome == "left":
            log.debug("A client left before its reply was finished; its generation was stopped.")
            return Response(status_code=_CLIENT_LEFT)
        if outcome == "stopped":
            raise _cut_short()
        work.result()
    replies = collect(chunks, tools=chat.tools, family=state.family)
    state.record("200", started, next(iter(first_text_at), None), total_usage(r.usage for r in replies))
    return JSONResponse(completion_body(replies, state.settings.model_name))


async def _stream(
    state: ServerState, request: Request, body: ChatCompletionRequest, pending: PendingChat, started: float
) -> Response:
    """Stream the reply as server-sent events, once the first chunk is in."""
    events = _events(state, request, body, pending, started)
    try:
        await anext(events)  # admitted, and the first chunk is in (an engine that fails at once raises here)
    except StopAsyncIteration:  # the client left before the first chunk
        return Response(status_code=_CLIENT_LEFT)
    return EventStream(
        events,
        state.settings.write_timeout,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _events(
    state: ServerState, request: Request, body: ChatCompletionRequest, pending: PendingChat, started: float
) -> AsyncIterator[str]:
    """:data:`_PRIMED` once the first chunk is in, then the SSE events of the whole reply."""
    chat = pending.request
    async with state.generation(pending, request) as stream:
        iterator = stream.__aiter__()
        waiting = asyncio.ensure_future(anext(iterator))
        outcome = await state.race(request, waiting, state.stop_now)
        if outcome == "left":
            log.debug(
                "A client left before the first chunk of its streamed reply; its generation was stopped."
            )
            return
        if outcome == "stopped":
            raise _cut_short()
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
                chunk = await _next_or_stop(state, iterator)
            for payload in builder.end():
                yield sse(payload)
            yield DONE
            state.record("200", started, first_text_at, total_usage(builder.usages.values()))
        except Exception as exc:  # after the headers went out, an error can only be an event
            if isinstance(exc, ApiError):
                error = exc
            elif isinstance(exc, GlmvError):
                error = from_glmv_error(exc)
            else:
                error = ApiError(500, f"Generation failed: {type(exc).__name__}: {exc}", type="server_error")
            state.metrics.requests.labels("/v1/chat/completions", f"{error.status}-stream").inc()
            yield sse(error.body())
            yield DONE


async def _next_or_stop(state: ServerState, iterator: AsyncIterator[Chunk]) -> Chunk | None:
    """The next chunk, or a 503 once the shutdown grace period is over (the generation is then stopped)."""
    following = asyncio.ensure_future(anext(iterator, None))
    stopper = asyncio.ensure_future(state.stop_now.wait())
    try:
        await asyncio.wait({following, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if following.done():
        return following.result()
    following.cancel()
    await asyncio.gather(following, return_exceptions=True)
    raise _cut_short()
