"""Conversations in the OpenAI chat format, the lingua franca of glmv.

:mod:`glmv.messages.content` builds messages and content parts from convenience inputs, applies the GLM history
policy and turns messages into what a chat template and a processor take; :mod:`glmv.messages.conversation`
holds :class:`Conversation` (history, pending attachments, system prompt, settings) and its saved JSON format.
"""

from glmv.messages.content import (
    MediaRef,
    apply_history_policy,
    check_text,
    data_uri,
    image_part,
    media_in_order,
    normalize_content,
    text_part,
    to_processor_messages,
    user_message,
    video_part,
)
from glmv.messages.conversation import Attachment, Conversation

__all__ = [
    "Attachment",
    "Conversation",
    "MediaRef",
    "apply_history_policy",
    "check_text",
    "data_uri",
    "image_part",
    "media_in_order",
    "normalize_content",
    "text_part",
    "to_processor_messages",
    "user_message",
    "video_part",
]
