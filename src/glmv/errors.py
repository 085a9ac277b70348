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

:func:`require` is how code that needs an optional extra checks for it first: a missing module becomes a
:class:`MissingDependencyError` carrying the exact ``pip install 'glmv[EXTRA]'`` to run, not a
``ModuleNotFoundError``.
"""

from __future__ import annotations

import importlib

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
    "install_command",
    "require",
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


def install_command(extra: str) -> str:
    """The command that installs glmv's ``extra``: ``pip install 'glmv[serve]'``."""
    return f"pip install 'glmv[{extra}]'"


def require(*modules: str, extra: str, purpose: str) -> None:
    """Import each of ``modules``; a missing one raises :class:`MissingDependencyError` naming ``extra``.

    ``purpose`` says what needs them::

        require("fastapi", "uvicorn", extra="serve", purpose="glmv serve")
        # fastapi (needed by glmv serve) is not installed. Install it with: pip install 'glmv[serve]'

    Only an absent module counts (the one named, or one it imports); an installed module that fails for another
    reason raises its own error.
    """
    for module in modules:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            missing = exc.name or module
            raise MissingDependencyError(f"{missing} (needed by {purpose})", install_command(extra)) from exc
