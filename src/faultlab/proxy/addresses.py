"""``host:port`` addresses: parsing, resolving, binding and dialling."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass

__all__ = ["AddressError", "HostPort", "bind_listener", "dial", "resolve_listen"]

LISTEN_BACKLOG = 1024


class AddressError(ValueError):
    """A malformed ``host:port`` (a client error, unlike a failure to bind or resolve)."""


@dataclass(frozen=True, slots=True)
class HostPort:
    host: str  # without IPv6 brackets; "" means every interface
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @classmethod
    def parse(cls, text: str) -> HostPort:
        """Parse ``host:port``, ``[v6]:port`` or ``:port`` (every interface)."""
        if text.startswith("["):
            host, bracket, rest = text[1:].partition("]")
            if not bracket:
                raise AddressError(f"address {text}: missing ']' in address")
            if not rest.startswith(":"):
                raise AddressError(f"address {text}: missing port in address")
            port_text = rest[1:]
        else:
            host, colon, port_text = text.rpartition(":")
            if not colon:
                raise AddressError(f"address {text}: missing port in address")
            if ":" in host:
                raise AddressError(f"address {text}: too many colons in address")
        if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
            raise AddressError(f"address {text}: invalid port {port_text!r}")
        return cls(host, int(port_text))

    @classmethod
    def from_sockname(cls, sockname: tuple[object, ...]) -> HostPort:
        host, port = sockname[0], sockname[1]
        assert isinstance(host, str) and isinstance(port, int)
        return cls(host, port)


async def _resolve(address: HostPort, *, passive: bool) -> list[tuple[int, tuple[object, ...]]]:
    """(family, sockaddr) pairs; IP literals skip the resolver (which runs in a thread)."""
    try:
        ip = ipaddress.ip_address(address.host)
    except ValueError:
        pass
    else:
        family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
        return [(family, (address.host, address.port))]
    if not address.host and passive:
        return [(socket.AF_INET, ("0.0.0.0", address.port))]
    infos = await asyncio.get_running_loop().getaddrinfo(
        address.host or None, address.port, type=socket.SOCK_STREAM,
        flags=socket.AI_PASSIVE if passive else 0)
    return [(family, sockaddr) for family, _, _, _, sockaddr in infos]


async def resolve_listen(address: HostPort) -> HostPort:
    """The address :func:`bind_listener` would bind (``localhost:80`` -> ``127.0.0.1:80``)."""
    _, sockaddr = (await _resolve(address, passive=True))[0]
    return HostPort.from_sockname(sockaddr)


async def bind_listener(address: HostPort) -> socket.socket:
    """A non-blocking listening socket on the first address ``address`` resolves to.

    Raises OSError (resolution or bind failure), which the API reports as a 500.
    """
    family, sockaddr = (await _resolve(address, passive=True))[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        # So that re-enabling a proxy can bind its port again while old connections linger
        # in TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(sockaddr)
        sock.listen(LISTEN_BACKLOG)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


async def dial(address: HostPort) -> socket.socket:
    """A connected non-blocking socket; tries each resolved address in turn.

    The caller bounds the time (resolution included) with a timeout.
    """
    loop = asyncio.get_running_loop()
    last_error: OSError = OSError(f"{address} did not resolve to any address")
    for family, sockaddr in await _resolve(address, passive=False):
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            await loop.sock_connect(sock, sockaddr)
        except OSError as exc:
            sock.close()
            last_error = exc
            continue
        except BaseException:
            sock.close()
            raise
        return sock
    raise last_error
