"""URL fetching: private addresses refused before any connection, public-only by default, capped and bounded."""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from PIL import Image

from glmv.errors import MediaAccessError, MediaError, MediaTooLargeError
from glmv.media import MediaPolicy, check_url, is_public_address, load_image
from glmv.media.fetch import fetch_bytes

ADDRESS_TABLE = [
    # (address, public?)
    ("8.8.8.8", True),
    ("1.1.1.1", True),
    ("93.184.216.34", True),
    ("2606:4700:4700::1111", True),
    ("127.0.0.1", False),
    ("127.255.255.254", False),
    ("10.0.0.1", False),
    ("10.255.255.255", False),
    ("172.16.0.1", False),
    ("172.31.255.254", False),
    ("172.15.255.255", True),
    ("172.32.0.1", True),
    ("192.168.0.1", False),
    ("192.168.255.255", False),
    ("169.254.169.254", False),  # cloud metadata endpoint
    ("100.64.0.1", False),  # carrier-grade NAT
    ("100.127.255.254", False),
    ("0.0.0.0", False),
    ("224.0.0.1", False),  # multicast
    ("239.255.255.250", False),
    ("240.0.0.1", False),  # reserved
    ("255.255.255.255", False),
    ("::1", False),
    ("::", False),
    ("fe80::1", False),
    ("fe80::1%eth0", False),
    ("fc00::1", False),
    ("fd12:3456:789a::1", False),
    ("ff02::1", False),
    ("::ffff:127.0.0.1", False),
    ("::ffff:10.1.2.3", False),
    ("::ffff:169.254.169.254", False),
    ("::ffff:8.8.8.8", True),
    ("2002:7f00:1::", False),  # 6to4 around 127.0.0.1
    ("64:ff9b::a00:1", False),  # NAT64 around 10.0.0.1
    ("not-an-ip", False),
]


@pytest.mark.parametrize(("address", "public"), ADDRESS_TABLE)
def test_is_public_address(address, public):
    assert is_public_address(address) is public


def fake_resolver(table: dict[str, list[str]]):
    calls: list[str] = []

    def resolve(host, port, type=0, **_kwargs):
        calls.append(host)
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))
            for ip in table[host]
        ]

    resolve.calls = calls
    return resolve


DNS = {
    "public.example": ["93.184.216.34"],
    "two.example": ["93.184.216.34", "2606:4700:4700::1111"],
    "loopback.example": ["127.0.0.1"],
    "ten.example": ["10.1.2.3"],
    "rfc1918.example": ["172.20.0.5"],
    "home.example": ["192.168.1.10"],
    "metadata.example": ["169.254.169.254"],
    "ula.example": ["fd00::5"],
    "v6loop.example": ["::1"],
    "mixed.example": ["93.184.216.34", "10.0.0.7"],
}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://public.example/cat.png", ["93.184.216.34"]),
        ("https://two.example:8443/a", ["93.184.216.34", "2606:4700:4700::1111"]),
        ("http://8.8.8.8/x.png", ["8.8.8.8"]),
    ],
)
def test_check_url_accepts_public_hosts(url, expected):
    assert check_url(url, resolve=fake_resolver(DNS)) == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://loopback.example/x.png",
        "http://ten.example/x.png",
        "http://rfc1918.example/x.png",
        "http://home.example/x.png",
        "http://metadata.example/latest/meta-data/",
        "http://ula.example/x.png",
        "http://v6loop.example/x.png",
        "http://mixed.example/x.png",  # one bad address is enough
        "http://127.0.0.1:8080/x.png",
        "http://[::1]/x.png",
        "http://[::ffff:127.0.0.1]/x.png",
        "http://169.254.169.254/",
    ],
)
def test_check_url_refuses_non_public_hosts(url):
    with pytest.raises(MediaAccessError, match="non-public address"):
        check_url(url, resolve=fake_resolver(DNS))
    assert check_url(url, allow_private=True, resolve=fake_resolver(DNS))


def test_check_url_names_the_resolved_address():
    with pytest.raises(MediaAccessError, match=r"mixed\.example \(resolves to 10\.0\.0\.7\)"):
        check_url("http://mixed.example/x.png", resolve=fake_resolver(DNS))


@pytest.mark.parametrize("url", ["ftp://public.example/x.png", "file:///etc/passwd", "gopher://x/"])
def test_check_url_refuses_other_schemes(url):
    with pytest.raises(MediaAccessError, match="Only http:// and https://"):
        check_url(url, resolve=fake_resolver(DNS))


def test_check_url_reports_unresolvable_hosts():
    with pytest.raises(MediaError, match=r"Cannot resolve the host 'nowhere\.example'"):
        check_url("http://nowhere.example/x.png", resolve=fake_resolver(DNS))


@pytest.fixture
def tripwire() -> Iterator[tuple[int, list[object]]]:
    """A listener on 127.0.0.1 that records every connection; the test asserts it stays empty."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.05)
    contacts: list[object] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            try:
                connection, peer = listener.accept()
            except (TimeoutError, OSError):
                continue
            contacts.append(peer)
            connection.close()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    yield listener.getsockname()[1], contacts
    stop.set()
    thread.join(2)
    listener.close()


def test_private_url_is_refused_without_connecting(tripwire):
    port, contacts = tripwire
    with pytest.raises(MediaAccessError, match="non-public address"):
        load_image(f"http://127.0.0.1:{port}/x.png", MediaPolicy())
    with pytest.raises(MediaAccessError, match="non-public address"):
        load_image(f"http://localhost:{port}/x.png", MediaPolicy.strict())
    resolve = fake_resolver({"innocent.example": ["127.0.0.1"]})
    with pytest.raises(MediaAccessError, match=r"innocent\.example \(resolves to 127\.0\.0\.1\)"):
        fetch_bytes(f"http://innocent.example:{port}/x.png", MediaPolicy(), resolve=resolve)
    time.sleep(0.2)  # give a stray connection time to arrive
    assert contacts == []


def _png(size=(32, 24), color=(10, 200, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG")
    return buffer.getvalue()


class _Handler(BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, tuple[int, dict[str, str], bytes]]] = {}
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.hits.append(self.path)
        if self.path == "/slow":
            time.sleep(1.0)
        status, headers, body = self.routes.get(self.path, (404, {}, b"missing"))
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        if "Transfer-Encoding" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            if headers.get("Transfer-Encoding") == "chunked":
                for start in range(0, len(body), 4096):
                    piece = body[start : start + 4096]
                    self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")
            else:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading at its byte cap

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, type[_Handler]]]:
    handler = type("Handler", (_Handler,), {"routes": {}, "hits": []})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    httpd.shutdown()
    httpd.server_close()
    thread.join(2)


LOCAL = MediaPolicy(allow_private_urls=True, fetch_timeout=0.5)


def test_fetches_an_image_from_a_local_server_when_private_urls_are_allowed(server):
    base, handler = server
    handler.routes["/cat.png"] = (200, {"Content-Type": "image/png"}, _png((40, 30)))
    image = load_image(f"{base}/cat.png", LOCAL)
    assert image.size == (40, 30)
    assert image.getpixel((5, 5)) == (10, 200, 30)
    assert handler.hits == ["/cat.png"]


def test_follows_redirects_and_checks_every_hop(server):
    base, handler = server
    handler.routes["/old"] = (302, {"Location": "/new.png"}, b"")
    handler.routes["/new.png"] = (200, {}, _png())
    assert load_image(f"{base}/old", LOCAL).size == (32, 24)
    handler.routes["/escape"] = (301, {"Location": "file:///etc/passwd"}, b"")
    with pytest.raises(MediaAccessError, match="Only http:// and https://"):
        fetch_bytes(f"{base}/escape", LOCAL)
    handler.routes["/loop"] = (302, {"Location": "/loop"}, b"")
    handler.hits.clear()
    with pytest.raises(MediaError, match="gave up after 5 redirects"):
        fetch_bytes(f"{base}/loop", LOCAL)
    assert len(handler.hits) == 6


def test_byte_cap_with_and_without_content_length(server):
    base, handler = server
    handler.routes["/big"] = (200, {}, b"x" * 50_000)
    handler.routes["/chunked"] = (200, {"Transfer-Encoding": "chunked"}, b"x" * 50_000)
    with pytest.raises(MediaTooLargeError, match="50000 bytes, over the limit of 10000 bytes"):
        fetch_bytes(f"{base}/big", LOCAL, max_bytes=10_000)
    with pytest.raises(MediaTooLargeError, match="larger than the limit of 10000 bytes; stopped reading"):
        fetch_bytes(f"{base}/chunked", LOCAL, max_bytes=10_000)
    assert len(fetch_bytes(f"{base}/chunked", LOCAL, max_bytes=60_000)) == 50_000


def test_http_errors_and_timeouts_are_clear(server):
    base, handler = server
    with pytest.raises(MediaError, match="the server answered 404"):
        load_image(f"{base}/nothing.png", LOCAL)
    handler.routes["/slow"] = (200, {}, _png())
    with pytest.raises(MediaError, match=r"timed out after 0\.5 s"):
        load_image(f"{base}/slow", LOCAL)


def test_a_web_page_is_not_an_image(server):
    base, handler = server
    handler.routes["/page"] = (
        200,
        {"Content-Type": "text/html"},
        b"<!DOCTYPE html><html><body>hi</body></html>",
    )
    with pytest.raises(MediaError, match=r"Not an image: .*/page is an HTML page"):
        load_image(f"{base}/page", LOCAL)
