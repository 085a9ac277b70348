"""uvicorn set up for clients that may be slow, stuck or hostile, and a graceful shutdown.

Every limit is set explicitly (:func:`uvicorn_config`): idle keep-alive connections close after
``keep_alive_timeout``; at most ``max_connections`` are open (503 beyond); request headers may take
``max_header_bytes``. uvicorn itself has no deadline for a request's headers, so :class:`TimedH11Protocol` closes a
connection whose request line and headers have not all arrived ``header_timeout`` seconds after it opened (or after
its previous response), and offers the app a way to abort a connection (the ``glmv.abort`` scope extension):
closing one whose client reads nothing would wait for ever for its buffers to drain. The body's deadline (``body_timeout``, a 408) is the app's, in
:meth:`~glmv.server.state.ServerState.read_body`; the write timeout is :class:`~glmv.server.sse.EventStream`'s.

:class:`GracefulServer` tells the app when shutdown begins (SIGTERM, Ctrl-C): it stops accepting connections,
refuses queued requests with 503, gives running replies ``shutdown_timeout`` seconds, then ends the rest with an
error (an SSE error event and ``[DONE]`` for streams) before uvicorn's own deadline would cancel them with a
traceback.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from glmv.server.config import ServerSettings
from glmv.server.sse import ABORT_EXTENSION
from glmv.server.state import ServerState

__all__ = ["GracefulServer", "TimedH11Protocol", "uvicorn_config"]

log = logging.getLogger("glmv.server")

_SHUTDOWN_MARGIN = 3.0
"""Seconds uvicorn waits past ``shutdown_timeout``, so the app ends its replies itself first."""


class TimedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's line and headers (slowloris)."""

    def __init__(self, *args: Any, header_timeout: float = 10.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout
        self._header_timer: asyncio.TimerHandle | None = None
        self._timed_cycle: object = None

    def _arm_header_timer(self) -> None:
        self._disarm_header_timer()
        self._timed_cycle = self.cycle
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.cycle is self._timed_cycle and not self.transport.is_closing():
            log.debug("Closed a connection whose request headers took over %g s.", self.header_timeout)
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.cycle is not self._timed_cycle:  # a whole request line and headers arrived
            self._disarm_header_timer()
            self._timed_cycle = self.cycle
            if self.cycle is not None:
                extensions = self.cycle.scope.setdefault("extensions", {})  # type: ignore[typeddict-item]
                extensions[ABORT_EXTENSION] = {"abort": self.transport.abort}

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)


class GracefulServer(uvicorn.Server):
    """A uvicorn server that lets the app end its running replies cleanly when it shuts down."""

    def __init__(self, config: uvicorn.Config, state: ServerState) -> None:
        super().__init__(config)
        self.glmv_state = state

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.glmv_state.begin_shutdown()
        await super().shutdown(sockets)


def uvicorn_config(app: Any, settings: ServerSettings, **options: Any) -> uvicorn.Config:
    """The uvicorn config of ``app`` with every limit of ``settings`` set explicitly; ``options`` go through."""
    config = uvicorn.Config(
        app,
        http=functools.partial(TimedH11Protocol, header_timeout=settings.header_timeout),  # type: ignore[arg-type]
        timeout_keep_alive=settings.keep_alive_timeout,  # type: ignore[arg-type]
        timeout_graceful_shutdown=settings.shutdown_timeout + _SHUTDOWN_MARGIN,  # type: ignore[arg-type]
        limit_concurrency=settings.max_connections,
        h11_max_incomplete_event_size=settings.max_header_bytes,
        **options,
    )
    uvicorn_log = logging.getLogger("uvicorn.error")  # configured by uvicorn.Config
    if not log.handlers:  # glmv's server lines go where uvicorn's go, at its level
        log.handlers = list(uvicorn_log.handlers)
        log.setLevel(uvicorn_log.level)
        log.propagate = False
    return config
