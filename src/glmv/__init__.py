"""glmv — run, serve, chat with and build on the GLM-V vision-language models.

The public surface is small: the model families, the media and message helpers, the output parser and the
engine. Heavy parts (torch, transformers, the server) load only when used.
"""

from __future__ import annotations

from glmv.errors import GlmvError
from glmv.families import Family, detect_family, get_family
from glmv.output import Box, Point, Reply, StreamParser, ToolCall, Usage, parse_reply

__version__ = "0.1.0"

__all__ = [
    "Box",
    "Family",
    "GlmvError",
    "Point",
    "Reply",
    "StreamParser",
    "ToolCall",
    "Usage",
    "__version__",
    "detect_family",
    "get_family",
    "parse_reply",
]
