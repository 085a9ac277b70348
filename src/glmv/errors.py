"""The glmv exception tree.

Every error a user can cause is a :class:`GlmvError` whose message says what to do about it.
The library raises; the CLI and the HTTP server translate these in one place each.

    GlmvError
    ├── ConfigError            a setting, config file or option is wrong
    ├── FamilyError            a model is not a GLM-V model, or its family is unknown
    ├── MediaError             an image, video or document cannot be used
    │   ├── MediaTooLargeError     over a byte, pixel, frame or page limit
    │   └── MediaAccessError       a path or URL that is not allowed (outside the allowed folder, private address)
    ├── MissingDependencyError an optional extra or a system program is not installed
    ├── ModelLoadError         a model cannot be found, downloaded or loaded
    ├── EngineError            generation failed
    │   ├── EngineBusyError        the engine's queue is full (retry later)
    │   └── RequestError           a request is invalid (bad fields, unknown model, bad tool choice)
    └── OutputError            model output cannot be parsed where parsing was required
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "EngineBusyError",
    "EngineError",
    "FamilyError",
    "GlmvError",
    "MediaAccessError",
    "MediaError",
    "MediaTooLargeError",
    "MissingDependencyError",
    "ModelLoadError",
    "OutputError",
    "RequestError",
]


class GlmvError(Exception):
    """Base of every error glmv raises on purpose."""


class ConfigError(GlmvError):
    """A setting, option or configuration file is invalid."""


class FamilyError(GlmvError):
    """A model is not a GLM-V model, or its family cannot be told."""


class MediaError(GlmvError):
    """An image, video or document cannot be read or used."""


class MediaTooLargeError(MediaError):
    """A medium is over a size, pixel, frame or page limit."""


class MediaAccessError(MediaError):
    """A medium lies somewhere glmv is not allowed to read (a folder or a network address)."""


class MissingDependencyError(GlmvError):
    """An optional Python extra or a system program is not installed."""

    def __init__(self, what: str, install: str) -> None:
        super().__init__(f"{what} is not installed. Install it with: {install}")
        self.what = what
        self.install = install


class ModelLoadError(GlmvError):
    """A model cannot be found, downloaded or loaded."""


class EngineError(GlmvError):
    """Generation failed."""


class EngineBusyError(EngineError):
    """The engine has no room for another request right now; retry after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RequestError(EngineError):
    """A request is invalid; ``field`` names the offending field when there is one."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class OutputError(GlmvError):
    """Model output cannot be parsed where a parse was required."""
