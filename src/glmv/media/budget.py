"""The media budget of one request: every medium measured from its header, the totals checked, nothing decoded.

:func:`check_request_media` takes the media of one request (a chat turn, an HTTP request) as ``(kind, source)``
pairs, measures each cheaply (an image's size from its header, a video's frame rate, frame count and size from its
container, a PDF's page count and page size from its structure) and raises :class:`~glmv.errors.MediaTooLargeError`
when they add up to more than ``MediaPolicy.max_request_pixels`` / ``max_request_frames`` / ``max_request_bytes``.
Documents share ``max_request_pages`` instead of being refused. It returns one :class:`MeasuredMedium` per medium,
holding the checked source (fetched bytes stay fetched), so the caller can admit the request and decode afterwards
with :meth:`MeasuredMedium.load`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from PIL import Image

from glmv.errors import MediaError, MediaTooLargeError
from glmv.families import Family
from glmv.media.documents import DEFAULT_DPI, Document, load_document, probe_document, share_pages
from glmv.media.images import load_image, probe_image
from glmv.media.policy import MediaPolicy
from glmv.media.sources import Source, open_source
from glmv.media.video import Video, load_video, probe_video

__all__ = ["MeasuredMedium", "MediaKind", "check_request_media", "measure_medium"]

MediaKind = Literal["image", "video", "document"]
_KINDS = ("image", "video", "document")


@dataclass(frozen=True)
class MeasuredMedium:
    """One medium of a request, measured but not decoded.

    ``source`` is what the loader takes (a checked :class:`~glmv.media.sources.Source`, or the PIL image / frame
    list the caller gave); ``bytes`` its encoded size; ``pixels`` what it holds once decoded (an image at full size,
    the video frames at the size they are decoded to, the kept document pages as rendered); ``frames`` the sampled
    video frames; ``pages`` the document pages it will keep, at most ``max_pages``.
    """

    kind: MediaKind
    label: str
    source: Any
    bytes: int
    pixels: int
    frames: int = 0
    pages: int = 0
    max_pages: int | None = None

    def load(
        self, policy: MediaPolicy | None = None, family: Family | str | None = None, dpi: float = DEFAULT_DPI
    ) -> Image.Image | Video | Document:
        """The decoded medium: an RGB image, the video's frames for ``family`` (required for a video), or the
        document's pages (at most :attr:`max_pages`, noted in ``Document.note``)."""
        if self.kind == "image":
            return load_image(self.source, policy)
        if self.kind == "video":
            if family is None:
                raise MediaError("Loading a video needs the model family (its frame sampler): pass family=.")
            return load_video(self.source, family, policy)
        return load_document(self.source, dpi=dpi, max_pages=self.max_pages, policy=policy)


def _label(source: Any) -> str:
    if isinstance(source, Source):
        return source.label
    if isinstance(source, (bytes, bytearray, memoryview)):
        return f"{len(source)} bytes"
    text = str(source) if not isinstance(source, (Image.Image, list, tuple)) else type(source).__name__
    return text if len(text) <= 80 else text[:79] + "…"


def _frames_list(frames: Sequence[Any], policy: MediaPolicy) -> MeasuredMedium:
    first = frames[0] if len(frames) else None
    width, height = first.size if isinstance(first, Image.Image) else (0, 0)
    if first is not None and not isinstance(first, Image.Image):
        shape = getattr(first, "shape", (0, 0))
        height, width = int(shape[0]), int(shape[1])
    count = min(len(frames), policy.max_video_frames)
    return MeasuredMedium("video", f"{len(frames)} frames", frames, 0, len(frames) * width * height, count)


def measure_medium(
    kind: MediaKind,
    source: Any,
    policy: MediaPolicy | None = None,
    family: Family | str | None = None,
    dpi: float = DEFAULT_DPI,
) -> MeasuredMedium:
    """One medium measured from its header (see :class:`MeasuredMedium`); every per-medium limit of ``policy`` is
    checked, nothing is decoded. ``family`` picks the video sampler (``None``: the larger of the two)."""
    policy = policy or MediaPolicy()
    if kind == "image":
        info, checked = probe_image(source, policy)
        held = checked if checked is not None else source
        size = checked.size if checked is not None else 0
        return MeasuredMedium("image", _label(held), held, size, info.pixels)
    if kind == "video":
        if not isinstance(source, (str, bytes, bytearray, memoryview, Source)) and isinstance(
            source, Sequence
        ):
            return _frames_list(source, policy)
        opened = open_source(source, policy, policy.max_video_bytes, "video")
        video = probe_video(opened, policy)
        frames, (width, height) = video.plan(family, policy)
        return MeasuredMedium("video", opened.label, opened, opened.size, frames * width * height, frames)
    if kind == "document":
        document = probe_document(source, policy, dpi)
        pages = (
            document.total_pages if policy.max_pages is None else min(document.total_pages, policy.max_pages)
        )
        label = document.source.label
        return MeasuredMedium(
            "document",
            label,
            document.source,
            document.source.size,
            pages * document.page_pixels,
            0,
            pages,
            pages,
        )
    raise MediaError(f"Unknown media kind {kind!r}; use one of {', '.join(_KINDS)}.")


def _share_documents(measured: list[MeasuredMedium], policy: MediaPolicy) -> list[MeasuredMedium]:
    documents = [index for index, item in enumerate(measured) if item.kind == "document"]
    shares = share_pages([measured[index].pages for index in documents], policy.max_request_pages)
    shared = list(measured)
    for index, share in zip(documents, shares, strict=True):
        item = measured[index]
        per_page = item.pixels // item.pages if item.pages else 0
        shared[index] = MeasuredMedium(
            "document", item.label, item.source, item.bytes, share * per_page, 0, share, share
        )
    return shared


def _over(total: int, limit: int | None, what: str, field: str, advice: str) -> None:
    if limit is not None and total > limit:
        raise MediaTooLargeError(
            f"The media of this request add up to {total} {what}, over the request limit of {limit} {what} "
            f"({field}). {advice}"
        )


def check_request_media(
    media: Iterable[tuple[MediaKind, Any]],
    policy: MediaPolicy | None = None,
    family: Family | str | None = None,
    dpi: float = DEFAULT_DPI,
) -> list[MeasuredMedium]:
    """Measure every medium of one request from its header and check the request's budgets; decode nothing.

    ``media`` are ``(kind, source)`` pairs, ``kind`` being ``"image"``, ``"video"`` or ``"document"`` and
    ``source`` anything the matching loader takes. Raises what the loaders raise for a single medium (access, byte,
    pixel, aspect-ratio and bomb checks) and :class:`~glmv.errors.MediaTooLargeError` naming the limit and the total
    when all media together pass ``policy.max_request_bytes`` (checked as each medium arrives, so no more are
    fetched), ``max_request_pixels`` or ``max_request_frames``. Documents share ``max_request_pages``: each
    returned document's ``max_pages`` is its share. Returns the measured media in order; decode them with
    :meth:`MeasuredMedium.load` once the request is admitted.
    """
    policy = policy or MediaPolicy()
    measured: list[MeasuredMedium] = []
    total_bytes = 0
    for kind, source in media:
        item = measure_medium(kind, source, policy, family, dpi)
        measured.append(item)
        total_bytes += item.bytes
        _over(
            total_bytes,
            policy.max_request_bytes,
            "bytes",
            "max_request_bytes",
            "Send fewer or smaller files.",
        )
    measured = _share_documents(measured, policy)
    _over(
        sum(item.pixels for item in measured),
        policy.max_request_pixels,
        "pixels",
        "max_request_pixels",
        "Send fewer or smaller images (or shorter videos), or split them over several requests.",
    )
    _over(
        sum(item.frames for item in measured),
        policy.max_request_frames,
        "video frames",
        "max_request_frames",
        "Send fewer or shorter videos.",
    )
    return measured
