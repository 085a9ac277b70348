"""Fetching media over http(s) without becoming a way into private networks.

:func:`is_public_address` classifies one IP address; :func:`check_url` resolves a URL's host (through an injectable
resolver) and refuses it when any address is not public; :func:`fetch_bytes` downloads with a timeout and a byte cap,
connects only to the address it checked (no second DNS lookup to rebind), and follows redirects by hand, checking
every hop.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
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


def fetch_bytes(
    url: str,
    policy: MediaPolicy | None = None,
    max_bytes: int | None = None,
    resolve: Resolver = socket.getaddrinfo,
) -> bytes:
    """The body of ``url``: at most ``max_bytes`` (default ``policy.max_image_bytes``), within ``policy.fetch_timeout``.

    Every hop (the URL and each redirect target) passes :func:`check_url`; the connection goes to the address that
    was checked, with the original host name in the Host header and TLS server name.
    """
    import httpx

    policy = policy or MediaPolicy()
    limit = policy.max_image_bytes if max_bytes is None else max_bytes
    timeout = httpx.Timeout(policy.fetch_timeout)
    current = url
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        for _hop in range(policy.max_redirects + 1):
            addresses = check_url(current, policy.allow_private_urls, resolve)
            target, host_header = _pinned(current, addresses[0])
            hostname = urlsplit(current).hostname or ""
            try:
                with client.stream(
                    "GET",
                    target,
                    headers={"Host": host_header, "User-Agent": "glmv"},
                    extensions={"sni_hostname": hostname},
                ) as response:
                    if response.is_redirect:
                        location = response.headers.get("location", "")
                        if not location:
                            raise MediaError(
                                f"{current!r} answered {response.status_code} without a Location."
                            )
                        current = urljoin(current, location)
                        continue
                    if response.status_code >= 400:
                        raise MediaError(
                            f"Fetching {current!r} failed: the server answered {response.status_code} "
                            f"{response.reason_phrase}."
                        )
                    return _read_capped(response, current, limit)
            except httpx.TimeoutException as exc:
                raise MediaError(
                    f"Fetching {current!r} timed out after {policy.fetch_timeout:g} s. Try again or send the content."
                ) from exc
            except httpx.HTTPError as exc:
                raise MediaError(f"Fetching {current!r} failed: {exc}.") from exc
    raise MediaError(f"Fetching {url!r} gave up after {policy.max_redirects} redirects.")


def _read_capped(response: Any, url: str, limit: int) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise MediaTooLargeError(f"{url!r} is {int(declared)} bytes, over the limit of {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > limit:
            raise MediaTooLargeError(f"{url!r} is larger than the limit of {limit} bytes; stopped reading.")
        chunks.append(chunk)
    return b"".join(chunks)
