"""Tiny GLM-V checkpoints for tests and benchmarks: random weights, real architectures, offline loading.

``tiny_checkpoint(family, path)`` writes one; ``teach=True`` makes it reply to
:data:`TAUGHT_CONVERSATIONS` exactly, in GLM format. ``teach_checkpoint(source, out, conversations)`` teaches an
existing checkpoint other requests (the agent's real prompts and screenshots, say) by training only its output
layer, in seconds; ``taught_reply`` writes a family's reply text for them. torch and transformers load only when a
checkpoint is built or taught.
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
    taught_reply,
)
from glmv.testing.teach_head import teach_checkpoint

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
    "taught_reply",
    "teach_checkpoint",
    "tiny_checkpoint",
]
