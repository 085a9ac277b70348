"""Loading one image from whatever a user has, as an RGB :class:`PIL.Image.Image`.

:func:`load_image` accepts a path, a ``file://`` / ``http(s)://`` / ``data:`` URL, raw bytes or a PIL image. It
checks byte and pixel limits before decoding pixels (so a decompression bomb costs nothing), applies the EXIF
orientation, puts transparent images on white and turns every other mode (L, CMYK, 16-bit, palette, …) into RGB.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from glmv.errors import MediaError, MediaTooLargeError
from glmv.media.policy import MediaPolicy
from glmv.media.sources import describe_bytes, open_source

__all__ = ["ImageSource", "load_image", "to_rgb"]

ImageSource = str | Path | bytes | bytearray | Image.Image

_WHITE = (255, 255, 255)


def _check_pixels(width: int, height: int, limit: int, label: str) -> None:
    if width * height > limit:
        raise MediaTooLargeError(
            f"The image {label} is {width}x{height} = {width * height} pixels, over the limit of {limit} pixels. "
            "Scale it down before sending it."
        )


def _sixteen_bit_to_rgb(image: Image.Image) -> Image.Image:
    import numpy as np

    array = np.asarray(image, dtype=np.float64)
    peak = 65535.0 if array.max(initial=0) > 255 else 255.0
    grey = np.clip(np.rint(array * (255.0 / peak)), 0, 255).astype(np.uint8)
    return Image.fromarray(grey, mode="L").convert("RGB")


def to_rgb(image: Image.Image) -> Image.Image:
    """``image`` in RGB: transparency composited on white, 16-bit greys scaled, other modes converted."""
    if image.mode == "P":
        image = image.convert("RGBA") if "transparency" in image.info else image.convert("RGB")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        image.mode in ("RGB", "L") and "transparency" in image.info
    ):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*_WHITE, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode.startswith("I;16") or image.mode == "I":
        return _sixteen_bit_to_rgb(image)
    if image.mode == "F":
        return image.convert("L").convert("RGB")
    if image.mode != "RGB":
        return image.convert("RGB")
    return image


def _decode(data: bytes, label: str, policy: MediaPolicy) -> Image.Image:
    with warnings.catch_warnings():
        # glmv enforces its own pixel limit below; PIL's warning would only repeat it.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError as exc:
            raise MediaTooLargeError(
                f"The image {label} declares more pixels than Pillow will decode ({exc}); it may be a "
                "decompression bomb. Scale it down before sending it."
            ) from exc
        except UnidentifiedImageError as exc:
            raise MediaError(
                f"Not an image: {label} is {describe_bytes(data[:32])}. Send a JPEG, PNG, WebP, GIF, BMP or TIFF."
            ) from exc
        _check_pixels(image.width, image.height, policy.max_image_pixels, label)
        try:
            image.load()
        except Image.DecompressionBombError as exc:
            raise MediaTooLargeError(f"The image {label} is too large to decode safely ({exc}).") from exc
        except (OSError, SyntaxError, ValueError) as exc:
            raise MediaError(
                f"The image {label} is truncated or corrupt and cannot be decoded ({exc}). Send the complete file."
            ) from exc
    return image


def load_image(source: ImageSource, policy: MediaPolicy | None = None) -> Image.Image:
    """An RGB image from a path, a ``file://`` / ``http(s)://`` / ``data:`` URL, bytes or a PIL image.

    Raises :class:`~glmv.errors.MediaAccessError` for sources ``policy`` forbids,
    :class:`~glmv.errors.MediaTooLargeError` over ``policy.max_image_bytes`` / ``max_image_pixels`` and
    :class:`~glmv.errors.MediaError` for anything that is not a complete image.
    """
    policy = policy or MediaPolicy()
    if isinstance(source, Image.Image):
        _check_pixels(source.width, source.height, policy.max_image_pixels, "given")
        image = source
    else:
        opened = open_source(source, policy, policy.max_image_bytes, "image")
        try:
            data = opened.read()
        except OSError as exc:
            raise MediaError(f"Cannot read the image file {opened.label!r}: {exc.strerror or exc}.") from exc
        image = _decode(data, repr(opened.label) if opened.path else opened.label, policy)
    with contextlib.suppress(
        OSError, SyntaxError, ValueError, TypeError
    ):  # unreadable EXIF: keep pixels as stored
        image = ImageOps.exif_transpose(image)
    return to_rgb(image)
