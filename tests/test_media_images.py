"""load_image: every source a user has, every pixel mode, limits, bad files and the local-folder policy."""

from __future__ import annotations

import base64
import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from glmv.errors import MediaAccessError, MediaError, MediaTooLargeError
from glmv.media import MediaPolicy, load_image


def encode(image: Image.Image, fmt: str = "PNG", **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def gradient(size=(40, 30)) -> Image.Image:
    width, height = size
    x = np.linspace(0, 255, width, dtype=np.uint8)[None, :].repeat(height, 0)
    y = np.linspace(0, 255, height, dtype=np.uint8)[:, None].repeat(width, 1)
    return Image.fromarray(np.stack([x, y, 255 - x], axis=-1), "RGB")


@pytest.fixture
def png_file(tmp_path: Path) -> Path:
    path = tmp_path / "picture.png"
    gradient().save(path)
    return path


def test_every_source_kind_gives_the_same_pixels(png_file: Path):
    data = png_file.read_bytes()
    expected = np.asarray(gradient())
    sources = [
        str(png_file),
        png_file,
        png_file.as_uri(),
        data,
        bytearray(data),
        "data:image/png;base64," + base64.b64encode(data).decode(),
        gradient(),
    ]
    for source in sources:
        image = load_image(source)
        assert image.mode == "RGB"
        assert np.array_equal(np.asarray(image), expected), type(source)


def test_exif_orientation_is_applied():
    image = gradient((40, 30))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    loaded = load_image(encode(image, "JPEG", exif=exif.tobytes(), quality=95))
    assert loaded.size == (30, 40)
    expected = np.asarray(image.transpose(Image.Transpose.ROTATE_270), dtype=int)
    assert np.abs(np.asarray(loaded, dtype=int) - expected).mean() < 6


MODE_CASES = [
    # (name, image builder, pixel at (0, 0) after loading)
    ("RGBA fully transparent", lambda: Image.new("RGBA", (8, 8), (255, 0, 0, 0)), (255, 255, 255)),
    ("RGBA half transparent", lambda: Image.new("RGBA", (8, 8), (0, 0, 0, 128)), (127, 127, 127)),
    ("RGBA opaque", lambda: Image.new("RGBA", (8, 8), (10, 20, 30, 255)), (10, 20, 30)),
    ("LA transparent", lambda: Image.new("LA", (8, 8), (0, 0)), (255, 255, 255)),
    ("L grey", lambda: Image.new("L", (8, 8), 77), (77, 77, 77)),
    ("1 bit", lambda: Image.new("1", (8, 8), 1), (255, 255, 255)),
    ("CMYK", lambda: Image.new("CMYK", (8, 8), (0, 255, 255, 0)), (255, 0, 0)),
    ("I;16 full scale", lambda: Image.fromarray(np.full((8, 8), 65535, dtype=np.uint16)), (255, 255, 255)),
    ("I;16 mid", lambda: Image.fromarray(np.full((8, 8), 32896, dtype=np.uint16)), (128, 128, 128)),
    ("I 8-bit range", lambda: Image.fromarray(np.full((8, 8), 200, dtype=np.int32)), (200, 200, 200)),
]


@pytest.mark.parametrize(("name", "build", "pixel"), MODE_CASES, ids=[c[0] for c in MODE_CASES])
def test_modes_become_rgb(name, build, pixel):
    image = build()
    for source in (image, encode(image, "TIFF")):
        loaded = load_image(source)
        assert loaded.mode == "RGB"
        assert loaded.getpixel((0, 0)) == pixel, name


def test_palette_with_transparency_is_composited_on_white():
    image = Image.new("P", (8, 8), 1)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0, 0, 0] * 254)
    image.info["transparency"] = 1
    loaded = load_image(encode(image, "PNG"))
    assert loaded.getpixel((0, 0)) == (255, 255, 255)
    image.info.pop("transparency")
    assert load_image(encode(image, "PNG")).getpixel((0, 0)) == (255, 0, 0)


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width x height`` but carries only a few bytes of pixel data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("width", "height", "message"),
    [
        (12_000, 10_000, "is 12000x10000 = 120000000 pixels, over the limit of 89478485 pixels"),
        (50_000, 50_000, "more pixels than Pillow will decode"),
    ],
)
def test_decompression_bombs_are_refused_before_decoding(width, height, message):
    # The pixel data is only 64 bytes: decoding would fail as "truncated", so a size error proves no decoding.
    with pytest.raises(MediaTooLargeError, match=message):
        load_image(png_claiming(width, height))


def test_pixel_and_byte_limits_follow_the_policy(png_file: Path):
    with pytest.raises(MediaTooLargeError, match=r"40x30 = 1200 pixels, over the limit of 1000 pixels"):
        load_image(png_file, MediaPolicy(max_image_pixels=1000))
    with pytest.raises(MediaTooLargeError, match="over the limit of 1000 pixels"):
        load_image(gradient(), MediaPolicy(max_image_pixels=1000))
    size = png_file.stat().st_size
    with pytest.raises(MediaTooLargeError, match=f"is {size} bytes, over the limit of 100 bytes"):
        load_image(png_file, MediaPolicy(max_image_bytes=100))
    with pytest.raises(MediaTooLargeError, match="over the limit of 100 bytes"):
        load_image(png_file.read_bytes(), MediaPolicy(max_image_bytes=100))
    with pytest.raises(MediaTooLargeError, match="data: URI image is over the limit of 100 bytes"):
        load_image(
            "data:image/png;base64," + base64.b64encode(png_file.read_bytes()).decode(),
            MediaPolicy(max_image_bytes=100),
        )
    assert load_image(png_file, MediaPolicy(max_image_pixels=1200)).size == (40, 30)


def test_truncated_image_is_a_clear_error():
    data = encode(gradient((200, 200)), "JPEG", quality=90)
    with pytest.raises(MediaError, match="truncated or corrupt"):
        load_image(data[: len(data) // 2])
    png = encode(gradient((200, 200)), "PNG")
    with pytest.raises(MediaError, match="truncated or corrupt"):
        load_image(png[: len(png) // 2])


NOT_IMAGES = [
    (b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n", "a PDF document \\(use load_document\\)"),
    (b"<!DOCTYPE html><html></html>", "an HTML page"),
    (b"PK\x03\x04\x14\x00\x00\x00", "a ZIP archive or office document"),
    (b"\x00\x00\x00\x18ftypmp42\x00\x00", "an MP4/MOV video \\(use load_video\\)"),
    (b"hello, this is text", "text starting with 'hello, this is text'"),
    (b"", "an empty file"),
]


@pytest.mark.parametrize(("data", "what"), NOT_IMAGES)
def test_things_that_are_not_images_are_named(data, what):
    with pytest.raises(MediaError, match=f"Not an image: {len(data)} bytes is {what}"):
        load_image(data)


def test_not_an_image_file_names_the_path(tmp_path: Path):
    path = tmp_path / "notes.png"
    path.write_text("just some notes")
    with pytest.raises(MediaError, match=f"Not an image: '{path}' is text starting with 'just some notes'"):
        load_image(path)


@pytest.mark.parametrize(
    ("source", "error", "message"),
    [
        ("/no/such/picture.png", MediaError, "No such image file: '/no/such/picture.png'"),
        ("ftp://example.com/a.png", MediaAccessError, "Unsupported URL scheme 'ftp'"),
        ("data:image/png;base64,@@@@", MediaError, "not valid base64 \\('@' at position 0"),
        ("data:image/png;base64", MediaError, "Malformed data: URI"),
        ("", MediaError, "An empty string is not an image"),
        ("A" * 5000, MediaError, "5000-character string is neither a path nor a URL"),
        ("file://otherhost/a.png", MediaAccessError, "must name a local file, not host 'otherhost'"),
    ],
)
def test_bad_sources(source, error, message):
    with pytest.raises(error, match=message):
        load_image(source)


def test_wrong_type_is_named():
    with pytest.raises(MediaError, match="Cannot read an image from a int"):
        load_image(42)  # type: ignore[arg-type]


def test_folder_is_not_an_image(tmp_path: Path):
    with pytest.raises(MediaError, match="is a folder, not an image file"):
        load_image(tmp_path)


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    allowed = tmp_path / "allowed"
    (allowed / "sub").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    gradient().save(allowed / "sub" / "in.png")
    gradient().save(outside / "secret.png")
    (allowed / "link.png").symlink_to(outside / "secret.png")
    (allowed / "linkdir").symlink_to(outside)
    return {"allowed": allowed, "outside": outside}


def test_strict_policy_reads_only_inside_the_allowed_folder(layout):
    allowed, outside = layout["allowed"], layout["outside"]
    policy = MediaPolicy.strict(allowed_local_dir=allowed)
    assert load_image(allowed / "sub" / "in.png", policy).size == (40, 30)
    assert load_image((allowed / "sub" / "in.png").as_uri(), policy).size == (40, 30)
    assert load_image(str(allowed / "sub" / ".." / "sub" / "in.png"), policy).size == (40, 30)
    refused = [
        outside / "secret.png",
        (outside / "secret.png").as_uri(),
        str(allowed / ".." / "outside" / "secret.png"),
        allowed / "link.png",  # a symlink inside pointing outside
        allowed / "linkdir" / "secret.png",
        "file://" + str(allowed) + "/../outside/secret.png",
    ]
    for source in refused:
        with pytest.raises(MediaAccessError, match="is outside the folder media may be read from"):
            load_image(source, policy)


def test_strict_policy_without_a_folder_refuses_all_local_files(layout):
    with pytest.raises(MediaAccessError, match="Reading local files is not allowed here"):
        load_image(layout["allowed"] / "sub" / "in.png", MediaPolicy.strict())


def test_default_policy_reads_any_local_path(layout):
    assert load_image(layout["outside"] / "secret.png").size == (40, 30)
    assert load_image(layout["allowed"] / "link.png").size == (40, 30)
