"""The media of fine-tuning samples: measured (readable? how many tokens?) and placed into an output folder.

:func:`measure` reads one image's header (Pillow, header only; :func:`glmv.media.probe_image` for ``data:``
URIs) or one video's container (:func:`glmv.media.probe_video`) and returns its
:class:`Measured` token cost for a family: ``<|image|>`` tokens from :func:`glmv.media.image_tokens`, and for a
video the frame pairs the family's sampler keeps with their timestamp text. Results are cached per URL, so a
dataset that repeats one image measures it once. :class:`MediaStore` puts every medium of a converted dataset
under ``OUT/media/``: local files hard-linked when the file system allows (else copied, or symlinked with
``link="symlink"``), ``data:`` URIs written out as files; names are content-derived so one file is stored once, and
the dataset refers to them by relative path. http(s) URLs are kept as they are (the trainer fetches them).
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes
import os
import shutil
import struct
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from PIL import Image, UnidentifiedImageError

from glmv.errors import MediaError
from glmv.families import Family, get_family
from glmv.finetune.tokens import PixelLimits
from glmv.media import MediaPolicy, image_tokens, probe_image, probe_video, sample_indices, video_tokens
from glmv.media.resize import check_aspect_ratio
from glmv.messages.conversation_file import local_path

__all__ = ["LinkMode", "Measured", "MediaStore", "measure"]

LinkMode = Literal["hardlink", "symlink", "copy"]
_POLICY = MediaPolicy()
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class Measured:
    """The token cost of one medium: ``tokens`` ``<|image|>`` tokens in all; for a video, ``timestamps`` holds the
    text written after each frame pair (its length is the number of pairs). ``error`` is why it cannot be used."""

    kind: str
    tokens: int = 0
    timestamps: tuple[str, ...] = ()
    error: str | None = None
    remote: bool = False


def _remote(url: str) -> bool:
    return url[:8].lower().startswith(("http://", "https://"))


def _local_file(url: str) -> str | None:
    """The file a media URL names (a plain path or ``file://``), or None for ``data:`` and http(s) URLs."""
    lowered = url[:8].lower()
    if lowered.startswith(("data:", "http://", "https://")):
        return None
    return str(local_path(url)) if lowered.startswith("file://") else os.path.expanduser(url)


def _image_size(url: str) -> tuple[int, int]:
    """An image's size from its header: local files are opened directly (a PNG's IHDR read as it is, any other
    format's header through Pillow: the fast path for datasets of many images); ``data:`` URIs go through
    :func:`glmv.media.probe_image`."""
    path = _local_file(url)
    if path is None:
        info, _ = probe_image(url, _POLICY)
        return info.width, info.height
    try:
        with open(path, "rb") as handle:
            head = handle.read(24)
        if head[:8] == _PNG_SIGNATURE and head[12:16] == b"IHDR":  # a PNG's size is its first chunk's start
            width, height = struct.unpack(">II", head[16:24])
        else:
            with Image.open(path) as image:
                width, height = image.size
    except FileNotFoundError as exc:
        raise MediaError("no such file") from exc
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as exc:
        raise MediaError(f"not a readable image ({exc})") from exc
    check_aspect_ratio(width, height, "The image")
    return width, height


@lru_cache(maxsize=65536)
def _measure(kind: str, url: str, family: Family, limits: PixelLimits) -> Measured:
    if _remote(url):
        return Measured(kind, remote=True)
    try:
        if kind == "image":
            width, height = _image_size(url)
            tokens = image_tokens(width, height, min_pixels=limits.min_pixels, max_pixels=limits.max_pixels)
            return Measured(kind, tokens)
        video = probe_video(url, _POLICY)
        indices = sample_indices(family, video.total_frames, video.fps, video.duration) or [0, 0]
        frames, (width, height) = video.plan(family, _POLICY)
        pairs = indices[::2][: max(1, frames // 2)]
        stamps = tuple(family.video_timestamp(index / video.fps) for index in pairs)
        tokens = video_tokens(
            max(frames, 2),
            width,
            height,
            min_pixels=limits.video_min_pixels,
            max_pixels=limits.video_max_pixels,
        )
        return Measured(kind, tokens, stamps)
    except MediaError as exc:
        return Measured(kind, error=str(exc))


def measure(kind: str, url: str, family: Family | str, limits: PixelLimits | None = None) -> Measured:
    """What one image or video (a path, ``file://`` or ``data:`` URL) costs ``family`` in tokens, from its header,
    within the processor's pixel ``limits`` (default: the GLM processors' own).

    http(s) URLs are not fetched: they come back ``remote`` with no tokens. An unreadable medium comes back with
    ``error`` set, never raising.
    """
    return _measure(kind, url, get_family(family), limits or PixelLimits())


class MediaStore:
    """Places media under ``folder/media`` and hands back the path relative to ``folder``."""

    def __init__(self, folder: Path, link: LinkMode = "hardlink") -> None:
        self.folder = folder
        self.media = folder / "media"
        self.link = link
        self._placed: dict[str, str] = {}

    def place(self, url: str) -> str:
        """The relative path of ``url``'s copy in the store (``http(s)`` URLs unchanged); :class:`MediaError` when
        the medium cannot be read."""
        if url in self._placed:
            return self._placed[url]
        if _remote(url):
            return url
        self.media.mkdir(parents=True, exist_ok=True)
        if url[:5].lower() == "data:":
            relative = self._write_data(url)
        else:
            path = _local_file(url)
            if path is None or not os.path.isfile(path):
                raise MediaError(f"the file {url!r} does not exist")
            relative = self._link(os.path.abspath(path))
        self._placed[url] = relative
        return relative

    def _write_data(self, url: str) -> str:
        header, _, payload = url.partition(",")
        if ";base64" not in header:
            raise MediaError("only base64 data: URIs are supported")
        try:
            data = base64.b64decode(payload, validate=False)
        except ValueError as exc:
            raise MediaError(f"a data: URI is not valid base64: {exc}") from exc
        suffix = mimetypes.guess_extension(header[5:].split(";")[0]) or ".bin"
        name = hashlib.sha256(data).hexdigest()[:20] + suffix
        target = self.media / name
        if not target.exists():
            target.write_bytes(data)
        return f"media/{name}"

    def _link(self, path: str) -> str:
        stat = os.stat(path)
        key = f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}".encode()
        name = hashlib.sha256(key).hexdigest()[:20] + os.path.splitext(path)[1].lower()
        target = os.path.join(self.media, name)
        try:
            if self.link == "symlink":
                os.symlink(path, target)
            elif self.link == "hardlink":
                os.link(path, target)
            else:
                shutil.copyfile(path, target)
        except FileExistsError:
            pass  # the same file, placed before
        except OSError:
            shutil.copyfile(path, target)
        return f"media/{name}"
