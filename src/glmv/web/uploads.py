"""Files users upload: typed by their content (never their name), size-checked, copied into the session folder,
attached to the :class:`~glmv.messages.Conversation`, and priced in model tokens.

:func:`sniff_kind` reads the first bytes of a file and says ``image``, ``video`` or ``document`` (PDF, or an
office file LibreOffice converts); anything else is refused with a :class:`~glmv.errors.MediaError` that names
what it is. :func:`accept_upload` applies ``--max-upload-mb`` and moves the file into the session's own folder;
:func:`attach_uploads` hands the files to :meth:`Conversation.attach <glmv.messages.Conversation.attach>`;
:func:`token_cost` counts the ``<|image|>`` tokens an attachment becomes, and :func:`describe_pending` says
what files still waiting in the message box will cost.

A document becomes page images within a token budget (``--document-tokens``): the first, the last and evenly
spaced pages between are kept while they fit, and the line shown says which. A :class:`DocumentCache` (one per
session) renders each document once, keyed by its content: pricing it in the message box renders the pages the
message will send, so the tokens shown before sending are the tokens sent.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from glmv.errors import MediaError, MediaTooLargeError

if TYPE_CHECKING:
    from glmv.families import Family
    from glmv.media import Document, MediaPolicy
    from glmv.messages import Attachment, Conversation

__all__ = [
    "DocumentCache",
    "Upload",
    "UploadKind",
    "accept_upload",
    "attach_uploads",
    "describe_attachment",
    "describe_pending",
    "page_ranges",
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
    try:
        target = Path(tempfile.mkdtemp(prefix="upload-", dir=folder)) / Path(name).name  # the name shown
        shutil.copyfile(source, target)
    except OSError as exc:
        raise MediaError(f"Cannot store the upload {name}: {exc.strerror or exc}.") from exc
    return Upload(target, name, kind, size)


class DocumentCache:
    """The documents of one session rendered within ``budget`` image tokens each (``None``: no budget beyond the
    policy's page limits), keyed by their content; the ``size`` most recent are kept until they are sent."""

    def __init__(self, budget: int | None, size: int = 4) -> None:
        self.budget = budget
        self.size = size
        self._documents: OrderedDict[str, Document] = OrderedDict()
        self._digests: dict[tuple[str, int, int], str] = {}
        self._rendering: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def _key(self, path: Path) -> str:
        """The file's content digest (remembered per path, size and modification time: the message box asks
        again at every keystroke)."""
        stat = path.stat()
        seen = (str(path), stat.st_size, stat.st_mtime_ns)
        if seen not in self._digests:
            digest = hashlib.sha256()
            with path.open("rb") as handle:
                while block := handle.read(1 << 20):
                    digest.update(block)
            if len(self._digests) >= 4 * self.size:
                self._digests.clear()
            self._digests[seen] = digest.hexdigest()
        return self._digests[seen]

    def load(self, path: Path, policy: MediaPolicy) -> Document:
        """The pages of the document at ``path``: rendered now, or earlier for a file with the same content (a
        second caller asking while it renders waits for that rendering instead of starting another)."""
        key = self._key(path)
        with self._lock:
            rendering = self._rendering.setdefault(key, threading.Lock())
        with rendering:
            with self._lock:
                if key in self._documents:
                    self._documents.move_to_end(key)
                    return self._documents[key]
            document = self._render(path, policy)
            with self._lock:
                self._documents[key] = document
                while len(self._documents) > self.size:
                    self._documents.popitem(last=False)
                self._rendering.pop(key, None)
            return document

    def take(self, path: Path, policy: MediaPolicy) -> Document:
        """Like :meth:`load`, and forget the document: it is being sent, and its pages live in the message now."""
        document = self.load(path, policy)
        key = self._key(path)
        with self._lock:
            self._documents.pop(key, None)
        return document

    def __len__(self) -> int:
        return len(self._documents)

    def _render(self, path: Path, policy: MediaPolicy) -> Document:
        from glmv.media import load_document

        try:
            document = load_document(path, max_tokens=self.budget, policy=policy)
        except MediaTooLargeError:
            if self.budget is None:
                raise
            first = load_document(path, max_pages=1, policy=policy)  # raises again if the file's size was why
            raise MediaTooLargeError(
                f"Not even its first page fits the document budget of {self.budget:,} image tokens: it needs "
                f"{_document_tokens(first):,}. Send the pages as smaller images, or start glmv web with a "
                "larger --document-tokens."
            ) from None
        return document


def page_ranges(numbers: list[int]) -> str:
    """``[1, 2, 3, 5, 7, 8]`` as ``"1–3, 5, 7–8"``."""
    spans: list[list[int]] = []
    for number in numbers:
        if spans and number == spans[-1][1] + 1:
            spans[-1][1] = number
        else:
            spans.append([number, number])
    return ", ".join(str(a) if a == b else f"{a}–{b}" for a, b in spans)


def _pages_kept(document: Document, budget: int | None, policy: MediaPolicy) -> str:
    """Which pages a document keeps: ``"3 pages"``, or ``"pages 1–2, 20, 39–40 of 40 kept (budget 24,000
    tokens)"`` when some were left out."""
    kept = len(document.page_numbers)
    if kept == document.total_pages:
        return "1 page" if kept == 1 else f"{kept} pages"
    cap = policy.max_pages or document.total_pages
    why = f"budget {budget:,} tokens" if budget is not None and kept < cap else f"at most {cap} pages"
    return f"pages {page_ranges(document.page_numbers)} of {document.total_pages} kept ({why})"


def _document_tokens(document: Document) -> int:
    from glmv.media import image_tokens

    return sum(image_tokens(*page.size) for page in document.pages)


def attach_uploads(
    conversation: Conversation, uploads: list[Upload], documents: DocumentCache
) -> list[Attachment]:
    """Attach every upload to ``conversation`` for its next message, or none of them (a MediaError names the
    file that failed; the ones attached before it are dropped again). A document is attached as the page
    images ``documents`` keeps of it, as one attachment whose note says which pages."""
    from glmv.messages import Attachment

    policy = conversation.policy
    attached: list[Attachment] = []
    try:
        for upload in uploads:
            try:
                if upload.kind == "document":
                    document = documents.take(upload.path, policy)
                    pages = conversation.attach(images=document.pages)
                    parts = tuple(part for page in pages for part in page.parts)
                    note = _pages_kept(document, documents.budget, policy)
                    attached.append(Attachment("file", upload.name, parts, note))
                else:
                    keyword = "images" if upload.kind == "image" else "videos"
                    attached += conversation.attach(**{keyword: [upload.path]})
            except MediaError as exc:
                raise type(exc)(f"{upload.name}: {_without_path(exc, upload.path, upload.name)}") from exc
    except MediaError:
        conversation.discard_attachments()
        raise
    return attached


def _without_path(error: Exception, path: Path, name: str) -> str:
    """The error's message with the server-side path of the file replaced by the name the user gave it."""
    return str(error).replace(f"file://{path}", name).replace(str(path), name)


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


def _image_line(width: int, height: int, tokens: int) -> str:
    return f"image {width}×{height}, {tokens:,} tokens"


def _video_line(duration: float, frames: int, tokens: int) -> str:
    return f"video {duration:.1f} s, {frames} frames, {tokens:,} tokens"


def describe_attachment(
    upload: Upload, attachment: Attachment, family: Family, policy: MediaPolicy | None = None
) -> str:
    """What an attached upload is and costs, in the words :func:`describe_pending` used before it was sent."""
    from glmv.media import MediaPolicy, probe_image, probe_video

    policy = policy or MediaPolicy()
    tokens = token_cost(attachment, family, policy)
    if upload.kind == "document":
        return f"document, {attachment.note}, {tokens:,} tokens"
    if upload.kind == "image":
        info, _ = probe_image(attachment.parts[0]["image_url"]["url"], policy)
        return _image_line(info.width, info.height, tokens)
    video = probe_video(attachment.parts[0]["video_url"]["url"], policy)
    return _video_line(video.duration, video.plan(family, policy)[0], tokens)


def _pending_cost(path: Path, family: Family, policy: MediaPolicy, documents: DocumentCache) -> str:
    from glmv.media import image_tokens, probe_image, probe_video, video_tokens

    with path.open("rb") as handle:
        kind = sniff_kind(handle.read(1024), path.name)
    if kind == "image":
        info, _ = probe_image(path, policy)
        return _image_line(info.width, info.height, image_tokens(info.width, info.height))
    if kind == "video":
        video = probe_video(path, policy)
        frames, (width, height) = video.plan(family, policy)
        return _video_line(video.duration, frames, video_tokens(frames, width, height))
    document = documents.load(path, policy)
    return (
        f"document, {_pages_kept(document, documents.budget, policy)}, {_document_tokens(document):,} tokens"
    )


def describe_pending(
    files: list[str | Path],
    family: Family,
    policy: MediaPolicy | None = None,
    documents: DocumentCache | None = None,
) -> str:
    """One markdown line per file waiting to be sent: its kind and the tokens it will cost, or why it will be
    refused. Documents are rendered through ``documents`` (the session's cache; none: no token budget), so the
    pages and tokens shown are those the message will send."""
    from glmv.errors import GlmvError
    from glmv.media import MediaPolicy

    policy = (policy or MediaPolicy()).replace(allowed_local_dir=None, allow_local_paths=True)
    documents = documents if documents is not None else DocumentCache(None)
    lines = []
    for file in files:
        path = Path(file)
        try:
            line = _pending_cost(path, family, policy, documents)
        except (GlmvError, OSError) as exc:
            line = f"will be refused: {_without_path(exc, path, path.name)}"
        lines.append(f"- `{path.name}`: {line}")
    return "\n".join(lines)
