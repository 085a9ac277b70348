"""``open_engine(spec)``: one call from a model name, folder or URL to a ready :class:`~glmv.engine.Engine`.

Engines are found through one small registry of spec prefixes. The built-ins register the same way an
extension does:

- ``http://…`` and ``https://…`` → :class:`glmv.engine.remote.RemoteEngine` (vLLM, SGLang, a hosted API, another
  ``glmv serve``), imported only when used;
- ``scripted`` / ``scripted:…`` → :class:`glmv.engine.scripted.ScriptedEngine`, the fake for tests (its module
  registers itself when imported; ``open_engine`` imports it on first use);
- anything else — a hub id or a checkpoint folder — → :class:`glmv.engine.local.LocalEngine`.

Third-party engines register with :func:`register_engine` or through the ``glmv.engines`` entry-point group
(name = prefix, value = a factory ``factory(spec, **options) -> Engine``).
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from glmv.engine.types import Engine
from glmv.errors import ConfigError

__all__ = ["EngineFactory", "open_engine", "register_engine", "registered_engines"]

EngineFactory = Callable[..., Engine]
"""``factory(spec, **options) -> Engine``: builds an engine for a spec that starts with its prefix."""

_REGISTRY: dict[str, EngineFactory] = {}
_LOCK = threading.Lock()
# Modules of the package that register engines when imported, loaded on the first open_engine call.
_BUILTIN_MODULES = ("glmv.engine.scripted",)
_discovered = False


def register_engine(prefix: str, factory: EngineFactory) -> None:
    """Make ``open_engine(spec)`` call ``factory(spec, **options)`` for every spec starting with ``prefix``.

    A prefix ending in ``:`` also matches the bare name (``"scripted:"`` matches ``"scripted"``). The longest
    matching prefix wins; registering a prefix again replaces its factory.
    """
    if not prefix:
        raise ConfigError("An engine prefix cannot be empty.")
    with _LOCK:
        _REGISTRY[prefix] = factory


def registered_engines() -> dict[str, EngineFactory]:
    """The registered prefixes and their factories (built-ins included once discovered)."""
    _discover()
    with _LOCK:
        return dict(_REGISTRY)


def open_engine(spec: str | Path, **options: Any) -> Engine:
    """An engine for ``spec``: a hub id or checkpoint folder (local), an ``http(s)://…/v1`` URL (remote) or a
    registered prefix such as ``scripted``. ``options`` go to the engine's constructor unchanged, e.g.
    ``device=``, ``dtype=``, ``progress=`` for a local model, ``model=``, ``api_key=`` for a URL.
    """
    text = str(spec)
    factory = _match(text)
    if factory is None:
        _discover()
        factory = _match(text)
    if factory is not None:
        return factory(text, **options)
    from glmv.engine.local import LocalEngine

    return LocalEngine(spec, **options)


def _match(spec: str) -> EngineFactory | None:
    with _LOCK:
        matches = [
            prefix
            for prefix in _REGISTRY
            if spec.startswith(prefix) or (prefix.endswith(":") and spec == prefix[:-1])
        ]
        return _REGISTRY[max(matches, key=len)] if matches else None


def _discover() -> None:
    """Import the package's self-registering engine modules and the ``glmv.engines`` entry points, once."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    for module in _BUILTIN_MODULES:
        try:
            importlib.import_module(module)
        except ImportError:  # an optional engine whose module is not installed
            continue
    from importlib.metadata import entry_points

    for entry in entry_points(group="glmv.engines"):
        register_engine(entry.name, entry.load())


def _remote(spec: str, **options: Any) -> Engine:
    from glmv.engine.remote import RemoteEngine

    return RemoteEngine(spec, **options)


register_engine("http://", _remote)
register_engine("https://", _remote)
