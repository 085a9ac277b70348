"""glmv — run, serve, chat with and build on the GLM-V vision-language models.

The main nouns and verbs are importable from here::

    from glmv import ChatRequest, Conversation, open_engine, parse_reply

    engine = open_engine("zai-org/GLM-4.6V-Flash")        # or a folder, "http://host:8000/v1", "scripted"
    conversation = Conversation(engine.family)
    conversation.attach(images=["cat.jpg"])
    reply = engine.chat(ChatRequest(**conversation.ask("Where is the cat? Give a box.")))
    conversation.answered(reply)
    parse_reply(reply.raw).boxes                             # the same parser, on any GLM text

Each lives in its room (``glmv.engine``, ``glmv.messages``, ``glmv.output``, ``glmv.media``, ``glmv.actions``,
``glmv.reward``); names other than the parsers, families and errors load on first use, so ``import glmv`` stays
light (no torch, no transformers).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from glmv.errors import GlmvError
from glmv.families import Family, detect_family, get_family
from glmv.output import Box, Point, Reply, StreamParser, ToolCall, Usage, parse_reply, render_reply

__version__ = "0.1.0"

# Names served lazily: name → the module that defines it.
_LAZY = {
    "Action": "glmv.actions",
    "ActionParseError": "glmv.actions",
    "ChatRequest": "glmv.engine",
    "Chunk": "glmv.engine",
    "Conversation": "glmv.messages",
    "Engine": "glmv.engine",
    "MediaPolicy": "glmv.media",
    "RewardSystem": "glmv.reward",
    "chat": "glmv.engine",
    "load_document": "glmv.media",
    "load_image": "glmv.media",
    "load_video": "glmv.media",
    "open_engine": "glmv.engine",
    "parse_action": "glmv.actions",
    "user_message": "glmv.messages",
}

__all__ = [
    "Action",
    "ActionParseError",
    "Box",
    "ChatRequest",
    "Chunk",
    "Conversation",
    "Engine",
    "Family",
    "GlmvError",
    "MediaPolicy",
    "Point",
    "Reply",
    "RewardSystem",
    "StreamParser",
    "ToolCall",
    "Usage",
    "__version__",
    "chat",
    "detect_family",
    "get_family",
    "load_document",
    "load_image",
    "load_video",
    "open_engine",
    "parse_action",
    "parse_reply",
    "render_reply",
    "user_message",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'glmv' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
