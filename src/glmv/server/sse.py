"""The streamed response: server-sent events written with a write timeout, stopped when the client leaves.

Starlette's ``StreamingResponse`` waits for ever on a client that stops reading (once the socket buffers are full,
every write blocks), which holds the request's generation slot for good. :class:`EventStream` gives each write
``write_timeout`` seconds: a client that reads nothing for that long is dropped (the connection closed, the
generation stopped, the slot freed) with one warning line; the connection is aborted through the server's
``glmv.abort`` scope extension (:mod:`glmv.server.serving`), since a plain close would wait for the client to
read. A client that disconnects ends the stream too, with one debug line and no traceback.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

__all__ = ["ABORT_EXTENSION", "EventStream"]

log = logging.getLogger("glmv.server")

ABORT_EXTENSION = "glmv.abort"
"""The ASGI scope extension (``{"abort": callable}``) that drops a connection at once, unsent data and all."""


class EventStream(Response):
    """An ASGI response sending ``events`` (SSE text) as they come, each write bounded by ``write_timeout``."""

    media_type = "text/event-stream"

    def __init__(self, events: AsyncIterator[str], write_timeout: float, headers: dict[str, str]) -> None:
        self.events = events
        self.write_timeout = write_timeout
        self.status_code = 200
        self.background = None
        self.init_headers(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = _client(scope)
        abort = scope.get("extensions", {}).get(ABORT_EXTENSION, {}).get("abort")
        writer = asyncio.ensure_future(self._write(send, client, abort))
        watcher = asyncio.ensure_future(_disconnect(receive))
        try:
            await asyncio.wait({writer, watcher}, return_when=asyncio.FIRST_COMPLETED)
            if not writer.done():
                writer.cancel()
                log.debug(
                    "Client %s disconnected during a streamed reply; its generation was stopped.", client
                )
            await asyncio.gather(writer, return_exceptions=True)
        finally:
            watcher.cancel()
            writer.cancel()
            await self.events.aclose()  # type: ignore[attr-defined]

    async def _write(self, send: Send, client: str, abort: Callable[[], None] | None) -> None:
        message: dict[str, Any] = {"type": "http.response.start", "status": 200, "headers": self.raw_headers}
        if not await self._send(send, message, client, abort):
            return
        async for event in self.events:
            if not await self._send(send, _body(event.encode(), more=True), client, abort):
                return
        await self._send(send, _body(b"", more=False), client, abort)

    async def _send(
        self, send: Send, message: dict[str, Any], client: str, abort: Callable[[], None] | None
    ) -> bool:
        try:
            await asyncio.wait_for(send(message), self.write_timeout)
        except asyncio.TimeoutError:
            log.warning(
                "Dropped client %s: it read nothing of its streamed reply for %g s; its generation was stopped.",
                client,
                self.write_timeout,
            )
            if abort is not None:
                abort()
            return False
        return True


def _body(data: bytes, more: bool) -> dict[str, Any]:
    return {"type": "http.response.body", "body": data, "more_body": more}


async def _disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


def _client(scope: Scope) -> str:
    host, port = scope.get("client") or ("?", 0)
    return f"{host}:{port}"
