"""One source for the defaults every front end reads.

The CLI, the HTTP server, the vLLM / SGLang launcher, the remote engine and the reward judge take their
defaults from here, so a default changes in one place:

- the model: :data:`DEFAULT_MODEL` (``glmv chat`` and ``glmv serve`` when none is named);
- the server address: :data:`DEFAULT_HOST`, :data:`DEFAULT_PORT` (``glmv serve``, the launcher, the
  background test server);
- generation: :data:`DEFAULT_MAX_TOKENS` when neither the request nor the family says;
- the reward system's LLM judge: :data:`DEFAULT_JUDGE_MODEL`;
- the server's admission and request limits: :data:`DEFAULT_MAX_CONCURRENCY`, :data:`DEFAULT_MAX_QUEUE`,
  :data:`DEFAULT_MAX_BODY_BYTES`, :data:`DEFAULT_MAX_N`, :data:`DEFAULT_RETRY_AFTER`.

This module imports nothing of glmv.
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_JUDGE_MODEL",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_CONCURRENCY",
    "DEFAULT_MAX_N",
    "DEFAULT_MAX_QUEUE",
    "DEFAULT_MAX_TOKENS",
    "DEFAULT_MODEL",
    "DEFAULT_PORT",
    "DEFAULT_RETRY_AFTER",
]

DEFAULT_MODEL = "zai-org/GLM-4.6V-Flash"
"""The model ``glmv chat`` and ``glmv serve`` use when none is named."""

DEFAULT_HOST = "127.0.0.1"
"""The address ``glmv serve`` (and a vLLM / SGLang it launches) listens on: loopback, never all interfaces."""

DEFAULT_PORT = 8000
"""The port of ``glmv serve``, the same as vLLM's and the GLM-V recipes', so client examples carry over."""

DEFAULT_MAX_TOKENS = 8192
"""Thinking models spend their reasoning from this budget too; the official scripts use 8192."""

DEFAULT_JUDGE_MODEL = "glm-4-flash"
"""The model the reward system's LLM judge asks when an endpoint names none (the official reward's choice)."""

DEFAULT_MAX_CONCURRENCY = 64
"""Generations ``glmv serve`` runs at once."""

DEFAULT_MAX_QUEUE = 256
"""Requests ``glmv serve`` lets wait beyond those; more get 429 with ``Retry-After``."""

DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024
"""The largest request body ``glmv serve`` reads (413 beyond it); media come inline as data URIs."""

DEFAULT_MAX_N = 8
"""The most choices (``n``) one request may ask ``glmv serve`` for."""

DEFAULT_RETRY_AFTER = 1.0
"""Seconds a client told 429 should wait before retrying."""
