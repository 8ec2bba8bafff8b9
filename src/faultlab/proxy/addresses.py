"""``host:port`` addresses: parsing, resolving, binding and dialling.

Syntax (a malformed address is an :class:`AddressError`, which the API answers with 400):

* ``host:port``, ``[v6]:port`` or ``:port`` (every interface); the port is one to five ASCII
  digits (``١٢`` is not a port), at most 65535;
* a host is an IPv4 dotted quad, a bracketed IPv6 literal, optionally with a zone
  (``[fe80::1%eth0]``), or a host name (ASCII letters, digits, hyphens and underscores in
  labels of at most 63, at most 253 in all, not all-numeric at the end, so ``127.1`` and
  ``256.0.0.1`` are refused rather than handed to the resolver's legacy forms).

Failures to resolve or bind are :class:`ListenError`, worded as Go's ``net`` package words
them (``listen tcp 127.0.0.1:3310: bind: address already in use``), because Toxiproxy
passes those texts through its API and clients compare them. Listening prefers IPv4 when a
name resolves to both families, as Go does, so ``localhost:3310`` binds ``127.0.0.1:3310``
whatever the order of ``/etc/hosts``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from dataclasses import dataclass

__all__ = [
    "HOST_NAME_PATTERN",
    "MAX_ADDRESS",
    "AddressError",
    "HostPort",
    "ListenError",
    "bind_listener",
    "dial",
    "resolve_listen",
]

LISTEN_BACKLOG = 1024
MAX_ADDRESS = 300  # characters of a whole ``host:port``; a host name has at most 253
# Underscores too: container and compose service names have them, and they resolve.
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
HOST_NAME_PATTERN = rf"{_LABEL}(?:\.{_LABEL})*\.?"
_HOST_NAME = re.compile(HOST_NAME_PATTERN)
_PORT = re.compile(r"[0-9]{1,5}")
_ZONE = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class AddressError(ValueError):
    """A malformed ``host:port`` (a client error, unlike a failure to bind or resolve)."""


class ListenError(OSError):
    """An address that could not be resolved or bound; ``str()`` is Go's wording.

    ``client_error`` is true when the request itself is at fault (a host name that does
    not exist); the API answers 400 then, and 500 otherwise (address in use, not local).
    """

    def __init__(self, message: str, *, client_error: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.client_error = client_error

    def __str__(self) -> str:
        return self.message


def _check_host(host: str, text: str) -> None:
    if not host:
        return
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise AddressError(f"address {text}: invalid IPv6 address {host!r}") from None
        zone = host.partition("%")[2]
        if "%" in host and not _ZONE.fullmatch(zone):
            raise AddressError(f"address {text}: invalid IPv6 zone {zone!r}")
        return
    if not host.isascii() or len(host) > 253 or not _HOST_NAME.fullmatch(host):
        raise AddressError(f"address {text}: invalid host {host!r}")
    last = host.rstrip(".").rpartition(".")[2]
    if last.isdigit():
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise AddressError(f"address {text}: invalid IPv4 address {host!r}") from None


@dataclass(frozen=True, slots=True)
class HostPort:
    host: str  # without IPv6 brackets, with a zone if any; "" means every interface
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @classmethod
    def parse(cls, text: str) -> HostPort:
        """Parse ``host:port``, ``[v6]:port`` or ``:port`` (every interface)."""
        if len(text) > MAX_ADDRESS:
            raise AddressError(f"address {text[:40]}...: longer than {MAX_ADDRESS} characters")
        if text.startswith("["):
            host, bracket, rest = text[1:].partition("]")
            if not bracket:
                raise AddressError(f"address {text}: missing ']' in address")
            if not rest.startswith(":"):
                raise AddressError(f"address {text}: missing port in address")
            if ":" not in host:
                raise AddressError(f"address {text}: invalid IPv6 address {host!r}")
            port_text = rest[1:]
        else:
            host, colon, port_text = text.rpartition(":")
            if not colon:
                raise AddressError(f"address {text}: missing port in address")
            if ":" in host:
                raise AddressError(f"address {text}: too many colons in address")
        # isdigit() alone would take Arabic-Indic and other Unicode digits.
        if not _PORT.fullmatch(port_text) or int(port_text) > 65535:
            raise AddressError(f"address {text}: invalid port {port_text!r}")
        _check_host(host, text)
        return cls(host, int(port_text))

    @classmethod
    def from_sockname(cls, sockname: tuple[object, ...]) -> HostPort:
        """From ``getsockname()``: an IPv6 scope id becomes the zone again (``%eth0``)."""
        host, port = sockname[0], sockname[1]
        assert isinstance(host, str) and isinstance(port, int)
        scope = sockname[3] if len(sockname) > 3 else 0
        if isinstance(scope, int) and scope and "%" not in host:
            try:
                zone = socket.if_indextoname(scope)
            except OSError:
                zone = str(scope)
            host = f"{host}%{zone}"
        return cls(host, port)


Resolved = tuple[int, tuple[object, ...]]  # (family, sockaddr)


def _literal(address: HostPort) -> Resolved | None:
    """The sockaddr of an IP literal, without the resolver; None for a host name."""
    try:
        ip = ipaddress.ip_address(address.host)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv4Address):
        return socket.AF_INET, (str(ip), address.port)
    scope = 0
    if ip.scope_id:
        zone = ip.scope_id
        try:
            if zone.isdigit():  # an interface index: it must name one
                scope = int(zone)
                socket.if_indextoname(scope)
            else:
                scope = socket.if_nametoindex(zone)
        except (OSError, OverflowError):
            raise ListenError(f"no network interface {zone!r} for {address}",
                              client_error=True) from None
    bare = str(ipaddress.IPv6Address(address.host.partition("%")[0]))
    return socket.AF_INET6, (bare, address.port, 0, scope)


def _lookup_error(host: str, exc: socket.gaierror) -> ListenError:
    # A name that does not exist is the request's fault; a failing resolver is not.
    missing = exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME))
    return ListenError(f"lookup {host}: {'no such host' if missing else exc.strerror}",
                       client_error=missing)


async def _resolve(address: HostPort, *, passive: bool) -> list[Resolved]:
    """(family, sockaddr) pairs; IP literals skip the resolver (which runs in a thread).

    For listening, IPv4 addresses come first, as in Go's ``net.Listen``.
    """
    literal = _literal(address)
    if literal is not None:
        return [literal]
    if not address.host and passive:
        return [(socket.AF_INET, ("0.0.0.0", address.port))]
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            address.host or None, address.port, type=socket.SOCK_STREAM,
            flags=socket.AI_PASSIVE if passive else 0)
    except socket.gaierror as exc:
        raise _lookup_error(address.host, exc) from None
    found: list[Resolved] = [(family, sockaddr) for family, _, _, _, sockaddr in infos
             if family in (socket.AF_INET, socket.AF_INET6)]
    if not found:
        raise ListenError(f"lookup {address.host}: no such host", client_error=True)
    if passive:
        found.sort(key=lambda pair: pair[0] != socket.AF_INET)  # stable: IPv4 first
    return found


async def resolve_listen(address: HostPort) -> HostPort:
    """The address :func:`bind_listener` would bind (``localhost:80`` -> ``127.0.0.1:80``).

    Raises :class:`ListenError` (``listen tcp: lookup ...``) if the host does not resolve.
    """
    try:
        _, sockaddr = (await _resolve(address, passive=True))[0]
    except ListenError as exc:
        raise ListenError(f"listen tcp: {exc}", client_error=exc.client_error) from None
    return HostPort.from_sockname(sockaddr)


def _os_error_text(exc: OSError) -> str:
    """``Address already in use`` -> ``address already in use``, as Go's syscall errors."""
    text = exc.strerror or str(exc)
    return text[:1].lower() + text[1:]


async def bind_listener(address: HostPort) -> socket.socket:
    """A non-blocking listening socket on the first address ``address`` resolves to.

    Raises :class:`ListenError` worded as Go's ``net.Listen`` (the API reports it as 500,
    or 400 for a host that does not exist).
    """
    resolved = await resolve_listen(address)
    family, sockaddr = (await _resolve(resolved, passive=True))[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    step = "bind"
    try:
        # So that re-enabling a proxy can bind its port again while old connections linger
        # in TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(sockaddr)
        step = "listen"
        sock.listen(LISTEN_BACKLOG)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise ListenError(f"listen tcp {resolved}: {step}: {_os_error_text(exc)}") from None
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
