"""Tiny GLM-V checkpoints for tests and benchmarks: random weights, real architectures, offline loading.

``tiny_checkpoint(family, path)`` writes one; ``teach=True`` makes it reply to
:data:`TAUGHT_CONVERSATIONS` exactly, in GLM format. torch and transformers load only when a checkpoint is built.
"""

from __future__ import annotations

from glmv.testing.checkpoint import SIZES, TinySize, tiny_checkpoint
from glmv.testing.conversations import (
    TAUGHT_CONVERSATIONS,
    TAUGHT_IMAGES,
    WEATHER_TOOL,
    TaughtConversation,
    image_data_uri,
    taught_conversations,
    taught_image,
)

__all__ = [
    "SIZES",
    "TAUGHT_CONVERSATIONS",
    "TAUGHT_IMAGES",
    "WEATHER_TOOL",
    "TaughtConversation",
    "TinySize",
    "image_data_uri",
    "taught_conversations",
    "taught_image",
    "tiny_checkpoint",
]
