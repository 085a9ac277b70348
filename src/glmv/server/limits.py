"""Admission control: at most ``max_concurrency`` generations run, ``max_queue`` wait, the rest get 429."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from glmv.errors import EngineBusyError

__all__ = ["Admission"]


class Admission:
    """A semaphore with a bounded waiting room.

    ``async with admission.slot():`` waits for a free generation slot; when ``max_concurrency`` requests
    are running and ``max_queue`` are already waiting it raises :class:`~glmv.errors.EngineBusyError` at once.
    """

    def __init__(self, max_concurrency: int, max_queue: int, retry_after: float = 1.0) -> None:
        self.max_concurrency = max_concurrency
        self.max_queue = max_queue
        self.retry_after = retry_after
        self.running = 0
        self.waiting = 0
        self._semaphore = asyncio.Semaphore(max_concurrency)

    def _admit(self) -> None:
        if self.running + self.waiting >= self.max_concurrency + self.max_queue:
            raise EngineBusyError(
                f"The server is at capacity ({self.running} running, {self.waiting} queued); "
                f"retry after {self.retry_after:g} s.",
                retry_after=self.retry_after,
            )

    async def acquire(self) -> None:
        self._admit()
        self.waiting += 1
        try:
            await self._semaphore.acquire()
        finally:
            self.waiting -= 1
        self.running += 1

    def release(self) -> None:
        self.running -= 1
        self._semaphore.release()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        await self.acquire()
        try:
            yield
        finally:
            self.release()
