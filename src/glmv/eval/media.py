"""Turning a record's image and video values into chat content parts: bytes, base64, data URIs or local paths.

A ``datasets`` image column arrives as ``{"bytes": …, "path": …}``; a JSONL file carries base64 text or a path
relative to the data file; parquet carries bytes. Each image is probed (header only, no pixels decoded) so an
unreadable one fails its item, not the run, and its size is known for the coordinate conversions of grounding
tasks. URLs are refused: an eval runs on local data only.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glmv.errors import MediaError

__all__ = ["PreparedImage", "image_bytes", "prepare_image", "prepare_video"]

_MIME = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "GIF": "image/gif",
    "WEBP": "image/webp",
    "BMP": "image/bmp",
}


@dataclass(frozen=True)
class PreparedImage:
    """One image as a chat content part, with the original size (``width``, ``height``)."""

    part: dict[str, Any]
    width: int
    height: int


def _local(value: str, base: Path | None) -> Path:
    path = Path(value).expanduser()
    if not path.is_absolute() and base is not None:
        path = base / path
    return path


def image_bytes(value: Any, base: Path | None = None) -> bytes:
    """The encoded image of a record value: bytes, ``{"bytes", "path"}``, a data URI, base64 text or a path."""
    if isinstance(value, dict):
        if value.get("bytes"):
            return bytes(value["bytes"])
        if value.get("path"):
            return image_bytes(str(value["path"]), base)
        raise MediaError("The image value has neither bytes nor a path.")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if not isinstance(value, str) or not value.strip():
        raise MediaError(f"No image in the record (got {type(value).__name__}).")
    text = value.strip()
    if text.startswith(("http://", "https://")):
        raise MediaError(f"Image URLs are not fetched by glmv eval ({text[:80]}); download the data first.")
    if text.startswith("data:"):
        _, _, payload = text.partition(",")
        text = payload
    elif len(text) < 1024 and _local(text, base).exists():
        return _read(_local(text, base))
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        if len(text) < 1024:
            raise MediaError(f"Image file not found: {_local(text, base)}") from None
        raise MediaError("The image value is neither a path nor valid base64.") from None


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise MediaError(f"Cannot read the image {path}: {exc.strerror or exc}") from exc


def prepare_image(value: Any, base: Path | None = None) -> PreparedImage:
    """The content part of one image value, checked readable (raises :class:`~glmv.errors.MediaError`)."""
    from glmv.media import probe_image
    from glmv.messages import data_uri, image_part

    data = image_bytes(value, base)
    info, _ = probe_image(data)
    mime = _MIME.get((info.format or "").upper(), "image/png")
    return PreparedImage(image_part(data_uri(data, mime)), info.width, info.height)


def prepare_video(value: Any, base: Path | None = None) -> dict[str, Any]:
    """The content part of one video value: a local path (its container header checked) or bytes."""
    from glmv.media import probe_video
    from glmv.messages import video_part

    if isinstance(value, dict):
        value = value.get("bytes") or value.get("path")
    if isinstance(value, (bytes, bytearray)):
        return video_part(bytes(value))
    if not isinstance(value, str) or not value.strip():
        raise MediaError("No video in the record.")
    if value.startswith(("http://", "https://")):
        raise MediaError(f"Video URLs are not fetched by glmv eval ({value[:80]}); download the data first.")
    path = _local(value, base)
    if not path.is_file():
        raise MediaError(f"Video file not found: {path}")
    probe_video(str(path))
    return video_part(str(path))
