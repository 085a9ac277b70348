"""Documents as page images: PDF rendered with pypdfium2, office files converted to PDF by LibreOffice first.

:func:`load_document` renders at 180 DPI by default (the official GLM-V demo's setting). Over a page or token budget
it keeps the first page, the last page and pages evenly spaced between, and says which in ``Document.note``.
PPT / PPTX / ODP / DOC / DOCX / ODT go through ``soffice --headless --convert-to pdf`` with a private profile
folder (parallel conversions do not clash) and a timeout.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import signal
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from glmv.errors import MediaError, MediaTooLargeError, MissingDependencyError
from glmv.media.images import to_rgb
from glmv.media.policy import MediaPolicy
from glmv.media.resize import image_tokens
from glmv.media.sources import Source, describe_bytes, open_source

__all__ = ["OFFICE_SUFFIXES", "Document", "load_document", "spread_pages"]

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
    import io

    try:
        with zipfile.ZipFile(source.path or io.BytesIO(source.data or b"")) as archive:
            names = archive.namelist()
            if "mimetype" in names:
                return _ODF_TYPES.get(archive.read("mimetype").decode("ascii", "replace").strip())
    except (zipfile.BadZipFile, OSError):
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
        detail = output.decode("utf-8", "replace").strip()[-400:]
        raise MediaError(
            f"LibreOffice could not convert {source.label!r} to PDF (exit code {process.returncode}). "
            f"Is the file a valid {suffix} document? {detail}"
        )
    return produced


def _open_pdf(data: bytes | Path, label: str, password: str | None) -> Any:
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(data, password=password)
    except pdfium.PdfiumError as exc:
        if getattr(exc, "err_code", None) == 4:  # FPDF_ERR_PASSWORD
            if password is None:
                raise MediaError(
                    f"The PDF {label!r} is password protected. Pass its password (password=...) or send an "
                    "unprotected copy."
                ) from exc
            raise MediaError(f"The password given for the PDF {label!r} is wrong.") from exc
        raise MediaError(
            f"Cannot read the PDF {label!r}: it is damaged or not a PDF ({exc}). Send a complete, valid PDF."
        ) from exc


def _page_pixels(size: tuple[float, float], dpi: float, max_pixels: int) -> tuple[float, bool]:
    """The render scale for a page of ``size`` points, and whether it had to be lowered to fit ``max_pixels``."""
    scale = dpi / 72
    width, height = size[0] * scale, size[1] * scale
    if width * height <= max_pixels:
        return scale, False
    return scale * math.sqrt(max_pixels / (width * height)) * 0.999, True


def _choose(
    tokens: list[int], limit: int | None, max_tokens: int | None, label: str
) -> tuple[list[int], str | None]:
    total = len(tokens)
    keep = total if limit is None else max(0, min(total, limit))
    while keep > 0:
        chosen = spread_pages(total, keep)
        if max_tokens is None or sum(tokens[n - 1] for n in chosen) <= max_tokens:
            break
        keep -= 1
    else:
        raise MediaTooLargeError(
            f"Not even one page of {label!r} fits: the first page needs {tokens[0]} image tokens, over "
            f"max_tokens={max_tokens}. Raise max_tokens or lower dpi."
        )
    if keep == total:
        return chosen, None
    reasons = [f"max_pages={limit}"] if limit is not None and keep == limit else []
    if max_tokens is not None and (limit is None or keep < limit):
        reasons.append(f"max_tokens={max_tokens}")
    listed = ", ".join(str(n) for n in chosen)
    return chosen, f"kept {keep} of {total} pages ({', '.join(reasons)}): {listed}"


def _render(
    pdf: Any, label: str, dpi: float, limit: int | None, max_tokens: int | None, policy: MediaPolicy
) -> Document:
    total = len(pdf)
    if total == 0:
        raise MediaError(f"The document {label!r} has no pages.")
    sizes = [pdf.get_page_size(i) for i in range(total)]
    plans = [_page_pixels(size, dpi, policy.max_image_pixels) for size in sizes]
    tokens = [
        image_tokens(max(1, round(w * scale)), max(1, round(h * scale)))
        for (w, h), (scale, _) in zip(sizes, plans, strict=True)
    ]
    chosen, note = _choose(tokens, limit, max_tokens, label)
    pages: list[Image.Image] = []
    shrunk: list[int] = []
    for number in chosen:
        scale, lowered = plans[number - 1]
        page = pdf[number - 1]
        try:
            pages.append(to_rgb(page.render(scale=scale).to_pil()))
        except Exception as exc:  # pypdfium2 raises PdfiumError and plain errors from its C layer
            raise MediaError(f"Page {number} of {label!r} cannot be rendered: {exc}.") from exc
        finally:
            page.close()
        if lowered:
            shrunk.append(number)
    if shrunk:
        extra = f"pages {', '.join(map(str, shrunk))} rendered below {dpi:g} DPI (max_image_pixels)"
        note = f"{note}; {extra}" if note else extra
    return Document(pages=pages, page_numbers=chosen, total_pages=total, note=note)


def load_document(
    source: str | Path | bytes | bytearray,
    dpi: float = DEFAULT_DPI,
    max_pages: int | None = None,
    max_tokens: int | None = None,
    policy: MediaPolicy | None = None,
    password: str | None = None,
) -> Document:
    """The pages of a PDF or office document as RGB images.

    ``source`` is a path, a ``file://`` / ``http(s)://`` / ``data:`` URL or the file's bytes. ``max_pages`` (and
    ``policy.max_pages``, the smaller wins) and ``max_tokens`` (image tokens of all kept pages together) limit the
    pages kept: the first, the last and evenly spaced ones between. Office files need LibreOffice
    (:class:`~glmv.errors.MissingDependencyError` names the apt package when it is missing).
    """
    if dpi <= 0:
        raise MediaError(f"dpi must be positive, got {dpi}.")
    policy = policy or MediaPolicy()
    limits = [n for n in (max_pages, policy.max_pages) if n is not None]
    limit = min(limits) if limits else None
    opened = open_source(source, policy, policy.max_document_bytes, "document")
    suffix = _kind(opened)
    with tempfile.TemporaryDirectory(prefix="glmv-document-") as tmp:
        if suffix == ".pdf":
            pdf_input: bytes | Path = opened.path if opened.path is not None else (opened.data or b"")
        else:
            pdf_input = _convert_to_pdf(opened, suffix, policy, Path(tmp))
        pdf = _open_pdf(pdf_input, opened.label, password)
        try:
            return _render(pdf, opened.label, dpi, limit, max_tokens, policy)
        finally:
            pdf.close()
