"""Files users upload: typed by their content (never their name), size-checked, copied into the session folder,
attached to the :class:`~glmv.messages.Conversation`, and priced in model tokens.

:func:`sniff_kind` reads the first bytes of a file and says ``image``, ``video`` or ``document`` (PDF, or an
office file LibreOffice converts); anything else is refused with a :class:`~glmv.errors.MediaError` that names
what it is. :func:`accept_upload` applies ``--max-upload-mb`` and moves the file into the session's own folder;
:func:`attach_uploads` hands the files to :meth:`Conversation.attach <glmv.messages.Conversation.attach>`;
:func:`token_cost` counts the ``<|image|>`` tokens an attachment becomes, and :func:`describe_pending` says
what files still waiting in the message box will cost, from their headers alone.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from glmv.errors import MediaError, MediaTooLargeError

if TYPE_CHECKING:
    from glmv.families import Family
    from glmv.media import MediaPolicy
    from glmv.messages import Attachment, Conversation

__all__ = [
    "Upload",
    "UploadKind",
    "accept_upload",
    "attach_uploads",
    "describe_pending",
    "sniff_kind",
    "token_cost",
]

UploadKind = Literal["image", "video", "document"]

_IMAGE_HEADS = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",
    b"GIF87a",
    b"GIF89a",
    b"BM",
    b"II*\x00",
    b"MM\x00*",
)
_VIDEO_HEADS = (
    b"\x1a\x45\xdf\xa3",  # Matroska / WebM
    b"FLV",
    b"\x00\x00\x01\xba",  # MPEG program stream
    b"\x00\x00\x01\xb3",  # MPEG video
    b"\x30\x26\xb2\x75\x8e\x66\xcf\x11",  # ASF (WMV)
    b"OggS",
)
_DOCUMENT_HEADS = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")  # office files: OOXML / ODF zips, old OLE files
_IMAGE_BRANDS = (b"heic", b"heix", b"mif1", b"msf1", b"avif", b"avis")


@dataclass(frozen=True)
class Upload:
    """One accepted upload: ``path`` in the session folder, the ``name`` the user gave it, its ``kind``."""

    path: Path
    name: str
    kind: UploadKind
    size: int


def sniff_kind(head: bytes, name: str = "the file") -> UploadKind:
    """``image``, ``video`` or ``document`` from a file's first bytes (1 KiB is plenty); a MediaError otherwise."""
    from glmv.media.sources import describe_bytes

    if head.startswith(_IMAGE_HEADS) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return "image"
    if head[4:8] == b"ftyp":
        return "image" if head[8:12] in _IMAGE_BRANDS else "video"
    if head.startswith(_VIDEO_HEADS) or (head[:4] == b"RIFF" and head[8:12] == b"AVI "):
        return "video"
    if len(head) > 188 and head[0] == 0x47 and head[188] == 0x47:  # MPEG transport stream
        return "video"
    if b"%PDF-" in head[:1024] or head.startswith(_DOCUMENT_HEADS):
        return "document"
    raise MediaError(
        f"{name} is {describe_bytes(head[:32])}, which the model cannot read. Upload images (PNG, JPEG, GIF, "
        "WebP, BMP, TIFF), videos (MP4, MOV, MKV, WebM, AVI, …) or documents (PDF, PPT/PPTX, ODP, DOC/DOCX)."
    )


def accept_upload(source: str | Path, folder: Path, max_bytes: int, name: str | None = None) -> Upload:
    """Check one uploaded file (size, type by content) and move it into ``folder``; a MediaError if refused."""
    source = Path(source)
    name = name or source.name
    try:
        size = source.stat().st_size
        with source.open("rb") as handle:
            head = handle.read(1024)
    except OSError as exc:
        raise MediaError(f"Cannot read the upload {name}: {exc.strerror or exc}. Upload it again.") from exc
    if size > max_bytes:
        raise MediaTooLargeError(
            f"{name} is {size / 1024 / 1024:.1f} MB, over the upload limit of {max_bytes / 1024 / 1024:.0f} MB "
            "(--max-upload-mb). Upload a smaller file."
        )
    kind = sniff_kind(head, name)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{len(list(folder.iterdir())):04d}-{Path(name).name}"
    try:
        shutil.copyfile(source, target)
    except OSError as exc:
        raise MediaError(f"Cannot store the upload {name}: {exc.strerror or exc}.") from exc
    return Upload(target, name, kind, size)


def attach_uploads(conversation: Conversation, uploads: list[Upload]) -> list[Attachment]:
    """Attach every upload to ``conversation`` for its next message, or none of them (a MediaError names the
    file that failed; the ones attached before it are dropped again)."""
    attached: list[Attachment] = []
    try:
        for upload in uploads:
            keyword = {"image": "images", "video": "videos", "document": "files"}[upload.kind]
            try:
                attached += conversation.attach(**{keyword: [upload.path]})
            except MediaError as exc:
                raise type(exc)(f"{upload.name}: {exc}") from exc
    except MediaError:
        conversation.discard_attachments()
        raise
    return attached


def token_cost(attachment: Attachment, family: Family, policy: MediaPolicy | None = None) -> int:
    """The ``<|image|>`` tokens ``attachment`` becomes (frames and pages included; timestamp text not counted)."""
    from glmv.media import MediaPolicy, image_tokens, probe_image, probe_video, video_tokens

    policy = policy or MediaPolicy()
    total = 0
    for part in attachment.parts:
        if part.get("type") == "image_url":
            info, _ = probe_image(part["image_url"]["url"], policy)
            total += image_tokens(info.width, info.height)
        elif part.get("type") == "video_url":
            frames, (width, height) = probe_video(part["video_url"]["url"], policy).plan(family, policy)
            total += video_tokens(frames, width, height)
    return total


def _pending_cost(path: Path, family: Family, policy: MediaPolicy) -> str:
    from glmv.media import image_tokens, probe_image, probe_video, video_tokens
    from glmv.media.documents import probe_document

    with path.open("rb") as handle:
        kind = sniff_kind(handle.read(1024), path.name)
    if kind == "image":
        info, _ = probe_image(path, policy)
        return f"image {info.width}×{info.height}, {image_tokens(info.width, info.height):,} tokens"
    if kind == "video":
        video = probe_video(path, policy)
        frames, (width, height) = video.plan(family, policy)
        tokens = video_tokens(frames, width, height)
        return f"video {video.duration:.1f} s, {frames} frames, {tokens:,} tokens"
    document = probe_document(path, policy)
    kept = document.total_pages if policy.max_pages is None else min(document.total_pages, policy.max_pages)
    side = int(document.page_pixels**0.5)
    tokens = kept * image_tokens(side, side)
    pages = f"{kept} of {document.total_pages} pages" if kept < document.total_pages else f"{kept} pages"
    return f"document, {pages}, about {tokens:,} tokens"


def describe_pending(files: list[str | Path], family: Family, policy: MediaPolicy | None = None) -> str:
    """One markdown line per file waiting to be sent: its kind and the tokens it will cost, or why it will be
    refused."""
    from glmv.errors import GlmvError
    from glmv.media import MediaPolicy

    policy = (policy or MediaPolicy()).replace(allowed_local_dir=None, allow_local_paths=True)
    lines = []
    for file in files:
        path = Path(file)
        try:
            line = _pending_cost(path, family, policy)
        except (GlmvError, OSError) as exc:
            line = f"will be refused: {exc}"
        lines.append(f"- `{path.name}`: {line}")
    return "\n".join(lines)
