"""Fetching media over http(s) without becoming a way into private networks.

:func:`is_public_address` classifies one IP address; :func:`check_url` resolves a URL's host (through an injectable
resolver) and refuses it when any address is not public; :func:`fetch_bytes` downloads with a byte cap, connects only
to the address it checked (no second DNS lookup to rebind), and follows redirects by hand, checking every hop.

``fetch_timeout`` is a deadline for the whole fetch, redirects included: every connect, TLS handshake, read and write
is given only the time left (a server dripping one byte at a time cannot stretch it), through a small
``httpcore`` network backend that shortens each socket operation's timeout.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

from glmv.errors import MediaAccessError, MediaError, MediaTooLargeError
from glmv.media.policy import MediaPolicy

__all__ = ["check_url", "fetch_bytes", "is_public_address"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[..., list[tuple[Any, ...]]]

_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def is_public_address(ip: str | IPAddress) -> bool:
    """Whether ``ip`` is a globally routable unicast address.

    False for loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7), link-local (169.254/16, fe80::/10),
    carrier-grade NAT (100.64/10), multicast, reserved, unspecified and documentation ranges, and for IPv6 forms
    that embed such an IPv4 address (IPv4-mapped ``::ffff:a.b.c.d``, 6to4, NAT64). Text that is not an IP address
    is not public either.
    """
    if not isinstance(ip, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        try:
            ip = ipaddress.ip_address(str(ip).strip("[]"))
        except ValueError:
            return False
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public_address(embedded)
        if ip.scope_id:
            return False
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return False
    return ip.is_global and not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def _split(url: str) -> tuple[str, str, int]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise MediaError(f"Malformed URL {url!r}: {exc}.") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise MediaAccessError(
            f"Only http:// and https:// URLs can be fetched, not {scheme or 'no scheme'}: {url!r}."
        )
    if not parts.hostname:
        raise MediaError(f"The URL {url!r} has no host name.")
    return scheme, parts.hostname, port or (443 if scheme == "https" else 80)


def check_url(url: str, allow_private: bool = False, resolve: Resolver = socket.getaddrinfo) -> list[str]:
    """The addresses ``url``'s host resolves to, if it may be fetched.

    Raises :class:`MediaAccessError` for schemes other than http/https, and, unless ``allow_private``, when ANY
    resolved address is not public (:func:`is_public_address`); :class:`MediaError` when the host does not resolve.
    ``resolve`` has the signature of :func:`socket.getaddrinfo`; tests pass a fake one.
    """
    _scheme, host, port = _split(url)
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            infos = resolve(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise MediaError(f"Cannot resolve the host {host!r} of {url!r}: {exc}.") from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if not addresses:
            raise MediaError(f"The host {host!r} of {url!r} resolves to no address.")
    if not allow_private:
        blocked = [address for address in addresses if not is_public_address(address)]
        if blocked:
            where = "" if literal is not None else f" (resolves to {', '.join(blocked)})"
            raise MediaAccessError(
                f"Refusing to fetch {url!r}: {host}{where} is a private, loopback or otherwise non-public address. "
                "Only public URLs are allowed; send the content as a data: URI instead."
            )
    return addresses


def _pinned(url: str, address: str) -> tuple[str, str]:
    """``url`` rewritten to connect to ``address``, and the Host header to send."""
    parts = urlsplit(url)
    host = f"[{address}]" if ":" in address else address
    netloc = f"{host}:{parts.port}" if parts.port else host
    host_header = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")), host_header


class _Deadline:
    """The instant a fetch must be over; :meth:`left` is the time remaining for one socket operation."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def left(self, timeout: float | None = None) -> float:
        import httpcore

        remaining = self.end - time.monotonic()
        if remaining <= 0:
            raise httpcore.ReadTimeout(f"the fetch deadline of {self.seconds:g} s passed")
        return remaining if timeout is None else min(timeout, remaining)


def _deadline_backend(deadline: _Deadline) -> Any:
    """An ``httpcore`` network backend whose every socket operation ends by ``deadline``."""
    import httpcore

    class DeadlineStream(httpcore.NetworkStream):
        def __init__(self, inner: Any) -> None:
            self._inner = inner

        def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
            return self._inner.read(max_bytes, deadline.left(timeout))

        def write(self, buffer: bytes, timeout: float | None = None) -> None:
            self._inner.write(buffer, deadline.left(timeout))

        def close(self) -> None:
            self._inner.close()

        def start_tls(
            self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
        ) -> Any:
            return DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, deadline.left(timeout)))

        def get_extra_info(self, info: str) -> Any:
            return self._inner.get_extra_info(info)

    class DeadlineBackend(httpcore.NetworkBackend):
        def __init__(self) -> None:
            self._inner = httpcore.SyncBackend()

        def connect_tcp(
            self,
            host: str,
            port: int,
            timeout: float | None = None,
            local_address: str | None = None,
            socket_options: Iterable[Any] | None = None,
        ) -> Any:
            stream = self._inner.connect_tcp(
                host, port, deadline.left(timeout), local_address, socket_options
            )
            return DeadlineStream(stream)

        def connect_unix_socket(
            self, path: str, timeout: float | None = None, socket_options: Any = None
        ) -> Any:
            raise httpcore.UnsupportedProtocol("glmv fetches media over TCP only")

        def sleep(self, seconds: float) -> None:
            time.sleep(min(seconds, deadline.left()))

    return DeadlineBackend()


def _header(response: Any, name: bytes) -> str:
    for key, value in response.headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return ""


def fetch_bytes(
    url: str,
    policy: MediaPolicy | None = None,
    max_bytes: int | None = None,
    resolve: Resolver = socket.getaddrinfo,
) -> bytes:
    """The body of ``url``: at most ``max_bytes`` (default ``policy.max_image_bytes``), all within
    ``policy.fetch_timeout`` seconds (redirects included).

    Every hop (the URL and each redirect target) passes :func:`check_url`; the connection goes to the address that
    was checked, with the original host name in the Host header and TLS server name.
    """
    import httpcore
    import httpx

    policy = policy or MediaPolicy()
    limit = policy.max_image_bytes if max_bytes is None else max_bytes
    deadline = _Deadline(policy.fetch_timeout)
    current = url
    with httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(), network_backend=_deadline_backend(deadline)
    ) as pool:
        for _hop in range(policy.max_redirects + 1):
            addresses = check_url(current, policy.allow_private_urls, resolve)
            target, host_header = _pinned(current, addresses[0])
            hostname = urlsplit(current).hostname or ""
            try:
                with pool.stream(
                    "GET",
                    target,
                    headers={"Host": host_header, "User-Agent": "glmv", "Accept-Encoding": "identity"},
                    extensions={"sni_hostname": hostname},
                ) as response:
                    if response.status in (301, 302, 303, 307, 308):
                        location = _header(response, b"location")
                        if not location:
                            raise MediaError(f"{current!r} answered {response.status} without a Location.")
                        current = urljoin(current, location)
                        continue
                    if response.status >= 400:
                        reason = response.extensions.get("reason_phrase", b"").decode("latin-1", "replace")
                        raise MediaError(
                            f"Fetching {current!r} failed: the server answered {response.status} {reason}."
                        )
                    return _read_capped(response, current, limit)
            except httpcore.TimeoutException as exc:
                raise MediaError(
                    f"Fetching {current!r} timed out after {policy.fetch_timeout:g} s (fetch_timeout bounds the whole "
                    "fetch, redirects included). Try again or send the content."
                ) from exc
            except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol) as exc:
                raise MediaError(f"Fetching {current!r} failed: {exc or type(exc).__name__}.") from exc
    raise MediaError(f"Fetching {url!r} gave up after {policy.max_redirects} redirects.")


def _read_capped(response: Any, url: str, limit: int) -> bytes:
    declared = _header(response, b"content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise MediaTooLargeError(f"{url!r} is {int(declared)} bytes, over the limit of {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_stream():
        size += len(chunk)
        if size > limit:
            raise MediaTooLargeError(f"{url!r} is larger than the limit of {limit} bytes; stopped reading.")
        chunks.append(chunk)
    return b"".join(chunks)
