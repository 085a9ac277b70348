"""``WebSettings``: what ``glmv web`` and :func:`glmv.web.create_app` are told (limits, defaults, title).

One frozen dataclass, so a typo in a keyword fails loudly; every option of ``glmv web`` maps onto one field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from glmv.errors import ConfigError
from glmv.settings import DEFAULT_MAX_TOKENS

if TYPE_CHECKING:
    from glmv.families import Family
    from glmv.media import MediaPolicy

__all__ = ["WebSettings"]


@dataclass(frozen=True)
class WebSettings:
    """How the web page behaves.

    - ``title``: the page title; ``family``: the model family when the engine does not say (``None``: the engine's,
      else guessed from ``model``); ``model``: the name shown on the page.
    - ``system``, ``max_tokens``, ``temperature``, ``top_p``, ``thinking_budget``: the controls' starting values
      (``None``: the family's default).
    - ``max_upload_mb``: the largest file one upload may be; ``max_files``: files per message.
    - ``document_tokens``: the image tokens one document may become (24,000 by default, the official desktop
      app's budget): pages that do not fit are left out, keeping the first, the last and evenly spaced ones
      between, and the page says which; ``None``: only the policy's page limits.
    - ``concurrency``: generations running at once over all sessions (more wait in the queue, whose position the
      page shows).
    - ``policy``: the media limits (``None``: the engine's ``media_policy`` when it has one, else
      :meth:`MediaPolicy.strict <glmv.media.MediaPolicy.strict>`); each session may read local files only from its
      own upload folder.
    - ``stream_interval``: seconds between two page updates while a reply streams (deltas in between are sent
      together).
    """

    title: str = "GLM-V chat"
    model: str = ""
    family: Family | str | None = None
    system: str | None = None
    max_tokens: int = DEFAULT_MAX_TOKENS
    temperature: float | None = None
    top_p: float | None = None
    thinking_budget: int | None = None
    max_upload_mb: float = 100.0
    max_files: int = 16
    document_tokens: int | None = 24_000
    concurrency: int = 8
    policy: MediaPolicy | None = None
    stream_interval: float = 0.04

    def __post_init__(self) -> None:
        if self.max_upload_mb <= 0:
            raise ConfigError(f"max_upload_mb must be more than 0, got {self.max_upload_mb}.")
        if self.max_files < 1:
            raise ConfigError(f"max_files must be at least 1, got {self.max_files}.")
        if self.document_tokens is not None and self.document_tokens < 1:
            raise ConfigError(f"document_tokens must be at least 1 (or None), got {self.document_tokens}.")
        if self.concurrency < 1:
            raise ConfigError(f"concurrency must be at least 1, got {self.concurrency}.")
        if self.max_tokens < 1:
            raise ConfigError(f"max_tokens must be at least 1, got {self.max_tokens}.")
        if self.stream_interval < 0:
            raise ConfigError(f"stream_interval must be 0 or more, got {self.stream_interval}.")

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)
