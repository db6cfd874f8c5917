"""Outgoing HTTP for webhooks, guarded against server-side request forgery.

A webhook URL is the one place a user makes the server open a connection of their choosing, so it must not reach
loopback, link-local (cloud metadata at 169.254.169.254), private, shared (100.64/10), multicast or reserved
addresses unless STEWARD_WEBHOOK_ALLOW_PRIVATE is on. The URL is checked when saved, and again at every delivery:
the host is resolved, every address it resolves to is checked, and the connection goes to a checked address (the
name is never resolved a second time, so a DNS answer that changes in between cannot slip through). Redirects are
not followed: a 3xx is a failed attempt like any other non-2xx.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

SCHEMES = {"http": 80, "https": 443}


class UnsafeURL(Exception):
    """The URL is not http(s), or its host is (or resolves to) an address webhooks may not reach."""


def address_problem(address: str) -> str | None:
    """Why webhooks may not reach this IP address ("loopback", "private", ...), or None when it is public."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone ("fe80::1%eth0")
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    checks = (
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("unspecified", ip.is_unspecified),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
    )
    for name, hit in checks:
        if hit:
            return name
    if not ip.is_global:  # shared address space (100.64/10) and anything else not globally routable
        return "non-public"
    return None


def split_url(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path-with-query) of an http(s) URL; UnsafeURL otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeURL(f"`url` is not a valid URL: {exc}.") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise UnsafeURL("`url` must be an http(s) URL.")
    if not parts.hostname:
        raise UnsafeURL("`url` has no host.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return scheme, parts.hostname, port or SCHEMES[scheme], path


def resolve_checked(host: str, port: int, *, allow_private: bool) -> list[str]:
    """Every address `host` resolves to, each checked; UnsafeURL when it does not resolve or any address is not
    public (one bad address refuses the whole name: which one a client would pick is not ours to guess)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, ValueError) as exc:
        raise UnsafeURL(f"`url`'s host {host!r} does not resolve: {exc}.") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise UnsafeURL(f"`url`'s host {host!r} does not resolve.")
    if not allow_private:
        for address in addresses:
            problem = address_problem(address)
            if problem is not None:
                raise UnsafeURL(
                    f"`url`'s host {host!r} resolves to {problem} address {address}; webhooks may only reach public "
                    "addresses (set STEWARD_WEBHOOK_ALLOW_PRIVATE=1 to allow it)."
                )
    return addresses


def check_url(url: str, *, allow_private: bool) -> list[str]:
    """The save-time check: an http(s) URL whose host resolves only to allowed addresses (returned)."""
    _, host, port, _ = split_url(url)
    return resolve_checked(host, port, allow_private=allow_private)


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float, allow_private: bool) -> int:
    """POST `body` to `url` through a connection to a checked address; the response's status code. Raises
    UnsafeURL (nothing was sent) or OSError (no address answered)."""
    scheme, host, port, path = split_url(url)
    addresses = resolve_checked(host, port, allow_private=allow_private)
    last_error: OSError | None = None
    for address in addresses:
        connection_class = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
        # Host header and TLS server name stay `host`; only the TCP connection is pinned to the checked address.
        connection: Any = connection_class(host, port, timeout=timeout)

        def pinned(target: tuple[str, int], timeout: Any = None, source: Any = None, _address: str = address) -> Any:
            return socket.create_connection((_address, target[1]), timeout, source)

        connection._create_connection = pinned
        try:
            connection.connect()  # only a failed connect moves on to the next address: nothing was sent yet
        except OSError as exc:
            connection.close()
            last_error = exc
            continue
        try:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            response.read(65536)
            return int(response.status)
        finally:
            connection.close()
    assert last_error is not None
    raise last_error
