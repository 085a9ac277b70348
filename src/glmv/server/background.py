"""Running the server in a background thread on a free loopback port (tests, benchmarks, notebooks).

with BackgroundServer(engine, ServerSettings(model_name="glm")) as server:
    client = openai.OpenAI(base_url=server.base_url, api_key="none")
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

from glmv.engine.types import Engine
from glmv.errors import EngineError
from glmv.server.config import ServerSettings
from glmv.settings import DEFAULT_HOST

__all__ = ["BackgroundServer"]


class BackgroundServer:
    """uvicorn serving ``create_app(engine, settings)`` in a thread; ``base_url`` ends in ``/v1``."""

    def __init__(
        self, engine: Engine, settings: ServerSettings | None = None, host: str = DEFAULT_HOST
    ) -> None:
        from glmv.server.app import create_app
        from glmv.server.serving import GracefulServer, uvicorn_config

        settings = settings or ServerSettings()
        self.app = create_app(engine, settings)
        self.host = host
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._socket = socket.socket(family, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, 0))
        self.port = self._socket.getsockname()[1]
        config = uvicorn_config(self.app, settings, log_level="warning", lifespan="on")
        self._server = GracefulServer(config, self.app.state.glmv)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    @property
    def root_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    def start(self, timeout: float = 30.0) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise EngineError(f"The background server on {self.root_url} did not start.")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=self._server.config.timeout_graceful_shutdown + 10)
        self._socket.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
