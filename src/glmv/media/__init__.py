"""Turning what users have into what GLM-V reads: images, sampled video frames and document pages.

Every loader takes a :class:`MediaPolicy` saying where media may come from (local folder, public URLs only) and
how large it may be; :func:`smart_resize` and :func:`image_tokens` say how many tokens an image costs.
"""

from glmv.media.documents import Document, load_document
from glmv.media.fetch import check_url, is_public_address
from glmv.media.images import load_image
from glmv.media.policy import MediaPolicy
from glmv.media.resize import image_tokens, smart_resize, video_tokens
from glmv.media.video import Video, load_video, sample_indices

__all__ = [
    "Document",
    "MediaPolicy",
    "Video",
    "check_url",
    "image_tokens",
    "is_public_address",
    "load_document",
    "load_image",
    "load_video",
    "sample_indices",
    "smart_resize",
    "video_tokens",
]
