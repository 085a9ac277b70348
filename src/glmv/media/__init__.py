"""Turning what users have into what GLM-V reads: images, sampled video frames and document pages.

Every loader takes a :class:`MediaPolicy` saying where media may come from (local folder, public URLs only) and
how large it may be; :func:`smart_resize` and :func:`image_tokens` say how many tokens an image costs.
:func:`check_request_media` measures all media of one request from their headers and checks the request's budgets
before anything is decoded; :meth:`MeasuredMedium.load` decodes each afterwards.
"""

from glmv.media.budget import MeasuredMedium, check_request_media, measure_medium
from glmv.media.documents import Document, load_document, load_documents
from glmv.media.fetch import check_url, is_public_address
from glmv.media.images import load_image, probe_image
from glmv.media.policy import MediaPolicy
from glmv.media.resize import image_tokens, smart_resize, video_tokens
from glmv.media.sources import read_media_file
from glmv.media.video import Video, load_video, probe_video, sample_indices

__all__ = [
    "Document",
    "MeasuredMedium",
    "MediaPolicy",
    "Video",
    "check_request_media",
    "check_url",
    "image_tokens",
    "is_public_address",
    "load_document",
    "load_documents",
    "load_image",
    "load_video",
    "measure_medium",
    "probe_image",
    "probe_video",
    "read_media_file",
    "sample_indices",
    "smart_resize",
    "video_tokens",
]
