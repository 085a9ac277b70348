"""Before a hub id is loaded: is the Hugging Face hub reachable, and is the model already in the cache?

A machine without network used to spend minutes in huggingface_hub's retries (a "Retrying in 1s" line each)
before failing. :func:`hub_access` answers at once: a folder needs nothing; with ``HF_HUB_OFFLINE`` set only the
cache is read; otherwise one short TCP connect to the hub endpoint tells whether downloading can work, and an
unreachable hub falls back to the cache when the model is there, else fails with a message saying what to do.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from glmv.errors import ModelLoadError

__all__ = ["HubAccess", "hub_access"]

HubAccess = Literal["folder", "online", "cache"]
"""How to load: from a local folder, from the hub (downloading what is missing), or from the cache only."""

_TRUE = ("1", "true", "yes", "on")


def _offline() -> bool:
    from huggingface_hub import constants

    return constants.HF_HUB_OFFLINE or os.environ.get("HF_HUB_OFFLINE", "").lower() in _TRUE


def _cached(model: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    try:
        return isinstance(try_to_load_from_cache(model, "config.json"), str)
    except ValueError:  # not a valid repo id
        return False


def _reachable(endpoint: str, timeout: float) -> bool:
    url = urlparse(endpoint)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname or "", port), timeout=timeout):
            return True
    except OSError:
        return False


def hub_access(model: str | Path, timeout: float = 3.0) -> HubAccess:
    """How ``model`` can be loaded, decided in at most about ``timeout`` seconds; raises
    :class:`~glmv.errors.ModelLoadError` when it cannot be loaded at all."""
    if Path(model).expanduser().exists():
        return "folder"
    from huggingface_hub import constants

    name = str(model)
    if _offline():
        if _cached(name):
            return "cache"
        raise ModelLoadError(
            f"{name!r} is not a local folder and is not in the Hugging Face cache, and HF_HUB_OFFLINE is set, so "
            "nothing is downloaded. Unset HF_HUB_OFFLINE to download it, or pass a checkpoint folder."
        )
    if _reachable(constants.ENDPOINT, timeout):
        return "online"
    if _cached(name):
        return "cache"
    raise ModelLoadError(
        f"Cannot reach the Hugging Face hub ({constants.ENDPOINT}) to download {name!r}, and it is not in the "
        "cache. Check the network (or HF_ENDPOINT), or pass a checkpoint folder; set HF_HUB_OFFLINE=1 to work "
        "from the cache alone."
    )
