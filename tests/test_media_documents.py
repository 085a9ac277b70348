"""Documents: real PDFs rendered by pypdfium2, a real PPTX converted by LibreOffice, page budgets, bad files."""

from __future__ import annotations

import hashlib
import io
import shutil
import struct
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from glmv.errors import MediaError, MediaTooLargeError, MissingDependencyError
from glmv.media import MediaPolicy, image_tokens, load_document
from glmv.media.documents import spread_pages

COLORS = [(i * 20 % 256, 255 - i * 20 % 256, (i * 50) % 256) for i in range(12)]


def pdf_of_pages(count: int, size: tuple[int, int] = (200, 100)) -> bytes:
    """A real PDF with ``count`` pages of ``size`` points, page i filled with COLORS[i]."""
    pages = [Image.new("RGB", size, COLORS[i]) for i in range(count)]
    buffer = io.BytesIO()
    pages[0].save(buffer, "PDF", save_all=True, append_images=pages[1:], resolution=72)
    return buffer.getvalue()


def page_color(image: Image.Image) -> tuple[int, int, int]:
    return tuple(round(v) for v in np.asarray(image).reshape(-1, 3).mean(axis=0))


def close(a, b, tolerance=3):
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize(
    ("total", "keep", "expected"),
    [
        (12, 4, [1, 5, 8, 12]),
        (120, 10, [1, 14, 27, 41, 54, 67, 80, 94, 107, 120]),
        (5, 5, [1, 2, 3, 4, 5]),
        (5, 9, [1, 2, 3, 4, 5]),
        (5, 2, [1, 5]),
        (5, 1, [1]),
        (3, 0, []),
    ],
)
def test_spread_pages(total, keep, expected):
    assert spread_pages(total, keep) == expected


def test_pdf_pages_render_at_180_dpi(tmp_path: Path):
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf_of_pages(3))
    document = load_document(path)
    assert document.total_pages == 3 and document.page_numbers == [1, 2, 3] and document.note is None
    for number, page in zip(document.page_numbers, document.pages, strict=True):
        assert page.mode == "RGB" and page.size == (500, 250)
        assert close(page_color(page), COLORS[number - 1])
    assert load_document(path, dpi=72).pages[0].size == (200, 100)
    assert load_document(path.read_bytes()).pages[0].size == (500, 250)
    assert load_document(path.as_uri(), dpi=36).pages[0].size == (100, 50)


def test_max_pages_keeps_first_last_and_evenly_spaced_pages():
    data = pdf_of_pages(12)
    document = load_document(data, dpi=36, max_pages=4)
    assert document.page_numbers == [1, 5, 8, 12]
    assert document.total_pages == 12
    assert document.note == "kept 4 of 12 pages (max_pages=4): 1, 5, 8, 12"
    for number, page in zip(document.page_numbers, document.pages, strict=True):
        assert close(page_color(page), COLORS[number - 1])
    strict = load_document(data, dpi=36, policy=MediaPolicy(max_pages=3))
    assert strict.page_numbers == [1, 7, 12] and strict.note == "kept 3 of 12 pages (max_pages=3): 1, 7, 12"


def test_max_tokens_budget():
    data = pdf_of_pages(12)
    per_page = image_tokens(500, 250)
    document = load_document(data, max_tokens=per_page * 3 + 1)
    assert document.page_numbers == [1, 7, 12]
    assert document.note == f"kept 3 of 12 pages (max_tokens={per_page * 3 + 1}): 1, 7, 12"
    assert load_document(data, max_tokens=per_page * 12).note is None
    with pytest.raises(
        MediaTooLargeError, match=f"the first page needs {per_page} image tokens, over max_tokens=10"
    ):
        load_document(data, max_tokens=10)


def test_huge_pages_are_rendered_below_the_pixel_cap():
    data = pdf_of_pages(2, size=(400, 400))
    document = load_document(data, policy=MediaPolicy(max_image_pixels=250_000))
    assert all(page.width * page.height <= 250_000 for page in document.pages)
    assert document.pages[0].width >= 495
    assert document.note == "pages 1, 2 rendered below 180 DPI (max_image_pixels)"


@pytest.mark.parametrize("limit", [200_000, 250_000, 1_000_003])
def test_a_letter_page_fitted_to_the_cap_is_not_rounded_over_it(limit):
    """pdfium rounds a page's rendered size up: a US Letter page fitted to 200,000 pixels used to come out as
    393 × 509 = 200,037 and be refused as an image afterwards."""
    document = load_document(pdf_of_pages(1, size=(612, 792)), policy=MediaPolicy(max_image_pixels=limit))
    page = document.pages[0]
    assert page.width * page.height <= limit
    assert page.width * page.height > 0.99 * limit


PAD = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")


def rc4(key: bytes, data: bytes) -> bytes:
    state = list(range(256))
    j = 0
    for i in range(256):
        j = (j + state[i] + key[i % len(key)]) % 256
        state[i], state[j] = state[j], state[i]
    out, i, j = bytearray(), 0, 0
    for byte in data:
        i = (i + 1) % 256
        j = (j + state[i]) % 256
        state[i], state[j] = state[j], state[i]
        out.append(byte ^ state[(state[i] + state[j]) % 256])
    return bytes(out)


def encrypted_pdf(user_password: bytes, owner_password: bytes = b"owner") -> bytes:
    """A one-page red PDF encrypted with the standard security handler (RC4 40-bit, revision 2)."""
    file_id = hashlib.md5(b"glmv test").digest()
    permissions = struct.pack("<i", -4)
    owner = rc4(hashlib.md5((owner_password + PAD)[:32]).digest()[:5], (user_password + PAD)[:32])
    key = hashlib.md5((user_password + PAD)[:32] + owner + permissions + file_id).digest()[:5]
    user = rc4(key, PAD)
    content = rc4(
        hashlib.md5(key + struct.pack("<I", 4)[:3] + b"\0\0").digest()[:10], b"1 0 0 rg 0 0 200 100 re f"
    )
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Filter /Standard /V 1 /R 2 /O <%s> /U <%s> /P -4 >>"
        % (owner.hex().encode(), user.hex().encode()),
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Encrypt 5 0 R /ID [<%s> <%s>] >>\n" % (
        len(objects) + 1,
        file_id.hex().encode(),
        file_id.hex().encode(),
    )
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def test_password_protected_pdf(tmp_path: Path):
    path = tmp_path / "locked.pdf"
    path.write_bytes(encrypted_pdf(b"secret"))
    with pytest.raises(MediaError, match=r"'.*locked.pdf' is password protected. Send an unprotected copy"):
        load_document(path)
    with pytest.raises(MediaError, match=r"The password given for the PDF '.*locked\.pdf' is wrong"):
        load_document(path, password="guess")
    opened = load_document(path, password="secret", dpi=72)  # the fixture really is a valid encrypted PDF
    assert opened.pages[0].size == (200, 100)
    assert close(page_color(opened.pages[0]), (255, 0, 0))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"%PDF-1.4\nthis is not really a pdf", "Cannot read the PDF '.*': it is damaged or not a PDF"),
        (pdf_of_pages(2)[:300], "Cannot read the PDF '.*': it is damaged or not a PDF"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "Not a document: '.*' is binary data"),
        (b"just words", "Not a document: '10 bytes' is text starting with 'just words'. Send a PDF"),
        (b"", "Not a document: '0 bytes' is an empty file"),
    ],
)
def test_corrupt_and_foreign_files(data, message):
    with pytest.raises(MediaError, match=message):
        load_document(data)


def test_document_limits_and_access(tmp_path: Path):
    path = tmp_path / "a.pdf"
    path.write_bytes(pdf_of_pages(1))
    with pytest.raises(MediaTooLargeError, match="over the limit of 10 bytes"):
        load_document(path, policy=MediaPolicy(max_document_bytes=10))
    with pytest.raises(MediaError, match="No such document file"):
        load_document(tmp_path / "missing.pdf")
    with pytest.raises(MediaError, match="dpi must be positive"):
        load_document(path, dpi=0)


@pytest.mark.parametrize(
    ("name", "package"), [("slides.pptx", "libreoffice-impress"), ("letter.docx", "libreoffice-writer")]
)
def test_missing_libreoffice_names_the_package(tmp_path: Path, monkeypatch, name, package):
    path = tmp_path / name
    path.write_bytes(b"PK\x03\x04 not converted")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(
        MissingDependencyError, match=f"LibreOffice .* Install it with: apt-get install {package}"
    ):
        load_document(path)


def write_pptx(path: Path, slides: int) -> Path:
    from pptx import Presentation
    from pptx.dml.color import RGBColor
    from pptx.util import Inches

    deck = Presentation()
    for index in range(slides):
        slide = deck.slides.add_slide(deck.slide_layouts[6])
        box = slide.shapes.add_shape(1, Inches(0), Inches(0), deck.slide_width, deck.slide_height)
        box.fill.solid()
        box.fill.fore_color.rgb = RGBColor(*COLORS[index])
        slide.shapes.add_textbox(
            Inches(1), Inches(1), Inches(4), Inches(1)
        ).text_frame.text = f"Slide {index + 1}"
    deck.save(str(path))
    return path


def test_pptx_is_converted_by_libreoffice(tmp_path: Path):
    if shutil.which("soffice") is None:
        pytest.fail("LibreOffice (soffice) is not installed: apt-get install libreoffice-impress")
    deck = write_pptx(tmp_path / "deck.pptx", 3)
    other = write_pptx(tmp_path / "other.pptx", 2)
    with ThreadPoolExecutor(2) as pool:  # two conversions at once: separate profiles, no clash
        first, second = pool.map(lambda source: load_document(source, dpi=36), [deck, other.read_bytes()])
    assert first.total_pages == 3 and second.total_pages == 2
    assert first.pages[0].size == (360, 270)  # 10 x 7.5 inch slides at 36 DPI
    for number, page in zip(first.page_numbers, first.pages, strict=True):
        assert close(page_color(page), COLORS[number - 1], tolerance=12)


def test_broken_office_file_is_reported(tmp_path: Path):
    if shutil.which("soffice") is None:
        pytest.fail("LibreOffice (soffice) is not installed: apt-get install libreoffice-impress")
    path = tmp_path / "broken.pptx"
    path.write_bytes(b"PK\x03\x04" + b"\x00garbage" * 50)
    with pytest.raises(MediaError, match=r"LibreOffice could not convert '.*broken\.pptx' to PDF"):
        load_document(path, policy=MediaPolicy(convert_timeout=60))
