"""Where a medium comes from: a path, a ``file://`` / ``http(s)://`` / ``data:`` URL, or raw bytes.

:func:`open_source` applies the :class:`~glmv.media.policy.MediaPolicy` (local folder, private URLs, byte caps) and
hands back a :class:`Source`: a local file's path (so large videos are never read whole) or the bytes, plus a label
for error messages. :func:`describe_bytes` names what a blob looks like, for "this is not an image" messages.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, unquote_to_bytes, urlsplit

from glmv.errors import MediaAccessError, MediaError, MediaTooLargeError
from glmv.media.fetch import fetch_bytes
from glmv.media.policy import MediaPolicy

__all__ = ["Source", "describe_bytes", "open_source"]

_URL_SCHEMES = ("http://", "https://", "file://", "data:")


@dataclass(frozen=True)
class Source:
    """A medium ready to decode: ``path`` for a local file, else ``data``; ``label`` names it in messages."""

    label: str
    path: Path | None = None
    data: bytes | None = None

    def read(self) -> bytes:
        if self.path is None:
            return self.data or b""
        return self.path.read_bytes()

    def head(self, size: int = 16) -> bytes:
        if self.path is None:
            return (self.data or b"")[:size]
        with self.path.open("rb") as handle:
            return handle.read(size)


def _a(kind: str) -> str:
    return f"an {kind}" if kind[:1] in "aeiou" else f"a {kind}"


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _local(path: str | Path, policy: MediaPolicy, max_bytes: int, kind: str) -> Source:
    resolved = policy.check_local_path(path)
    label = str(path)
    try:
        size = resolved.stat().st_size
    except FileNotFoundError as exc:
        raise MediaError(f"No such {kind} file: {label!r}.") from exc
    except OSError as exc:
        raise MediaError(f"Cannot read the {kind} file {label!r}: {exc.strerror or exc}.") from exc
    if resolved.is_dir():
        raise MediaError(f"{label!r} is a folder, not {_a(kind)} file.")
    if size > max_bytes:
        raise MediaTooLargeError(
            f"The {kind} file {label!r} is {size} bytes, over the limit of {max_bytes} bytes."
        )
    return Source(label=label, path=resolved)


def _data_uri(uri: str, max_bytes: int, kind: str) -> Source:
    header, comma, payload = uri.partition(",")
    if not comma:
        raise MediaError(f"Malformed data: URI for {_a(kind)} (no comma before the data): {_short(uri)!r}.")
    is_base64 = header.lower().endswith(";base64")
    if (len(payload) * 3 // 4 if is_base64 else len(payload)) > max_bytes + 3:
        raise MediaTooLargeError(f"The data: URI {kind} is over the limit of {max_bytes} bytes.")
    if is_base64:
        try:
            data = base64.b64decode(unquote(payload).strip(), validate=False)
        except (binascii.Error, ValueError) as exc:
            raise MediaError(f"The data: URI {kind} is not valid base64: {exc}.") from exc
    else:
        data = unquote_to_bytes(payload)
    if len(data) > max_bytes:
        raise MediaTooLargeError(
            f"The data: URI {kind} is {len(data)} bytes, over the limit of {max_bytes} bytes."
        )
    return Source(label=f"data: URI ({header[5:] or 'no media type'}, {len(data)} bytes)", data=data)


def open_source(
    source: str | Path | bytes | bytearray, policy: MediaPolicy, max_bytes: int, kind: str
) -> Source:
    """Check ``source`` against ``policy`` and make it readable; ``kind`` ("image", "video", …) words the errors."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if len(data) > max_bytes:
            raise MediaTooLargeError(f"The {kind} is {len(data)} bytes, over the limit of {max_bytes} bytes.")
        return Source(label=f"{len(data)} bytes", data=data)
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
        return Source(label=source, data=fetch_bytes(source, policy, max_bytes=max_bytes))
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
