"""What glmv may read and how much: :class:`MediaPolicy`.

``MediaPolicy()`` is the library default: any local path, public http(s) URLs only, generous size limits (documents
still capped at 60 pages, the official desktop app's limit, so a 10,000-page PDF never renders whole).
``MediaPolicy.strict(allowed_local_dir)`` is what a server hands to untrusted users: no local files unless they lie
under one folder, public URLs only, tighter limits. Every loader in :mod:`glmv.media` takes a policy.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from glmv.errors import MediaAccessError

__all__ = ["MediaPolicy"]

_MiB = 1024 * 1024

# The GLM video processors resize so that frames x height x width of the whole clip stays under this budget
# (transformers ``Glm4vVideoProcessor.size["longest_edge"]``); holding more pixels than that gains nothing.
VIDEO_PIXEL_BUDGET = 28 * 28 * 2 * 30000


@dataclass(frozen=True)
class MediaPolicy:
    """Where media may come from and how large it may be.

    - ``allow_local_paths``: whether plain paths and ``file://`` URLs are read at all.
    - ``allowed_local_dir``: when set, local paths must resolve (symlinks and ``..`` followed) inside it.
    - ``allow_private_urls``: whether http(s) URLs may point at loopback, private or link-local addresses.
    - ``max_image_bytes`` / ``max_image_pixels``: an encoded image's size and its width x height, checked before
      the pixels are decoded. Document pages are rendered at a lower resolution when they would exceed the pixel cap.
    - ``max_video_bytes`` / ``max_video_frames``: the encoded video and the number of sampled frames (more are
      thinned evenly, first and last kept). ``max_video_pixels``: the sum of width x height over the kept frames;
      over it, frames are decoded straight at the size ``smart_resize`` gives for that budget (the default is the
      GLM video processor's own budget, so the processor then leaves their size alone).
    - ``max_document_bytes`` / ``max_pages``: the document file and the pages kept (first, last and evenly between).
    - ``max_request_pixels`` / ``max_request_frames`` / ``max_request_pages`` / ``max_request_bytes``: budgets for all
      media of one request together (a chat turn, an HTTP request), measured from headers before anything is decoded
      by :func:`glmv.media.check_request_media`: pixels held once decoded (images at full size, video frames at the
      size they are decoded to, document pages as rendered), sampled video frames, document pages, encoded bytes.
      Images and videos over a budget are refused; documents share the page budget (pages are left out, noted).
      ``None`` means no budget.
    - ``fetch_timeout``: seconds one http(s) fetch may take in all (a deadline, redirects included); ``max_redirects``: redirect hops followed, each re-checked.
    - ``convert_timeout``: seconds LibreOffice may take to turn an office file into PDF.
    """

    allowed_local_dir: Path | None = None
    allow_local_paths: bool = True
    allow_private_urls: bool = False
    max_image_bytes: int = 64 * _MiB
    max_image_pixels: int = 89_478_485  # Pillow's own decompression-bomb threshold
    max_video_bytes: int = 2048 * _MiB
    max_video_frames: int = 640
    max_video_pixels: int = VIDEO_PIXEL_BUDGET
    max_document_bytes: int = 256 * _MiB
    max_pages: int | None = 60
    max_request_pixels: int | None = 400_000_000
    max_request_frames: int | None = 2560
    max_request_pages: int | None = 120
    max_request_bytes: int | None = 4096 * _MiB
    fetch_timeout: float = 30.0
    max_redirects: int = 5
    convert_timeout: float = 180.0

    def __post_init__(self) -> None:
        if self.allowed_local_dir is not None and not isinstance(self.allowed_local_dir, Path):
            object.__setattr__(self, "allowed_local_dir", Path(self.allowed_local_dir))

    @classmethod
    def strict(cls, allowed_local_dir: str | Path | None = None) -> MediaPolicy:
        """A policy for serving untrusted users: local files only under ``allowed_local_dir`` (none if None)."""
        return cls(
            allowed_local_dir=Path(allowed_local_dir) if allowed_local_dir is not None else None,
            allow_local_paths=allowed_local_dir is not None,
            allow_private_urls=False,
            max_image_bytes=20 * _MiB,
            max_image_pixels=50_000_000,
            max_video_bytes=256 * _MiB,
            max_video_frames=640,
            max_document_bytes=50 * _MiB,
            max_pages=50,
            max_request_pixels=100_000_000,
            max_request_frames=1280,
            max_request_pages=100,
            max_request_bytes=512 * _MiB,
            fetch_timeout=15.0,
            max_redirects=3,
            convert_timeout=120.0,
        )

    def replace(self, **changes: object) -> MediaPolicy:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def check_local_path(self, path: str | Path) -> Path:
        """The resolved ``path`` if this policy lets it be read; :class:`MediaAccessError` otherwise."""
        if not self.allow_local_paths:
            raise MediaAccessError(
                f"Reading local files is not allowed here ({str(path)!r}). Send the file's content instead "
                "(a data: URI or an upload)."
            )
        resolved = Path(path).expanduser().resolve()
        if self.allowed_local_dir is not None:
            root = self.allowed_local_dir.expanduser().resolve()
            if not resolved.is_relative_to(root):
                raise MediaAccessError(
                    f"{str(path)!r} is outside the folder media may be read from ({root}). "
                    "Move the file into that folder or send its content instead."
                )
        return resolved
