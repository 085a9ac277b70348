"""Running one reply for the page: the engine's chunks read on a worker thread, the :class:`Turn` updated, the page
refreshed at most every ``interval`` seconds, and Stop honoured.

:func:`stream_reply` is a generator the Gradio callback iterates: each value it yields means "the turn changed,
redraw". The engine's generator is read (and closed) by one worker thread, so a Stop takes effect at once on the
page while the engine's own generator is closed (its batch row freed) as soon as it hands over its next chunk.
When the reply ends, stops or fails, ``turn.status``, ``turn.reply`` (the parsed reply, partial when stopped) and
``turn.error`` say how.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from glmv.errors import GlmvError

if TYPE_CHECKING:
    from glmv.engine import ChatRequest, Chunk, Engine
    from glmv.families import Family
    from glmv.web.session import Turn

__all__ = ["stream_reply"]

_END = object()
_POLL = 0.1  # seconds between two looks at the stop switch while the engine is silent


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def _read(engine: Engine, request: ChatRequest, out: queue.Queue, stop: threading.Event) -> None:
    stream = engine.generate(request)
    try:
        for chunk in stream:
            out.put(chunk)
            if stop.is_set():
                break
    except BaseException as exc:  # handed to the page, which shows it
        out.put(_Failure(exc))
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            try:
                close()
            except Exception as exc:  # a failing close must still end the stream
                out.put(_Failure(exc))
        out.put(_END)


def _drain(out: queue.Queue, wait: float) -> list[Any]:
    """What the worker has handed over: waits up to ``wait`` seconds for the first item, then takes every other
    one already there (the deltas that arrived while the page was being updated go out together)."""
    try:
        items = [out.get(timeout=wait)]
    except queue.Empty:
        return []
    while True:
        try:
            items.append(out.get_nowait())
        except queue.Empty:
            return items


def _apply(turn: Turn, chunk: Chunk) -> None:
    if chunk.reasoning:
        turn.reasoning += chunk.reasoning
        turn.reasoning_tokens += 1
    if chunk.content:
        if turn.status == "thinking":
            turn.status = "answering"
            if turn.reasoning:
                turn.thinking_seconds = time.monotonic() - turn.started
        turn.content += chunk.content


def _message(error: BaseException) -> str:
    if isinstance(error, GlmvError):
        return f"{error} The question was dropped and the conversation kept; send it again."
    return (
        f"The reply failed unexpectedly ({type(error).__name__}: {error}); the question was dropped and the "
        "conversation kept. Send it again."
    )


def stream_reply(
    engine: Engine,
    request: ChatRequest,
    turn: Turn,
    stop: threading.Event,
    family: Family,
    interval: float = 0.04,
    first_update: float = 0.1,
) -> Iterator[None]:
    """Stream ``request`` into ``turn``, yielding whenever the page should be redrawn (see the module docstring).

    The first redraw comes with the first text, or after ``first_update`` seconds without any (so the question
    shows at once while a slow model reads it); later ones at most every ``interval`` seconds.
    """
    from glmv.engine import collect

    chunks: list[Any] = []
    out: queue.Queue = queue.Queue()
    worker = threading.Thread(target=_read, args=(engine, request, out, stop), daemon=True)
    worker.start()
    dirty = False
    last = float("-inf")  # the first text is shown at once
    failure: BaseException | None = None
    ended = False
    while not ended:
        wait = min(_POLL, max(0.0, interval - (time.monotonic() - last))) if dirty else _POLL
        if last == float("-inf"):
            wait = min(wait, max(0.0, first_update - (time.monotonic() - turn.started)))
        items = _drain(out, wait)
        if stop.is_set():
            break
        for item in items:
            if item is _END:
                ended = True
            elif isinstance(item, _Failure):
                failure = item.error
            else:
                chunks.append(item)
                _apply(turn, item)
                dirty = True
        waited = last == float("-inf") and time.monotonic() - turn.started >= first_update
        if not ended and (dirty or waited) and time.monotonic() - last >= interval:
            dirty = False
            last = time.monotonic()
            yield
    if turn.reasoning and turn.thinking_seconds is None:
        turn.thinking_seconds = time.monotonic() - turn.started
    if failure is not None:
        turn.status, turn.error = "failed", _message(failure)
        return
    replies = collect(chunks, tools=request.tools, family=family) if chunks else []
    reply = replies[0] if replies else None
    if stop.is_set():
        turn.status = "stopped"
        if reply is not None:
            reply.finish_reason = "cancelled"
        turn.reply = reply
        return
    if reply is None:
        turn.status, turn.error = "failed", "The engine ended without a reply; send the question again."
        return
    turn.status, turn.reply = "done", reply
    turn.reasoning, turn.content = reply.reasoning, reply.content
