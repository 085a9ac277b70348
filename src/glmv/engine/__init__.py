"""Engines: the one way applications reach a model.

``open_engine(spec)`` gives a :class:`LocalEngine` for a hub id or a checkpoint folder (transformers,
in-process) and a :class:`RemoteEngine` for an ``http(s)://…/v1`` URL (vLLM, SGLang, the hosted API,
another ``glmv serve``). Both speak the contract of :mod:`glmv.engine.types`.
"""

from glmv.engine.types import ChatRequest, Chunk, Engine, EngineBase, collect

__all__ = [
    "ChatRequest",
    "Chunk",
    "Engine",
    "EngineBase",
    "collect",
]
