"""Running an engine's blocking generator off the event loop, one queue per request.

Each request's :meth:`Engine.generate` runs in a worker thread and hands chunks to the event loop through
its own ``asyncio.Queue``, so a slow client only fills its own queue and never stalls the engine or other
clients. :meth:`EngineStream.cancel` (called when a client disconnects) closes the generator, which stops the
engine's work for that request.

The request is made in the worker thread too, by the ``load`` callable (it decodes the request's media): the
decoded request is referenced only while the worker runs, so its pixels are freed when the request ends, and a
decoding error reaches the consumer like an engine error.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor
from dataclasses import dataclass

from glmv.engine.types import ChatRequest, Chunk, Engine

__all__ = ["EngineStream"]


@dataclass(frozen=True)
class _Failure:
    error: BaseException


_END = object()


class EngineStream:
    """The chunks of one request, iterated asynchronously; engine errors re-raise in the consumer."""

    def __init__(self, engine: Engine, load: Callable[[], ChatRequest], executor: Executor) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._cancelled = threading.Event()
        self._engine = engine
        self._load = load
        self._finished = False
        self.done = self._loop.run_in_executor(executor, self._run)

    def _put(self, item: object) -> None:
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            self._cancelled.set()

    def _run(self) -> None:
        generator = None
        try:
            if self._cancelled.is_set():
                return
            generator = self._engine.generate(self._load())
            for chunk in generator:
                if self._cancelled.is_set():
                    break
                self._put(chunk)
        except BaseException as exc:  # handed to the consumer, which decides the HTTP status
            self._put(_Failure(exc))
        finally:
            if generator is not None and hasattr(generator, "close"):
                generator.close()
            self._put(_END)

    def cancel(self) -> None:
        """Stop generating for this request (the engine sees its generator closed)."""
        self._cancelled.set()

    @property
    def finished(self) -> bool:
        """Whether the consumer has seen the end of the stream (its last chunk or the engine's error)."""
        return self._finished

    def __aiter__(self) -> AsyncIterator[Chunk]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Chunk]:
        while True:
            item = await self._queue.get()
            if item is _END:
                self._finished = True
                return
            if isinstance(item, _Failure):
                self._finished = True
                raise item.error
            yield item  # type: ignore[misc]
