"""Documents as page images: PDF rendered with pypdfium2, office files converted to PDF by LibreOffice first.

:func:`load_document` renders at 180 DPI by default (the official GLM-V demo's setting). Over a page or token budget
it keeps the first page, the last page and pages evenly spaced between, and says which in ``Document.note``.
PPT / PPTX / ODP / DOC / DOCX / ODT go through ``soffice --headless --convert-to pdf`` with a private profile
folder (parallel conversions do not clash) and a timeout.

Pages are capped wherever documents are loaded: ``policy.max_pages`` per document (60 by default) and, through
:func:`load_documents`, ``policy.max_request_pages`` shared by all documents of one message or request. Every failure
(damaged file, failed render, failed conversion) is a :class:`~glmv.errors.MediaError` naming the file and the reason.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import shutil
import signal
import subprocess
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from PIL import Image

from glmv.errors import MediaError, MediaTooLargeError, MissingDependencyError
from glmv.media.images import to_rgb
from glmv.media.policy import MediaPolicy
from glmv.media.resize import image_tokens
from glmv.media.sources import Source, describe_bytes, describe_error, open_source

__all__ = [
    "OFFICE_SUFFIXES",
    "Document",
    "DocumentInfo",
    "load_document",
    "load_documents",
    "probe_document",
    "share_pages",
    "spread_pages",
]

DocumentSource = str | Path | bytes | bytearray | Source

DEFAULT_DPI = 180
_PRESENTATION = {".ppt", ".pptx", ".pps", ".ppsx", ".odp"}
_TEXT = {".doc", ".docx", ".odt", ".rtf"}
OFFICE_SUFFIXES = frozenset(_PRESENTATION | _TEXT)
_ZIP_MARKERS = (("ppt/", ".pptx"), ("word/", ".docx"))
_ODF_TYPES = {
    "application/vnd.oasis.opendocument.presentation": ".odp",
    "application/vnd.oasis.opendocument.text": ".odt",
}


@dataclass
class Document:
    """Rendered pages of a document: ``page_numbers`` are 1-based, ``total_pages`` counts the whole document;
    ``note`` says when pages were left out or rendered smaller than asked."""

    pages: list[Image.Image]
    page_numbers: list[int]
    total_pages: int
    note: str | None = None


def spread_pages(total: int, keep: int) -> list[int]:
    """``keep`` 1-based page numbers out of ``total``: the first, the last and evenly spaced ones between."""
    if keep >= total:
        return list(range(1, total + 1))
    if keep <= 1:
        return [1][:keep]
    return [math.floor(k * (total - 1) / (keep - 1) + 0.5) + 1 for k in range(keep)]


def _kind(source: Source) -> str:
    """``".pdf"`` or the office suffix to give LibreOffice."""
    suffix = source.path.suffix.lower() if source.path else ""
    if suffix == ".pdf" or suffix in OFFICE_SUFFIXES:
        return suffix
    head = source.head(1024)
    if b"%PDF-" in head:
        return ".pdf"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return ".doc"  # an OLE container; LibreOffice tells Word from PowerPoint by content
    if head.startswith(b"PK\x03\x04"):
        suffix = _zip_kind(source)
        if suffix:
            return suffix
    raise MediaError(
        f"Not a document: {source.label!r} is {describe_bytes(head[:32])}. "
        "Send a PDF, PPT/PPTX/ODP or DOC/DOCX/ODT file."
    )


def _zip_kind(source: Source) -> str | None:
    try:
        with source.open() as handle, zipfile.ZipFile(handle) as archive:
            names = archive.namelist()
            if "mimetype" in names and archive.getinfo("mimetype").file_size <= 256:
                return _ODF_TYPES.get(archive.read("mimetype").decode("ascii", "replace").strip())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return None
    return next((suffix for marker, suffix in _ZIP_MARKERS if any(n.startswith(marker) for n in names)), None)


def _soffice(suffix: str) -> str:
    for name in ("soffice", "libreoffice"):
        found = shutil.which(name)
        if found:
            return found
    package = "libreoffice-impress" if suffix in _PRESENTATION else "libreoffice-writer"
    raise MissingDependencyError(
        f"LibreOffice (the soffice program, needed to turn {suffix} files into pages)",
        f"apt-get install {package}",
    )


def _convert_to_pdf(source: Source, suffix: str, policy: MediaPolicy, workdir: Path) -> Path:
    program = _soffice(suffix)
    if source.path is not None:
        input_path = source.path
    else:
        input_path = workdir / f"document{suffix}"
        input_path.write_bytes(source.data or b"")
    outdir = workdir / "out"
    command = [
        program,
        f"-env:UserInstallation={(workdir / 'profile').as_uri()}",
        "--headless",
        "--norestore",
        "--nologo",
        "--convert-to",
        "pdf",
        "--outdir",
        str(outdir),
        str(input_path),
    ]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, "HOME": str(workdir)},
    )
    try:
        output, _ = process.communicate(timeout=policy.convert_timeout)
    except subprocess.TimeoutExpired as exc:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise MediaError(
            f"LibreOffice took longer than {policy.convert_timeout:g} s to convert {source.label!r}; "
            "convert it to PDF yourself and send the PDF."
        ) from exc
    produced = outdir / f"{input_path.stem}.pdf"
    if process.returncode != 0 or not produced.exists():
        detail = output.decode("utf-8", "replace").strip()[-400:] or "it printed nothing"
        raise MediaError(
            f"LibreOffice could not convert {source.label!r} to PDF (exit code {process.returncode}): {detail}. "
            f"Is the file a valid {suffix} document?"
        )
    return produced


def _open_pdf(data: bytes | Path | io.BufferedIOBase, label: str, password: str | None) -> Any:
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(data, password=password)
    except pdfium.PdfiumError as exc:
        if getattr(exc, "err_code", None) == 4:  # FPDF_ERR_PASSWORD
            if password is None:
                raise MediaError(
                    f"The PDF {label!r} is password protected. Send an unprotected copy (from Python, "
                    "load_document(..., password=...) opens it)."
                ) from exc
            raise MediaError(f"The password given for the PDF {label!r} is wrong.") from exc
        raise MediaError(
            f"Cannot read the PDF {label!r}: it is damaged or not a PDF ({describe_error(exc)}). "
            "Send a complete, valid PDF."
        ) from exc
    except (OSError, ValueError) as exc:
        raise MediaError(f"Cannot read the PDF {label!r}: {describe_error(exc)}.") from exc


def _page_pixels(size: tuple[float, float], dpi: float, max_pixels: int) -> tuple[float, bool]:
    """The render scale for a page of ``size`` points, and whether it had to be lowered to fit ``max_pixels``."""
    scale = dpi / 72
    width, height = size[0] * scale, size[1] * scale
    if math.ceil(width) * math.ceil(height) <= max_pixels:
        return scale, False
    fitted = scale * math.sqrt(max_pixels / (width * height))
    while math.ceil(size[0] * fitted) * math.ceil(size[1] * fitted) > max_pixels:  # pdfium rounds sizes up
        fitted *= 0.999
    return fitted, True


def _choose(
    tokens: Any, total: int, limit: int | None, max_tokens: int | None, label: str, why: str
) -> tuple[list[int], str | None]:
    """The pages to keep (``tokens(n)`` gives page ``n``'s image tokens) and the note saying which, if not all."""
    keep = total if limit is None else max(0, min(total, limit))
    while keep > 0:
        chosen = spread_pages(total, keep)
        if max_tokens is None or sum(tokens(n) for n in chosen) <= max_tokens:
            break
        keep -= 1
    else:
        raise MediaTooLargeError(
            f"Not even one page of {label!r} fits: the first page needs {tokens(1)} image tokens, over "
            f"max_tokens={max_tokens}. Raise max_tokens or lower dpi."
        )
    if keep == total:
        return chosen, None
    reasons = [why] if limit is not None and keep == limit else []
    if max_tokens is not None and (limit is None or keep < limit):
        reasons.append(f"max_tokens={max_tokens}")
    listed = ", ".join(str(n) for n in chosen)
    return chosen, f"kept {keep} of {total} pages ({', '.join(reasons)}): {listed}"


def _render(
    pdf: Any,
    label: str,
    dpi: float,
    limit: int | None,
    max_tokens: int | None,
    policy: MediaPolicy,
    why: str,
) -> Document:
    total = len(pdf)
    if total == 0:
        raise MediaError(f"The document {label!r} has no pages.")

    @cache
    def plan(number: int) -> tuple[float, bool, int]:
        width, height = pdf.get_page_size(number - 1)
        scale, lowered = _page_pixels((width, height), dpi, policy.max_image_pixels)
        return scale, lowered, image_tokens(max(1, round(width * scale)), max(1, round(height * scale)))

    chosen, note = _choose(lambda number: plan(number)[2], total, limit, max_tokens, label, why)
    pages: list[Image.Image] = []
    shrunk: list[int] = []
    for number in chosen:
        scale, lowered, _tokens = plan(number)
        try:
            page = pdf[number - 1]
        except Exception as exc:  # pypdfium2 raises PdfiumError and plain errors from its C layer
            raise MediaError(f"Page {number} of {label!r} cannot be loaded: {describe_error(exc)}.") from exc
        try:
            pages.append(to_rgb(page.render(scale=scale).to_pil()))
        except Exception as exc:  # as above
            raise MediaError(
                f"Page {number} of {label!r} cannot be rendered: {describe_error(exc)}."
            ) from exc
        finally:
            page.close()
        if lowered:
            shrunk.append(number)
    if shrunk:
        extra = f"pages {', '.join(map(str, shrunk))} rendered below {dpi:g} DPI (max_image_pixels)"
        note = f"{note}; {extra}" if note else extra
    return Document(pages=pages, page_numbers=chosen, total_pages=total, note=note)


@contextlib.contextmanager
def _opened_pdf(opened: Source, policy: MediaPolicy, password: str | None) -> Iterator[Any]:
    """The document as an open pypdfium2 PDF (an office file converted first), closed on exit."""
    suffix = _kind(opened)
    with tempfile.TemporaryDirectory(prefix="glmv-document-") as tmp, contextlib.ExitStack() as stack:
        pdf_input: bytes | Path | io.BufferedIOBase
        if suffix != ".pdf":
            pdf_input = _convert_to_pdf(opened, suffix, policy, Path(tmp))
        elif opened.path is not None:
            pdf_input = stack.enter_context(opened.open())  # type: ignore[arg-type]
        else:
            pdf_input = opened.data or b""
        pdf = _open_pdf(pdf_input, opened.label, password)
        try:
            yield pdf
        finally:
            pdf.close()


def _page_limit(max_pages: int | None, policy: MediaPolicy) -> tuple[int | None, str]:
    """The smaller of the caller's and the policy's page cap, and how to name it in a note."""
    if max_pages is not None and (policy.max_pages is None or max_pages <= policy.max_pages):
        return max_pages, f"max_pages={max_pages}"
    if policy.max_pages is not None:
        return policy.max_pages, f"max_pages={policy.max_pages}"
    return None, ""


def load_document(
    source: DocumentSource,
    dpi: float = DEFAULT_DPI,
    max_pages: int | None = None,
    max_tokens: int | None = None,
    policy: MediaPolicy | None = None,
    password: str | None = None,
) -> Document:
    """The pages of a PDF or office document as RGB images.

    ``source`` is a path, a ``file://`` / ``http(s)://`` / ``data:`` URL or the file's bytes. ``max_pages`` (and
    ``policy.max_pages``, 60 by default; the smaller wins) and ``max_tokens`` (image tokens of all kept pages
    together) limit the pages kept: the first, the last and evenly spaced ones between, named in ``Document.note``.
    Office files need LibreOffice (:class:`~glmv.errors.MissingDependencyError` names the apt package when it is
    missing). Several documents of one message go through :func:`load_documents`, which also applies the request's
    page budget.
    """
    return load_documents(
        [source], dpi=dpi, max_pages=max_pages, max_tokens=max_tokens, policy=policy, password=password
    )[0]


def share_pages(counts: Sequence[int], budget: int | None) -> list[int]:
    """How many pages each document keeps when documents of ``counts`` pages share ``budget`` pages.

    Each gets an equal share; what a short document leaves unused goes to the longer ones. Raises
    :class:`MediaTooLargeError` when there are more documents than pages in the budget.
    """
    if budget is None or sum(counts) <= budget:
        return list(counts)
    if budget < len(counts):
        raise MediaTooLargeError(
            f"{len(counts)} documents cannot share a budget of {budget} pages (max_request_pages): each needs at "
            "least one. Send fewer documents at once."
        )
    shares = [0] * len(counts)
    left = budget
    order = sorted(range(len(counts)), key=lambda index: counts[index])
    for position, index in enumerate(order):
        shares[index] = min(counts[index], left // (len(counts) - position))
        left -= shares[index]
    return shares


def load_documents(
    sources: Sequence[DocumentSource],
    dpi: float = DEFAULT_DPI,
    max_pages: int | None = None,
    max_tokens: int | None = None,
    policy: MediaPolicy | None = None,
    password: str | None = None,
) -> list[Document]:
    """The pages of several documents sent together (one chat message, one request).

    Each document is capped as by :func:`load_document`; then all of them share ``policy.max_request_pages`` (and
    ``max_tokens``, split in proportion to the pages each keeps), the note of each saying which pages it kept.
    """
    if dpi <= 0:
        raise MediaError(f"dpi must be positive, got {dpi}.")
    policy = policy or MediaPolicy()
    limit, why = _page_limit(max_pages, policy)
    opened = [open_source(source, policy, policy.max_document_bytes, "document") for source in sources]
    with contextlib.ExitStack() as stack:
        pdfs = [stack.enter_context(_opened_pdf(item, policy, password)) for item in opened]
        capped = [len(pdf) if limit is None else min(len(pdf), limit) for pdf in pdfs]
        shares = share_pages(capped, policy.max_request_pages)
        documents = []
        for item, pdf, cap, share in zip(opened, pdfs, capped, shares, strict=True):
            reason = why if share == cap else f"max_request_pages={policy.max_request_pages} shared"
            tokens = (
                max_tokens
                if max_tokens is None or not sum(shares)
                else max(1, max_tokens * share // sum(shares))
            )
            page_limit = share if share < cap or limit is not None else None
            documents.append(_render(pdf, item.label, dpi, page_limit, tokens, policy, reason))
        return documents


@dataclass(frozen=True)
class DocumentInfo:
    """What a document costs before a page is rendered: ``total_pages``, and the largest rendered page's pixels
    among a sample of its pages (office files count as ``policy.max_pages`` Letter-size pages: their page count
    is known only after LibreOffice converts them)."""

    total_pages: int
    page_pixels: int
    source: Source


_LETTER_POINTS = (612.0, 792.0)


def probe_document(
    source: DocumentSource,
    policy: MediaPolicy | None = None,
    dpi: float = DEFAULT_DPI,
    password: str | None = None,
) -> DocumentInfo:
    """Page count and page size of a document from its PDF structure, without rendering (nor converting) a page."""
    policy = policy or MediaPolicy()
    opened = open_source(source, policy, policy.max_document_bytes, "document")
    if _kind(opened) != ".pdf":
        scale, _lowered = _page_pixels(_LETTER_POINTS, dpi, policy.max_image_pixels)
        pixels = round(_LETTER_POINTS[0] * scale) * round(_LETTER_POINTS[1] * scale)
        return DocumentInfo(total_pages=policy.max_pages or 1, page_pixels=pixels, source=opened)
    with _opened_pdf(opened, policy, password) as pdf:
        total = len(pdf)
        largest = 0
        for number in spread_pages(total, 200):
            try:
                width, height = pdf.get_page_size(number - 1)
            except Exception as exc:  # pypdfium2 raises PdfiumError and plain errors from its C layer
                raise MediaError(
                    f"Page {number} of {opened.label!r} cannot be read: {describe_error(exc)}."
                ) from exc
            scale, _lowered = _page_pixels((width, height), dpi, policy.max_image_pixels)
            largest = max(largest, round(width * scale) * round(height * scale))
    if total == 0:
        raise MediaError(f"The document {opened.label!r} has no pages.")
    return DocumentInfo(total_pages=total, page_pixels=largest, source=opened)
