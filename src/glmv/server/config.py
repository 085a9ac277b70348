"""The settings of one ``glmv serve`` process (every ``glmv serve`` option maps onto one field)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["ServerSettings"]


@dataclass(frozen=True)
class ServerSettings:
    """How the server admits, authenticates and feeds requests.

    ``model_name`` is the id clients send as ``model`` (and ``GET /v1/models`` lists); ``api_key`` when set
    must come as ``Authorization: Bearer KEY``; ``allowed_local_media_path`` is the only folder ``file://``
    media may come from (none by default); ``allow_private_media_urls`` lets media URLs reach loopback and
    private addresses. At most ``max_concurrency`` generations run at once and ``max_queue`` more wait;
    beyond that requests get 429 with ``Retry-After``. Bodies over ``max_body_bytes`` get 413.
    """

    model_name: str = "glmv"
    api_key: str | None = None
    allowed_local_media_path: Path | None = None
    allow_private_media_urls: bool = False
    max_concurrency: int = 64
    max_queue: int = 256
    max_body_bytes: int = 64 * 1024 * 1024
    max_n: int = 8
    retry_after: float = 1.0

    def __post_init__(self) -> None:
        from glmv.errors import ConfigError

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
