"""Loading one image from whatever a user has, as an RGB :class:`PIL.Image.Image`.

:func:`load_image` accepts a path, a ``file://`` / ``http(s)://`` / ``data:`` URL, raw bytes or a PIL image. It
checks byte, pixel and aspect-ratio limits and the size of a PNG's text chunks before decoding pixels (so a
decompression bomb or a text-chunk bomb costs nothing), then decodes the whole image at once, so a truncated file
fails here with a :class:`~glmv.errors.MediaError` naming it. It applies the EXIF orientation, puts transparent images
on white and turns every other mode (L, CMYK, 16-bit, palette, …) into RGB. :func:`probe_image` reads only the header.
"""

from __future__ import annotations

import contextlib
import io
import struct
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from glmv.errors import MediaError, MediaTooLargeError
from glmv.media.policy import MediaPolicy
from glmv.media.resize import check_aspect_ratio
from glmv.media.sources import Source, describe_bytes, describe_error, open_source

__all__ = ["ImageInfo", "ImageSource", "load_image", "probe_image", "to_rgb"]

ImageSource = str | Path | bytes | bytearray | Image.Image | Source

_WHITE = (255, 255, 255)
# What Pillow's decoders raise for files that start well and go wrong.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, TypeError, zlib.error)
_IMAGE_SIGNATURES = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF8", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)
_PNG_TEXT_CHUNKS = (b"tEXt", b"zTXt", b"iTXt")
# Text metadata (all tEXt / zTXt / iTXt chunks together) a PNG may carry; real XMP blocks are far smaller.
MAX_PNG_TEXT_BYTES = 4 * 1024 * 1024
MAX_PNG_TEXT_CHUNKS = 1024


@dataclass(frozen=True)
class ImageInfo:
    """What an image's header says: ``width``, ``height`` and Pillow's ``format`` name."""

    width: int
    height: int
    format: str | None

    @property
    def pixels(self) -> int:
        return self.width * self.height


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


def _png_text_size(kind: bytes, body: bytes, cap: int) -> int:
    """Bytes a PNG text chunk holds once decompressed, counting at most ``cap + 1``."""
    keyword_end = body.find(b"\x00")
    if keyword_end < 0:
        return len(body)
    rest = body[keyword_end + 1 :]
    if kind == b"zTXt":
        compressed: bytes | None = rest[1:]
    elif kind == b"iTXt" and rest[:1] == b"\x01":
        language_end = rest.find(b"\x00", 2)
        translated_end = rest.find(b"\x00", language_end + 1) if language_end >= 0 else -1
        compressed = rest[translated_end + 1 :] if translated_end >= 0 else b""
    else:
        return len(rest)
    try:
        return len(zlib.decompressobj().decompress(compressed, cap + 1))
    except zlib.error:
        return 0  # Pillow skips a text chunk it cannot decompress


def _check_png_text(data: bytes, label: str) -> None:
    """Refuse a PNG whose text chunks would inflate past Pillow's per-chunk or glmv's per-image limit."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return
    per_chunk = PngImagePlugin.MAX_TEXT_CHUNK
    offset, count, total = 8, 0, 0
    while offset + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if kind in _PNG_TEXT_CHUNKS:
            count += 1
            size = _png_text_size(kind, data[offset + 8 : offset + 8 + length], per_chunk)
            total += size
            if size > per_chunk or total > MAX_PNG_TEXT_BYTES or count > MAX_PNG_TEXT_CHUNKS:
                raise MediaTooLargeError(
                    f"The image {label} carries more text metadata than glmv reads (a text chunk over "
                    f"{per_chunk} bytes, over {MAX_PNG_TEXT_BYTES} bytes in all or over {MAX_PNG_TEXT_CHUNKS} "
                    "chunks): it may be a PNG text-chunk bomb. Strip the metadata and send the picture."
                )
        if kind == b"IEND":
            return
        offset += 12 + length


def _corrupt(data: bytes, label: str, exc: BaseException | None) -> MediaError:
    head = data[:16]
    reason = f" ({describe_error(exc)})" if exc is not None else ""
    for signature, name in _IMAGE_SIGNATURES:
        if head.startswith(signature):
            return MediaError(
                f"The image {label} is a truncated or corrupt {name} and cannot be decoded{reason}. "
                "Send the complete file."
            )
    return MediaError(
        f"The image {label} is truncated or corrupt and cannot be decoded{reason}. Send the complete file."
    )


def _open(data: bytes, label: str, policy: MediaPolicy) -> Image.Image:
    """The image in ``data`` opened lazily (header read, no pixels), after every check that needs no pixels."""
    _check_png_text(data, label)
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
            if any(data.startswith(signature) for signature, _name in _IMAGE_SIGNATURES):
                raise _corrupt(data, label, None) from exc
            raise MediaError(
                f"Not an image: {label} is {describe_bytes(data[:32])}. Send a JPEG, PNG, WebP, GIF, BMP or TIFF."
            ) from exc
        except _DECODE_ERRORS as exc:
            raise _corrupt(data, label, exc) from exc
    _check_pixels(image.width, image.height, policy.max_image_pixels, label)
    check_aspect_ratio(image.width, image.height, f"The image {label}")
    return image


def _decode(data: bytes, label: str, policy: MediaPolicy) -> Image.Image:
    image = _open(data, label, policy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image.load()
        except Image.DecompressionBombError as exc:
            raise MediaTooLargeError(f"The image {label} is too large to decode safely ({exc}).") from exc
        except _DECODE_ERRORS as exc:
            raise _corrupt(data, label, exc) from exc
    return image


def _label(opened: Source) -> str:
    return repr(opened.label) if opened.path else opened.label


def _read(opened: Source) -> bytes:
    try:
        return opened.read()
    except OSError as exc:
        raise MediaError(f"Cannot read the image file {opened.label!r}: {exc.strerror or exc}.") from exc


def probe_image(source: ImageSource, policy: MediaPolicy | None = None) -> tuple[ImageInfo, Source | None]:
    """The header facts of an image (no pixels decoded) and the checked :class:`Source` to decode it from later.

    Every check :func:`load_image` makes without pixels is made here (bytes, pixels, aspect ratio, PNG text); the
    source is ``None`` for a PIL image, which is already decoded.
    """
    policy = policy or MediaPolicy()
    if isinstance(source, Image.Image):
        _check_pixels(source.width, source.height, policy.max_image_pixels, "given")
        check_aspect_ratio(source.width, source.height, "The given image")
        return ImageInfo(source.width, source.height, source.format), None
    opened = open_source(source, policy, policy.max_image_bytes, "image")
    data = _read(opened)
    image = _open(data, _label(opened), policy)
    info = ImageInfo(image.width, image.height, image.format)
    image.close()
    in_memory = opened if opened.path is None else Source(label=opened.label, data=data, kind="image")
    return info, in_memory


def load_image(source: ImageSource, policy: MediaPolicy | None = None) -> Image.Image:
    """An RGB image from a path, a ``file://`` / ``http(s)://`` / ``data:`` URL, bytes or a PIL image.

    Raises :class:`~glmv.errors.MediaAccessError` for sources ``policy`` forbids,
    :class:`~glmv.errors.MediaTooLargeError` over ``policy.max_image_bytes`` / ``max_image_pixels`` (or for a PNG
    text-chunk bomb) and :class:`~glmv.errors.MediaError` for anything that is not a complete image, a file that is
    not a regular file, or an image more than 200 times longer than it is wide.
    """
    policy = policy or MediaPolicy()
    if isinstance(source, Image.Image):
        _check_pixels(source.width, source.height, policy.max_image_pixels, "given")
        check_aspect_ratio(source.width, source.height, "The given image")
        image = source
        label = "given"
    else:
        opened = open_source(source, policy, policy.max_image_bytes, "image")
        label = _label(opened)
        image = _decode(_read(opened), label, policy)
    with contextlib.suppress(*_DECODE_ERRORS):  # unreadable EXIF: keep pixels as stored
        image = ImageOps.exif_transpose(image)
    try:
        return to_rgb(image)
    except _DECODE_ERRORS as exc:
        raise MediaError(f"The image {label} cannot be converted to RGB ({describe_error(exc)}).") from exc
