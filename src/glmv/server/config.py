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

__all__ = ["ServerSettings"]


@dataclass(frozen=True)
class ServerSettings:
    """How the server admits, authenticates and feeds requests.

    ``model_name`` is the id clients send as ``model`` (and ``GET /v1/models`` lists); requests naming one of
    ``model_aliases`` (``glmv serve`` adds the model path it loaded) are served too. ``api_key`` when set
    must come as ``Authorization: Bearer KEY``; ``allowed_local_media_path`` is the only folder ``file://``
    media may come from (none by default); ``allow_private_media_urls`` lets media URLs reach loopback and
    private addresses. At most ``max_concurrency`` generations run at once and ``max_queue`` more wait;
    beyond that requests get 429 with ``Retry-After``. Bodies over ``max_body_bytes`` get 413.
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

    def __post_init__(self) -> None:
        object.__setattr__(self, "model_aliases", tuple(self.model_aliases))
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
