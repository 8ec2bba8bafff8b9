"""Addresses in experiment files: host:port and http(s) URLs, checked without DNS.

"Valid" means "will run as written": an IP literal or a plausible host name (never
resolved here), a port in 1..65535 in ASCII digits, a URL with only characters an HTTP
client sends unchanged. The identity functions tell two spellings of one address apart.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BeforeValidator, WithJsonSchema

__all__ = ["HostPort", "HttpUrl", "host_port_identity", "url_identity"]


# --- host names and addresses (never resolved here) ----------------------------------------

# Underscores too: container and compose service names have them, and they resolve.
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOST_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?")
_PORT = re.compile(r"[0-9]{1,5}")  # ASCII only: str.isdigit() takes '٨٠' as well
_ZONE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
MAX_ADDRESS = 300  # characters of a host:port; a host name has at most 253


def _host_problem(host: str, *, zone: bool) -> str | None:
    """Why ``host`` (an IP literal, IPv6 without brackets, or a host name) is not a host that
    connects as written; None when it is. No DNS: a name is checked for its form only, and a
    name that looks like a number must be a dotted quad (``999.999.999.999`` and ``127.1``
    are refused rather than handed to the resolver's legacy forms)."""
    if not host:
        return "the host is missing"
    if ":" in host:
        address, percent, scope = host.partition("%")
        try:
            ipaddress.IPv6Address(address)
        except ValueError:
            return f"{host!r} is not an IPv6 address"
        if percent and not zone:
            return "an IPv6 zone (%...) cannot be given here"
        if percent and not _ZONE.fullmatch(scope):
            return f"{scope!r} is not a network interface name"
        return None
    if not host.isascii() or len(host) > 253 or not _HOST_NAME.fullmatch(host):
        return f"{host!r} is not an IP address or a host name"
    if host.rstrip(".").rpartition(".")[2].isdigit():
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            return f"{host!r} is not an IPv4 address (four numbers from 0 to 255)"
    return None


def _port_problem(port: str) -> str | None:
    if not _PORT.fullmatch(port):
        return f"{port!r} is not a port number"
    if not 0 < int(port) < 65536:
        return f"port {int(port)} is outside 1..65535"
    return None


def _split_host_port(value: str) -> tuple[str, str | None]:
    """``(host, port)`` of ``host:port`` or ``[v6]:port`` (port None when absent); a
    ValueError names what is malformed."""
    if value.startswith("["):
        host, bracket, rest = value[1:].partition("]")
        if not bracket:
            raise ValueError("']' is missing after the IPv6 address")
        if ":" not in host:
            raise ValueError(f"{host!r} in [ ] is not an IPv6 address")
        if rest and not rest.startswith(":"):
            raise ValueError("expected ':port' after ']'")
        return host, rest[1:] if rest else None
    host, colon, port = value.rpartition(":")
    if not colon:
        return value, None
    if ":" in host:
        raise ValueError("an IPv6 address needs brackets, e.g. [::1]:8080")
    return host, port


def _check_hostport(value: object) -> str:
    example = "write e.g. 127.0.0.1:8080, localhost:8080 or [::1]:8080"
    if not isinstance(value, str):
        raise ValueError(f"expected host:port, got {value!r}; {example}")
    if len(value) > MAX_ADDRESS:
        raise ValueError(f"the address is longer than {MAX_ADDRESS} characters; {example}")
    try:
        host, port = _split_host_port(value)
    except ValueError as e:
        raise ValueError(f"{value!r} is not host:port: {e}; {example}") from None
    problem = ("the port is missing" if port is None else _port_problem(port)) or (
        _host_problem(host, zone=True))
    if problem:
        raise ValueError(f"{value!r} is not host:port: {problem}; {example}")
    return value


HostPort = Annotated[str, BeforeValidator(_check_hostport),
                     WithJsonSchema({"type": "string", "examples": ["127.0.0.1:8080"]})]


def host_port_identity(value: str) -> tuple[str, int]:
    """What a valid :data:`HostPort` denotes, whatever its spelling: ``LOCALHOST:80`` and
    ``localhost:80``, ``[::1]:80`` and ``[0::1]:80`` are one address (names are not
    resolved, so ``localhost`` and ``127.0.0.1`` stay two)."""
    host, port = _split_host_port(value)
    try:
        host = str(ipaddress.ip_address(host))
    except ValueError:
        host = host.lower().rstrip(".")
    return host, int(port or 0)


# --- URLs ----------------------------------------------------------------------------------

# RFC 3986's unreserved and reserved characters and '%': what an HTTP client sends unchanged
# ('[' and ']' only around an IPv6 host; elsewhere they are re-encoded, see below).
_URL_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#@!$&'()*+,;=%\[\]]*")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_URL_EXAMPLE = "write e.g. http://127.0.0.1:8080/health"
MAX_URL = 8000


def _url_char_problem(value: str) -> str | None:
    m = _URL_CHARS.match(value)
    assert m is not None
    if m.end() == len(value):
        if _BAD_PERCENT.search(value):
            return "'%' must start an escape such as %20"
        return None
    c = value[m.end()]
    if c == " ":
        return "a URL cannot contain a space; write it as %20"
    if c.isspace() or ord(c) < 32 or ord(c) == 127:
        return f"a URL cannot contain the control character U+{ord(c):04X}"
    if not c.isascii():
        return (f"a URL cannot contain {c!r} as it is; percent-encode it (its UTF-8 bytes "
                "as %XX) and write host names in punycode")
    return f"a URL cannot contain {c!r} as it is; write it as %{ord(c):02X}"


def _check_http_url(value: object) -> str:
    """An http:// or https:// URL that an HTTP client sends as written: a host (an IP
    literal or a host name, never resolved here), a port 1..65535 when given, only the
    characters of RFC 3986, no '.'/'..' path segments (which clients remove)."""
    if not isinstance(value, str):
        raise ValueError(f"expected a URL, got {value!r}; {_URL_EXAMPLE}")
    if len(value) > MAX_URL:
        raise ValueError(f"the URL is longer than {MAX_URL} characters; {_URL_EXAMPLE}")
    problem = _url_char_problem(value)
    if problem is None:
        try:
            parts = urlsplit(value)
        except ValueError:  # urllib's words: "Invalid IPv6 URL"
            problem = "its [ ] do not enclose an IPv6 address"
        else:
            if parts.scheme.lower() not in ("http", "https") or not value[
                    len(parts.scheme):].startswith("://"):
                raise ValueError(f"{value!r} is not an http:// or https:// URL; "
                                 f"{_URL_EXAMPLE}")
            problem = _url_parts_problem(parts.netloc, parts.path,
                                         parts.query + parts.fragment)
    if problem:
        # the value may hold a secret (a token in the query): the loader redacts secrets
        raise ValueError(f"{value!r} is not a valid URL: {problem}; {_URL_EXAMPLE}")
    return value


def _url_parts_problem(netloc: str, path: str, rest: str) -> str | None:
    userinfo, at, hostport = netloc.rpartition("@")
    if at and ("@" in userinfo or "[" in userinfo or "]" in userinfo):
        return "the part before the host holds '@', '[' or ']'; percent-encode them"
    if "[" in path + rest or "]" in path + rest:
        return "'[' and ']' belong around an IPv6 host only; write %5B and %5D"
    segments = path.split("/")
    if "." in segments or ".." in segments:
        return "'.' and '..' path segments are removed by HTTP clients; write the path plainly"
    try:
        host, port = _split_host_port(hostport)
    except ValueError as e:
        return str(e)
    if port is not None:
        port_problem = "the port after ':' is empty" if port == "" else _port_problem(port)
        if port_problem:
            return port_problem
    return _host_problem(host, zone=False)


HttpUrl = Annotated[str, BeforeValidator(_check_http_url),
                    WithJsonSchema({"type": "string", "format": "uri",
                                    "examples": ["http://127.0.0.1:8080/health"]})]


def url_identity(value: str) -> tuple[str, str, int, str]:
    """What a valid :data:`HttpUrl` denotes for telling two servers apart: scheme, host,
    port (the default made explicit) and path without a trailing '/', case-folded where
    URLs are case-insensitive. ``HTTP://Example:80/`` and ``http://example`` are one."""
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    host, port = _split_host_port(parts.netloc.rpartition("@")[2])
    try:
        host = str(ipaddress.ip_address(host))
    except ValueError:
        host = host.lower().rstrip(".")
    number = int(port) if port else (443 if scheme == "https" else 80)
    return scheme, host, number, parts.path.rstrip("/")
