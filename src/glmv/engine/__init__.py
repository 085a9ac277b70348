"""Engines: the one way applications reach a model.

``open_engine(spec)`` gives a :class:`LocalEngine` for a hub id or a checkpoint folder (transformers,
in-process) and a :class:`RemoteEngine` for an ``http(s)://…/v1`` URL (vLLM, SGLang, the hosted API,
another ``glmv serve``). Both speak the contract of :mod:`glmv.engine.types`: ``Engine.generate`` streams
chunks, ``chat(engine, request)`` collects them for any engine. Every glmv engine streams through the one
:class:`ChunkPump`. ``register_engine`` adds an engine kind under a spec prefix. Engines that need torch load it
only when first used.
"""

from importlib import import_module
from typing import Any

from glmv.engine.open import open_engine, register_engine
from glmv.engine.pump import ChunkPump
from glmv.engine.types import ChatRequest, Chunk, Engine, EngineBase, chat, collect

__all__ = [
    "ChatRequest",
    "Chunk",
    "ChunkPump",
    "Engine",
    "EngineBase",
    "LocalEngine",
    "RemoteEngine",
    "ScriptedEngine",
    "chat",
    "collect",
    "open_engine",
    "register_engine",
]

# Names served lazily, so that `import glmv.engine` never imports torch: name → module.
_LAZY = {
    "LocalEngine": "glmv.engine.local",
    "RemoteEngine": "glmv.engine.remote",
    "ScriptedEngine": "glmv.engine.scripted",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
