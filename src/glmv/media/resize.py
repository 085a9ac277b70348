"""How big an image or video becomes inside a GLM-V model, and how many tokens it costs.

:func:`smart_resize` is the GLM processors' resize rule (transformers ``glm4v.image_processing_glm4v.smart_resize``),
written again here so that counting tokens needs neither torch nor transformers; a parity test holds it to the
original. One language-model token covers 28 x 28 pixels (14-pixel patches merged 2 x 2), and a still image counts
as two identical frames, so the per-image pixel caps are half the configured numbers.
"""

from __future__ import annotations

import math

from glmv.errors import MediaError

__all__ = [
    "FACTOR",
    "IMAGE_MAX_PIXELS",
    "MIN_PIXELS",
    "TEMPORAL_PATCH",
    "VIDEO_MAX_PIXELS",
    "check_aspect_ratio",
    "image_tokens",
    "smart_resize",
    "video_tokens",
]

FACTOR = 28  # patch size 14 x merge size 2
TEMPORAL_PATCH = 2
MIN_PIXELS = 112 * 112  # processor size["shortest_edge"]
IMAGE_MAX_PIXELS = 28 * 28 * 15000  # Glm4vImageProcessor size["longest_edge"]
VIDEO_MAX_PIXELS = 28 * 28 * 2 * 30000  # Glm4vVideoProcessor size["longest_edge"], over frames x H x W
MAX_ASPECT_RATIO = 200


def check_aspect_ratio(width: int, height: int, what: str) -> None:
    """:class:`MediaError` when ``what`` (an image or a video, named in the message) is longer and thinner than the
    200:1 the GLM processors accept, checked from its size alone, before any pixel is decoded."""
    if width <= 0 or height <= 0:
        raise MediaError(f"{what} is {width}x{height} pixels: it has no area.")
    ratio = max(width, height) / min(width, height)
    if ratio > MAX_ASPECT_RATIO:
        raise MediaError(
            f"{what} is {width}x{height} pixels, {ratio:.0f}:1: too long and thin for GLM-V (at most "
            f"{MAX_ASPECT_RATIO}:1). Crop it or split it into pieces."
        )


def smart_resize(
    height: int,
    width: int,
    *,
    num_frames: int = TEMPORAL_PATCH,
    factor: int = FACTOR,
    min_pixels: int = MIN_PIXELS,
    max_pixels: int = IMAGE_MAX_PIXELS,
    temporal_factor: int = TEMPORAL_PATCH,
) -> tuple[int, int]:
    """The ``(height, width)`` the GLM processor resizes an image (or each frame of a clip) to.

    Both are multiples of ``factor``; ``num_frames x height x width`` lies within ``[min_pixels, max_pixels]`` as
    nearly as rounding allows. Raises :class:`MediaError` where the processor raises: an aspect ratio over 200:1, or
    fewer frames than ``temporal_factor``.
    """
    if num_frames < temporal_factor:
        raise MediaError(
            f"A video needs at least {temporal_factor} frames, got {num_frames}; repeat the frame to make a pair."
        )
    if height <= 0 or width <= 0:
        raise MediaError(f"An image of {width}x{height} pixels has no area.")
    if height < factor or width < factor:
        scale = max(factor / height, factor / width)
        height = int(height * scale)
        width = int(width * scale)
    ratio = max(height, width) / min(height, width) if min(height, width) > 0 else math.inf
    if ratio > MAX_ASPECT_RATIO:
        raise MediaError(
            f"The image is too long and thin for GLM-V ({ratio:.0f}:1 after scaling; at most "
            f"{MAX_ASPECT_RATIO}:1). Crop it or split it into pieces."
        )
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    t_bar = round(num_frames / temporal_factor) * temporal_factor
    if t_bar * h_bar * w_bar > max_pixels:
        beta = math.sqrt((num_frames * height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif t_bar * h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (num_frames * height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def image_tokens(
    width: int,
    height: int,
    *,
    factor: int = FACTOR,
    min_pixels: int = MIN_PIXELS,
    max_pixels: int = IMAGE_MAX_PIXELS,
    temporal: int = TEMPORAL_PATCH,
) -> int:
    """The number of ``<|image|>`` tokens an image of ``width x height`` pixels becomes."""
    h, w = smart_resize(
        height,
        width,
        num_frames=temporal,
        factor=factor,
        min_pixels=min_pixels,
        max_pixels=max_pixels,
        temporal_factor=temporal,
    )
    return (h // factor) * (w // factor)


def video_tokens(
    num_frames: int,
    width: int,
    height: int,
    *,
    factor: int = FACTOR,
    min_pixels: int = MIN_PIXELS,
    max_pixels: int = VIDEO_MAX_PIXELS,
    temporal: int = TEMPORAL_PATCH,
) -> int:
    """The number of ``<|image|>`` tokens a clip of ``num_frames`` sampled frames of ``width x height`` becomes.

    Timestamp text and the begin/end tokens around each frame pair come on top.
    """
    h, w = smart_resize(
        height,
        width,
        num_frames=num_frames,
        factor=factor,
        min_pixels=min_pixels,
        max_pixels=max_pixels,
        temporal_factor=temporal,
    )
    pairs = -(-num_frames // temporal)
    return pairs * (h // factor) * (w // factor)
