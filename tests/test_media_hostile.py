"""glmv.media under hostile input: each attack is refused with a clear MediaError, and a normal input works after.

Attacks of issue 9 (request budgets, files that are not regular files, fetch deadlines, page caps, bombs) and
issue 10 (truncated files, undecodable data URIs). Memory attacks are crafted headers: nothing here allocates more
than a few megabytes, and the budget test checks that the process's peak memory did not grow.
"""

from __future__ import annotations

import base64
import io
import os
import resource
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from glmv.errors import MediaAccessError, MediaError, MediaTooLargeError
from glmv.media import (
    MediaPolicy,
    check_request_media,
    load_document,
    load_documents,
    load_image,
    load_video,
)
from glmv.media.fetch import fetch_bytes


def png(size: tuple[int, int] = (40, 30), color: tuple[int, int, int] = (200, 30, 60)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG")
    return buffer.getvalue()


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares ``width x height`` pixels and holds none: what a bomb looks like from its header."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


def with_chunks(image: bytes, *chunks: bytes) -> bytes:
    """``image`` (a PNG) with ``chunks`` inserted right after its IHDR."""
    return image[:33] + b"".join(chunks) + image[33:]


def ztxt(size: int) -> bytes:
    return chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"a" * size, 9))


def itxt(size: int) -> bytes:
    return chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x01\x00\x00\x00" + zlib.compress(b"a" * size, 9))


def data_uri(data: bytes, media_type: str = "image/png") -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"


def pdf_with_pages(count: int, size: tuple[int, int] = (72, 72)) -> bytes:
    """A valid PDF of ``count`` empty pages written by hand (Pillow would take minutes for 10,000 pages)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    kids = " ".join(f"{3 + i} 0 R" for i in range(count))
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {count} >>".encode())
    page = f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {size[0]} {size[1]}] >>".encode()
    objects.extend([page] * count)
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    out.write(b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets))
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def encode_clip(path: Path, frames: int = 20, fps: int = 10, size: tuple[int, int] = (64, 48)) -> Path:
    width, height = size
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index in range(frames):
            array = np.full((height, width, 3), index * 10 % 256, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(array, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def within(seconds: float, action: Callable[[], object]) -> object:
    """Run ``action`` in a thread and fail (rather than hang the suite) if it takes longer than ``seconds``."""
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = action()
        except BaseException as exc:  # handed back to the test below
            outcome["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"still running after {seconds} s: it blocked"
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome.get("value")


@pytest.fixture
def files(tmp_path: Path) -> Iterator[dict[str, Path]]:
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    sock_path = tmp_path / "socket.png"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(sock_path))
    (tmp_path / "folder.png").mkdir()
    (tmp_path / "good.png").write_bytes(png())
    yield {
        "fifo": fifo,
        "socket": sock_path,
        "folder": tmp_path / "folder.png",
        "good": tmp_path / "good.png",
    }
    server.close()


IMAGE_ATTACKS = [
    # (name, source builder, error, message fragment)
    (
        "png signature then garbage",
        lambda f: png()[:8] + b"garbage" * 20,
        MediaError,
        "truncated or corrupt PNG",
    ),
    ("png cut inside its pixels", lambda f: png((64, 64))[:-30], MediaError, "truncated or corrupt PNG"),
    (
        "header-only jpeg",
        lambda f: b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00",
        MediaError,
        "truncated or corrupt JPEG",
    ),
    (
        "1x100000 image",
        lambda f: png((1, 100000)),
        MediaError,
        "1x100000 pixels, 100000:1: too long and thin",
    ),
    ("100000x1 image", lambda f: png((100000, 1)), MediaError, "at most 200:1"),
    ("a decompression bomb's header", lambda f: png_header_only(30000, 30000), MediaTooLargeError, "pixels"),
    (
        "one zTXt chunk inflating to 2 MB",
        lambda f: with_chunks(png(), ztxt(2 << 20)),
        MediaTooLargeError,
        "bomb",
    ),
    (
        "one iTXt chunk inflating to 2 MB",
        lambda f: with_chunks(png(), itxt(2 << 20)),
        MediaTooLargeError,
        "bomb",
    ),
    (
        "five zTXt chunks of 1 MB each",
        lambda f: with_chunks(png(), *[ztxt(1 << 20)] * 5),
        MediaTooLargeError,
        "text-chunk bomb",
    ),
    (
        "two thousand tiny tEXt chunks",
        lambda f: with_chunks(png(), *[chunk(b"tEXt", b"k\x00v")] * 2000),
        MediaTooLargeError,
        "text-chunk bomb",
    ),
    ("a NUL byte in a path", lambda f: str(f["good"]) + "\x00.png", MediaError, "contains a NUL byte"),
    (
        "a NUL byte in a file:// URL",
        lambda f: f"file://{f['good']}%00.png",
        MediaError,
        "contains a NUL byte",
    ),
    ("a FIFO", lambda f: f["fifo"], MediaError, "is a named pipe (FIFO), not an image file"),
    ("/dev/zero", lambda f: "/dev/zero", MediaError, "'/dev/zero' is a character device"),
    ("a socket", lambda f: f["socket"], MediaError, "is a socket"),
    ("a folder", lambda f: f["folder"], MediaError, "is a folder"),
    (
        "a data URI of !!!",
        lambda f: "data:image/png;base64,!!!",
        MediaError,
        "not valid base64 ('!' at position 0",
    ),
    ("a data URI with nothing after the comma", lambda f: "data:image/png;base64,", MediaError, "is empty"),
    ("a data URI of a truncated png", lambda f: data_uri(png()[:50]), MediaError, "truncated or corrupt PNG"),
]


@pytest.mark.parametrize(
    ("name", "build", "error", "message"), IMAGE_ATTACKS, ids=[a[0] for a in IMAGE_ATTACKS]
)
def test_image_attacks_are_refused_and_a_normal_image_loads_after(files, name, build, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        within(5, lambda: load_image(build(files)))
    assert load_image(files["good"]).getpixel((3, 3)) == (200, 30, 60)


def test_a_pil_image_of_extreme_aspect_ratio_is_refused():
    with pytest.raises(MediaError, match="too long and thin"):
        load_image(Image.new("RGB", (1, 500)))
    assert load_image(Image.new("RGB", (1, 150))).size == (1, 150)


def test_valid_png_metadata_and_url_safe_base64_still_load():
    tagged = with_chunks(png(), chunk(b"tEXt", b"Comment\x00hello"), itxt(10_000))
    assert load_image(tagged).size == (40, 30)
    url_safe = "data:image/png;base64," + base64.urlsafe_b64encode(png()).decode().rstrip("=")
    assert load_image(url_safe).size == (40, 30)


@pytest.mark.parametrize("kind", ["video", "document"])
def test_other_loaders_refuse_files_that_are_not_regular(files, kind, tmp_path):
    load = (lambda s: load_video(s, "glm-4.6v")) if kind == "video" else load_document
    for source, message in [(files["fifo"], "named pipe"), ("/dev/zero", "character device")]:
        with pytest.raises(MediaError, match=message):
            within(5, lambda source=source: load(source))


def test_a_file_that_grows_after_its_size_was_checked_is_read_only_up_to_the_cap(tmp_path):
    from glmv.media.sources import open_source

    path = tmp_path / "growing.png"
    path.write_bytes(png())
    source = open_source(path, MediaPolicy(), max_bytes=2000, kind="image")
    path.write_bytes(b"x" * 10_000)  # grew past the cap between the check and the read
    with pytest.raises(MediaTooLargeError, match="larger than the limit of 2000 bytes; stopped reading"):
        source.read()


def test_video_decode_errors_are_media_errors_naming_the_file(tmp_path):
    clip = encode_clip(tmp_path / "clip.mp4").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(clip[: len(clip) // 3])
    (tmp_path / "noise.mp4").write_bytes(clip[:32] + os.urandom(4000))
    for name in ("cut.mp4", "noise.mp4"):
        with pytest.raises(MediaError, match=rf"{name}.*\w"):
            load_video(tmp_path / name, "glm-4.6v")
    assert len(load_video(tmp_path / "clip.mp4", "glm-4.6v").frames) >= 2


def test_a_damaged_pdf_names_the_file_and_the_reason(tmp_path):
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.4\n" + os.urandom(500))
    with pytest.raises(MediaError, match=r"Cannot read the PDF '.*broken\.pdf': it is damaged .*\(\w"):
        load_document(path)
    assert load_document(pdf_with_pages(2)).total_pages == 2


def test_a_10000_page_pdf_renders_only_the_capped_pages(tmp_path):
    path = tmp_path / "huge.pdf"
    path.write_bytes(pdf_with_pages(10_000))
    started = time.monotonic()
    document = load_document(path, dpi=36)
    assert time.monotonic() - started < 10
    assert document.total_pages == 10_000 and len(document.pages) == 60
    assert document.page_numbers[0] == 1 and document.page_numbers[-1] == 10_000
    assert document.note.startswith("kept 60 of 10000 pages (max_pages=60): 1, 170, ")


def test_documents_of_one_message_share_the_request_page_budget():
    policy = MediaPolicy(max_pages=None, max_request_pages=50)
    short, long = load_documents([pdf_with_pages(10), pdf_with_pages(200)], dpi=18, policy=policy)
    assert len(short.pages) == 10 and short.note is None
    assert len(long.pages) == 40 and long.note.startswith(
        "kept 40 of 200 pages (max_request_pages=50 shared)"
    )
    with pytest.raises(MediaTooLargeError, match="3 documents cannot share a budget of 2 pages"):
        load_documents([pdf_with_pages(1)] * 3, dpi=18, policy=policy.replace(max_request_pages=2))


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_sixteen_7000x7000_images_are_refused_from_their_headers_without_decoding():
    uri = data_uri(png_header_only(7000, 7000))
    before = _peak_rss_mib()
    started = time.monotonic()
    with pytest.raises(MediaTooLargeError) as caught:
        check_request_media([("image", uri)] * 16, MediaPolicy.strict())
    assert time.monotonic() - started < 2
    assert _peak_rss_mib() - before < 100  # decoding them would take 16 x 147 MB
    message = str(caught.value)
    assert "784000000 pixels" in message and "100000000 pixels (max_request_pixels)" in message
    measured = check_request_media([("image", data_uri(png()))] * 16, MediaPolicy.strict())
    assert [item.pixels for item in measured] == [1200] * 16
    assert measured[0].load().getpixel((1, 1)) == (200, 30, 60)


def test_request_frame_byte_and_page_budgets(tmp_path):
    clip = encode_clip(tmp_path / "clip.mp4", frames=40, fps=10)
    policy = MediaPolicy(max_request_frames=30)
    (video,) = check_request_media([("video", clip)], policy, family="glm-4.6v")
    assert video.frames == 24 and video.pixels == 24 * 64 * 48
    with pytest.raises(
        MediaTooLargeError, match=r"48 video frames, over the request limit of 30 .*max_request_frames"
    ):
        check_request_media([("video", clip), ("video", clip)], policy, family="glm-4.6v")
    assert len(video.load(policy, family="glm-4.6v").frames) == 24
    noise = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 40, 3), np.uint8)).save(noise, "PNG")
    assert 3000 < len(noise.getvalue()) < 5000
    with pytest.raises(
        MediaTooLargeError, match=r"add up to \d+ bytes, over the request limit of 10000 bytes"
    ):
        check_request_media([("image", noise.getvalue())] * 4, MediaPolicy(max_request_bytes=10_000))
    documents = check_request_media(
        [("document", pdf_with_pages(10)), ("document", pdf_with_pages(500))],
        MediaPolicy(max_pages=100, max_request_pages=60),
        dpi=36,
    )
    assert [item.pages for item in documents] == [10, 50]
    assert len(documents[1].load(dpi=18).pages) == 50


class _Dripper:
    """A loopback HTTP server that answers slowly: ``drip`` seconds between bytes of the body (or of the headers)."""

    def __init__(self, drip: float, where: str = "body", redirects: int = 0) -> None:
        self.drip, self.where, self.redirects = drip, where, redirects
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}/hop0"

    def serve(self) -> None:
        while not self.stop.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self.answer, args=(connection,), daemon=True).start()

    def answer(self, connection: socket.socket) -> None:
        with connection:
            request = connection.recv(4096).decode("latin-1")
            hop = int(request.split(" ")[1].removeprefix("/hop"))
            if hop < self.redirects:
                time.sleep(self.drip)
                head = f"HTTP/1.1 302 Found\r\nLocation: /hop{hop + 1}\r\nContent-Length: 0\r\n\r\n".encode()
                connection.sendall(head)
                return
            body = b"x" * 40
            head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            slow, then = (head, body) if self.where == "headers" else (body, b"")
            try:
                if self.where == "body":
                    connection.sendall(head)
                for byte in slow:
                    if self.stop.wait(self.drip):
                        return
                    connection.sendall(bytes([byte]))
                connection.sendall(then)
            except OSError:
                return  # the client gave up, as it should

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        self.listener.close()


@pytest.mark.parametrize(
    ("drip", "where", "redirects"),
    [(0.3, "body", 0), (0.3, "headers", 0), (0.5, "body", 3)],
    ids=["a body dripping a byte at a time", "headers dripping", "slow redirect hops"],
)
def test_fetch_timeout_is_a_deadline_for_the_whole_fetch(drip, where, redirects):
    server = _Dripper(drip, where, redirects)
    policy = MediaPolicy(allow_private_urls=True, fetch_timeout=1.0)
    try:
        started = time.monotonic()
        with pytest.raises(MediaError, match=r"timed out after 1 s \(fetch_timeout bounds the whole fetch"):
            within(6, lambda: fetch_bytes(server.url, policy))
        assert 0.9 < time.monotonic() - started < 1.6
        server.drip = 0.0
        assert fetch_bytes(server.url, policy) == b"x" * 40
    finally:
        server.close()


def test_private_fetch_is_still_refused_before_the_deadline_matters():
    with pytest.raises(MediaAccessError, match="private, loopback"):
        fetch_bytes("http://127.0.0.1:9/x.png", MediaPolicy(fetch_timeout=0.5))
