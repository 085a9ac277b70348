"""Where a medium comes from: a path, a ``file://`` / ``http(s)://`` / ``data:`` URL, or raw bytes.

:func:`open_source` applies the :class:`~glmv.media.policy.MediaPolicy` (local folder, private URLs, byte caps) and
hands back a :class:`Source`: a local file's path (so large videos are never read whole) or the bytes, plus a label
for error messages. Only regular files are ever opened: a FIFO, a device such as ``/dev/zero``, a socket or a folder
is refused before it is opened (and again after, on the open descriptor), and a file is read with a byte cap, never
trusting its size. :func:`describe_bytes` names what a blob looks like, for "this is not an image" messages;
:func:`describe_error` gives an exception's reason even when its message is empty.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, unquote_to_bytes, urlsplit

from glmv.errors import MediaAccessError, MediaError, MediaTooLargeError
from glmv.media.fetch import fetch_bytes
from glmv.media.policy import MediaPolicy

__all__ = [
    "Source",
    "describe_bytes",
    "describe_error",
    "open_regular_file",
    "open_source",
    "read_media_file",
]

_URL_SCHEMES = ("http://", "https://", "file://", "data:")
_OPEN_FLAGS = (
    os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
)
_READ_CHUNK = 1024 * 1024


def describe_error(exc: BaseException) -> str:
    """The reason ``exc`` gives, or its type's name when its message is empty."""
    text = str(exc).strip().rstrip(".")
    return text or type(exc).__name__


def _file_type(mode: int) -> str | None:
    """What a non-regular file is, or None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    for test, name in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def _refuse_special(mode: int, label: str, kind: str) -> None:
    found = _file_type(mode)
    if found is not None:
        raise MediaError(
            f"{label!r} is {found}, not {_a(kind)} file; only regular files are read. Give the path of the file itself."
        )


def open_regular_file(path: Path, label: str, kind: str) -> BinaryIO:
    """``path`` opened for reading if it is a regular file; :class:`MediaError` for anything else.

    Opened without blocking (a FIFO swapped in after the check cannot hang the open) and checked again on the open
    descriptor, so what is read is what was checked.
    """
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        raise MediaError(f"Cannot read the {kind} file {label!r}: {exc.strerror or exc}.") from exc
    try:
        _refuse_special(os.fstat(fd).st_mode, label, kind)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _read_capped(handle: BinaryIO, max_bytes: int | None, label: str, kind: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = handle.read(_READ_CHUNK)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if max_bytes is not None and size > max_bytes:
            raise MediaTooLargeError(
                f"The {kind} file {label!r} is larger than the limit of {max_bytes} bytes; stopped reading."
            )
        chunks.append(chunk)


@dataclass(frozen=True)
class Source:
    """A medium ready to decode: ``path`` for a local file, else ``data``; ``label`` names it in messages.

    ``max_bytes`` caps what :meth:`read` takes from a file (its size on disk is not trusted); ``kind`` words errors.
    """

    label: str
    path: Path | None = None
    data: bytes | None = None
    max_bytes: int | None = None
    kind: str = "media"

    def open(self) -> BinaryIO:
        """A binary file handle on the medium (a checked regular file, or the bytes in memory)."""
        if self.path is None:
            import io

            return io.BytesIO(self.data or b"")
        return open_regular_file(self.path, self.label, self.kind)

    def read(self) -> bytes:
        if self.path is None:
            return self.data or b""
        with self.open() as handle:
            try:
                return _read_capped(handle, self.max_bytes, self.label, self.kind)
            except OSError as exc:
                raise MediaError(
                    f"Cannot read the {self.kind} file {self.label!r}: {exc.strerror or exc}."
                ) from exc

    def head(self, size: int = 16) -> bytes:
        if self.path is None:
            return (self.data or b"")[:size]
        with self.open() as handle:
            return handle.read(size)

    @property
    def size(self) -> int:
        """Bytes of the medium: the length of the data, or the size of the file (checked when read)."""
        if self.path is None:
            return len(self.data or b"")
        try:
            return self.path.stat().st_size
        except OSError:
            return 0


def _a(kind: str) -> str:
    return f"an {kind}" if kind[:1] in "aeiou" else f"a {kind}"


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _local(path: str | Path, policy: MediaPolicy, max_bytes: int, kind: str) -> Source:
    label = str(path)
    if "\x00" in label:
        raise MediaError(
            f"The {kind} path {label!r} contains a NUL byte, which no file name can hold. Check how the path was built."
        )
    resolved = policy.check_local_path(path)
    try:
        status = os.stat(resolved)
    except FileNotFoundError as exc:
        raise MediaError(f"No such {kind} file: {label!r}.") from exc
    except OSError as exc:
        raise MediaError(f"Cannot read the {kind} file {label!r}: {exc.strerror or exc}.") from exc
    _refuse_special(status.st_mode, label, kind)
    if status.st_size > max_bytes:
        raise MediaTooLargeError(
            f"The {kind} file {label!r} is {status.st_size} bytes, over the limit of {max_bytes} bytes."
        )
    return Source(label=label, path=resolved, max_bytes=max_bytes, kind=kind)


def _decode_base64(payload: str, kind: str) -> bytes:
    text = re.sub(r"\s+", "", unquote(payload)).replace("-", "+").replace("_", "/")
    stray = re.search(r"[^A-Za-z0-9+/=]", text)
    try:
        if stray is not None:
            raise ValueError(f"{stray.group()!r} at position {stray.start()} is not a base64 character")
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MediaError(
            f"The data: URI {kind} is not valid base64 ({describe_error(exc)}). Encode the whole file with base64 "
            "and send 'data:<media type>;base64,<data>'."
        ) from exc


def _data_uri(uri: str, max_bytes: int, kind: str) -> Source:
    header, comma, payload = uri.partition(",")
    if not comma:
        raise MediaError(f"Malformed data: URI for {_a(kind)} (no comma before the data): {_short(uri)!r}.")
    is_base64 = header.lower().endswith(";base64")
    if (len(payload) * 3 // 4 if is_base64 else len(payload)) > max_bytes + 3:
        raise MediaTooLargeError(f"The data: URI {kind} is over the limit of {max_bytes} bytes.")
    if not payload.strip():
        raise MediaError(
            f"The data: URI {kind} is empty: nothing follows the comma. Put the file's data there."
        )
    data = _decode_base64(payload, kind) if is_base64 else unquote_to_bytes(payload)
    if len(data) > max_bytes:
        raise MediaTooLargeError(
            f"The data: URI {kind} is {len(data)} bytes, over the limit of {max_bytes} bytes."
        )
    return Source(
        label=f"data: URI ({header[5:] or 'no media type'}, {len(data)} bytes)", data=data, kind=kind
    )


def open_source(
    source: str | Path | bytes | bytearray | Source, policy: MediaPolicy, max_bytes: int, kind: str
) -> Source:
    """Check ``source`` against ``policy`` and make it readable; ``kind`` ("image", "video", …) words the errors.

    A :class:`Source` (already checked, e.g. by :func:`glmv.media.check_request_media`) is returned as it is.
    """
    if isinstance(source, Source):
        return source
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if len(data) > max_bytes:
            raise MediaTooLargeError(f"The {kind} is {len(data)} bytes, over the limit of {max_bytes} bytes.")
        return Source(label=f"{len(data)} bytes", data=data, kind=kind)
    if isinstance(source, Path):
        return _local(source, policy, max_bytes, kind)
    if not isinstance(source, str):
        raise MediaError(
            f"Cannot read {_a(kind)} from a {type(source).__name__}; give a path, a URL, a data: URI or bytes."
        )
    lowered = source[:8].lower()
    if lowered.startswith("data:"):
        return _data_uri(source, max_bytes, kind)
    if lowered.startswith(("http://", "https://")):
        return Source(label=source, data=fetch_bytes(source, policy, max_bytes=max_bytes), kind=kind)
    if lowered.startswith("file://"):
        parts = urlsplit(source)
        if parts.netloc not in ("", "localhost"):
            raise MediaAccessError(
                f"file:// URLs must name a local file, not host {parts.netloc!r}: {source!r}."
            )
        return _local(unquote(parts.path), policy, max_bytes, kind)
    scheme = source.partition("://")[0]
    if "://" in source[:16] and scheme.isalpha():
        raise MediaAccessError(
            f"Unsupported URL scheme {scheme!r} in {_short(source)!r}; use {', '.join(_URL_SCHEMES)} or a path."
        )
    if not source.strip():
        raise MediaError(f"An empty string is not {_a(kind)}; give a path, a URL, a data: URI or bytes.")
    if len(source) > 4096:
        raise MediaError(
            f"A {len(source)}-character string is neither a path nor a URL. Base64 data needs the "
            f"'data:<type>;base64,' prefix."
        )
    return _local(source, policy, max_bytes, kind)


_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "a PDF document (use load_document)"),
    (b"PK\x03\x04", "a ZIP archive or office document (use load_document for PPTX/DOCX/ODP)"),
    (b"\xd0\xcf\x11\xe0", "an old Microsoft Office document (use load_document)"),
    (b"\x1a\x45\xdf\xa3", "a Matroska/WebM video (use load_video)"),
    (b"<!doctype html", "an HTML page"),
    (b"<html", "an HTML page"),
    (b"{", "JSON or other text"),
)


def read_media_file(path: str | Path, kind: str, policy: MediaPolicy | None = None) -> bytes:
    """The bytes of the local ``kind`` file (``"image"``, ``"video"``, ``"document"``) at ``path``, read as every
    loader reads one: only a regular file, under ``policy``'s folder rules, at most its byte limit for ``kind``."""
    policy = policy or MediaPolicy()
    limits = {"image": policy.max_image_bytes, "video": policy.max_video_bytes}
    return _local(path, policy, limits.get(kind, policy.max_document_bytes), kind).read()


def describe_bytes(head: bytes) -> str:
    """A short description of what a blob starting with ``head`` is, for error messages."""
    if not head:
        return "an empty file"
    lowered = head.lstrip().lower()
    for signature, name in _SIGNATURES:
        if lowered.startswith(signature.lower()):
            return name
    if head[4:8] == b"ftyp":
        return "an MP4/MOV video (use load_video)"
    for cut in range(4):  # the head may end inside a multi-byte character
        try:
            text = head[: len(head) - cut].decode("utf-8")
        except UnicodeDecodeError:
            continue
        if all(char.isprintable() or char in "\r\n\t" for char in text):
            return f"text starting with {text[:24]!r}"
        break
    return f"binary data starting with {head[:8]!r}"
