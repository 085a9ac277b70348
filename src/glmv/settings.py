"""One source for the defaults every front end reads (model, server address, generation limits)."""

from __future__ import annotations

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_MAX_TOKENS",
    "DEFAULT_MODEL",
    "DEFAULT_PORT",
]

DEFAULT_MODEL = "zai-org/GLM-4.6V-Flash"
"""The model ``glmv chat`` and ``glmv serve`` use when none is named."""

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000

DEFAULT_MAX_TOKENS = 8192
"""Thinking models spend their reasoning from this budget too; the official scripts use 8192."""
