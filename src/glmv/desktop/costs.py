"""What an attachment costs the model, in ``<|image|>`` tokens, shown before a message is sent.

An image costs :func:`glmv.media.image_tokens` of its size (read from its header); a video what the family's
frame sampler keeps (:meth:`VideoInfo.plan <glmv.media.video.VideoInfo.plan>`) through
:func:`glmv.media.video_tokens`; a document the sum of its rendered pages (each an image part).
"""

from __future__ import annotations

from glmv.errors import MediaError
from glmv.families import Family
from glmv.media import MediaPolicy, image_tokens, probe_image, probe_video, video_tokens
from glmv.messages import Attachment

__all__ = ["attachment_tokens"]


def attachment_tokens(attachment: Attachment, family: Family, policy: MediaPolicy | None = None) -> int:
    """The image tokens ``attachment`` adds to the prompt (0 for a part that cannot be measured any more)."""
    policy = policy or MediaPolicy()
    total = 0
    for part in attachment.parts:
        try:
            if part["type"] == "image_url":
                info, _ = probe_image(part["image_url"]["url"], policy)
                total += image_tokens(info.width, info.height)
            elif part["type"] == "video_url":
                frames, (width, height) = probe_video(part["video_url"]["url"], policy).plan(family, policy)
                total += video_tokens(max(frames, 2), width, height)
        except MediaError:
            continue
    return total
