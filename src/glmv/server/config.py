"""The settings of one ``glmv serve`` process (every ``glmv serve`` option maps onto one field)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from glmv.errors import ConfigError
from glmv.settings import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MAX_N,
    DEFAULT_MAX_QUEUE,
    DEFAULT_RETRY_AFTER,
)

__all__ = ["ServerSettings", "check_api_key"]


def check_api_key(key: str | None) -> None:
    """Refuse an empty key: taken as "no key" it would silently turn authentication off."""
    if key is not None and not key.strip():
        raise ConfigError(
            "The API key is empty: an empty --api-key (or GLMV_API_KEY) would silently turn authentication "
            "off. Give a real key, or leave the option out to serve without one."
        )


@dataclass(frozen=True)
class ServerSettings:
    """How the server admits, authenticates and feeds requests.

    ``model_name`` is the id clients send as ``model`` (and ``GET /v1/models`` lists); requests naming one of
    ``model_aliases`` (``glmv serve`` adds the model path it loaded) are served too. ``api_key`` when set
    must come as ``Authorization: Bearer KEY``; ``allowed_local_media_path`` is the only folder ``file://``
    media may come from (none by default); ``allow_private_media_urls`` lets media URLs reach loopback and
    private addresses. At most ``max_concurrency`` generations run at once and ``max_queue`` more wait;
    beyond that requests get 429 with ``Retry-After``. Bodies over ``max_body_bytes`` get 413.

    ``max_request_pixels`` (and the other ``MediaPolicy`` request budgets, through ``media_policy``) bound what one
    request's media may hold once decoded; they are measured from headers before the request is admitted.

    Slow and stuck clients: the request line and headers must arrive within ``header_timeout`` seconds and the body
    within ``body_timeout`` (408 after); a client that reads nothing of a streamed reply for ``write_timeout``
    seconds is dropped and its generation stopped. At most ``max_connections`` connections are open at once
    (uvicorn answers 503 beyond); idle keep-alive connections close after ``keep_alive_timeout``; request headers
    may take ``max_header_bytes``. On shutdown, running replies get ``shutdown_timeout`` seconds to finish, then end
    with an error (an SSE error event and ``[DONE]`` for streams).

    ``/metrics`` and the OpenAPI docs (``/docs``, ``/redoc``, ``/openapi.json``) ask for the key too, unless
    ``public_metrics`` / ``docs`` are set; the docs are off unless ``docs`` is set.
    """

    model_name: str = "glmv"
    model_aliases: tuple[str, ...] = ()
    api_key: str | None = None
    allowed_local_media_path: Path | None = None
    allow_private_media_urls: bool = False
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    max_queue: int = DEFAULT_MAX_QUEUE
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_n: int = DEFAULT_MAX_N
    retry_after: float = DEFAULT_RETRY_AFTER
    max_request_pixels: int | None = None
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    write_timeout: float = 30.0
    keep_alive_timeout: float = 5.0
    max_connections: int = 2048
    max_header_bytes: int = 64 * 1024
    shutdown_timeout: float = 10.0
    public_metrics: bool = False
    docs: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "model_aliases", tuple(self.model_aliases))
        check_api_key(self.api_key)
        if self.max_request_pixels is not None and self.max_request_pixels < 1:
            raise ConfigError(f"max_request_pixels must be at least 1, got {self.max_request_pixels}.")
        for name in ("header_timeout", "body_timeout", "write_timeout", "keep_alive_timeout"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be more than 0 seconds, got {getattr(self, name)}.")
        if self.shutdown_timeout < 0:
            raise ConfigError(f"shutdown_timeout must be 0 or more seconds, got {self.shutdown_timeout}.")
        if self.max_connections < 1:
            raise ConfigError(f"max_connections must be at least 1, got {self.max_connections}.")
        if self.max_concurrency < 1:
            raise ConfigError(f"max_concurrency must be at least 1, got {self.max_concurrency}.")
        if self.max_queue < 0:
            raise ConfigError(f"max_queue must be 0 or more, got {self.max_queue}.")
        if self.allowed_local_media_path is not None:
            folder = Path(self.allowed_local_media_path).expanduser().resolve()
            if not folder.is_dir():
                raise ConfigError(
                    f"--allowed-local-media-path {folder} is not a folder; create it or fix the path."
                )
            object.__setattr__(self, "allowed_local_media_path", folder)

    def serves(self, model: str) -> bool:
        """Whether a request naming ``model`` is for this server (its name or one of its aliases)."""
        return model == self.model_name or model in self.model_aliases
