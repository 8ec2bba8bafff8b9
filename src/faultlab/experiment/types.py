"""Value types of experiment files: quantities with units, names, addresses, commands, text.

Each type parses what a person writes (``250ms``, ``200/s``, ``99.5%``, ``127.0.0.1:8080``)
at validation time, so the rest of faultlab sees seconds, per-second rates and bytes per
second as floats; and each writes itself back **with its unit** when a model is dumped to
JSON, exactly enough that dumping and loading again gives an equal model (the journaled
experiment reloads to the experiment that ran).

"Valid" means "will run as written": a value the file format accepts is one the code that
uses it (the HTTP client, ``subprocess``, the resolver) takes as it is, without changing it
and without a ``ValueError`` at run time. So addresses are checked without DNS (an IP
literal or a plausible host name), a URL has only characters an HTTP client sends
unchanged, and text that reaches the operating system or the wire (paths, environment
entries, header fields, command arguments) cannot hold what would make it fail there (NUL,
``=`` in an environment key, a line break in a header). Messages never repeat such values
whole: they may come from ``${env:...}``, which is a secret.

A type may carry :class:`Advice`: a check of the value as written that yields a warning
(``success_ratio: 0.99%`` is valid but probably meant 99%). The loader collects them.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
import signal as _signal
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
)

from faultlab.units import format_duration, parse_byte_rate, parse_duration, parse_rate

__all__ = ["MAX_DURATION", "Advice", "ApiToken", "ByteRate", "Command",
           "Duration", "EnvKey", "EnvValue", "FilePath", "HeaderName", "HeaderValue",
           "HostPort", "HttpUrl", "Name", "ProcessName", "Rate", "Ratio", "SignalName",
           "Strict", "dump_duration", "host_port_identity", "url_identity"]


class Strict(BaseModel):
    """Every model of the file format: frozen, unknown keys refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class Advice:
    """Metadata of a value type: ``check(value as written)`` returns a warning as
    ``(message, hint)``, or None. Only the loader reads it (see ``loader.advice``)."""

    check: Callable[[object], tuple[str, str] | None]


# --- quantities with units -----------------------------------------------------------------

def _exact(value: float) -> str:
    """A decimal spelling of ``value`` that ``float()`` reads back exactly (no exponent)."""
    return format(Decimal(repr(float(value))), "f").removesuffix(".0")


def dump_duration(seconds: float) -> str:
    """The readable form when it reads back exactly, else exact seconds."""
    nice = format_duration(seconds)
    try:
        if parse_duration(nice) == seconds:
            return nice
    except ValueError:
        pass
    return f"{_exact(seconds)}s"


#: the longest duration a file may give; past it timers, leases and dates overflow somewhere
MAX_DURATION = 366 * 24 * 3600.0


def _duration(value: object) -> float:
    seconds = parse_duration(value)
    if seconds > MAX_DURATION:
        raise ValueError(f"duration {value!r} is longer than a year; "
                         "an experiment's times are at most 8784h")
    return seconds


_DURATION_SCHEMA = {"type": "string", "pattern": r"^(\d+(\.\d+)?(us|µs|ms|s|m|h))+$",
                    "examples": ["250ms", "30s"]}
Duration = Annotated[
    float, BeforeValidator(_duration),
    PlainSerializer(dump_duration, return_type=str, when_used="json"),
    WithJsonSchema(_DURATION_SCHEMA)]
Rate = Annotated[
    float, BeforeValidator(parse_rate),
    PlainSerializer(lambda v: f"{_exact(v)}/s", return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": r"^\d+(\.\d+)?/(s|m|h)$", "examples": ["200/s"]}),
]
ByteRate = Annotated[
    float, BeforeValidator(parse_byte_rate),
    PlainSerializer(lambda v: f"{_exact(v)}B/s", return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "examples": ["100KB/s", "1MiB/s"]}),
]


def _parse_ratio(value: object) -> float:
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            number = float(value.strip()[:-1]) / 100
        except ValueError:
            raise ValueError(f"{value!r} is not a percentage; write e.g. 99.5%") from None
    elif isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    else:
        raise ValueError(f"{value!r} is not a ratio; write 99.5% or 0.995")
    if not 0 < number <= 1:
        raise ValueError(f"ratio {value!r} must be above 0 and at most 1; "
                         "write e.g. 99.9% or 0.999")
    return number


def _ratio_advice(value: object) -> tuple[str, str] | None:
    """``0.99%`` is a valid ratio (0.0099), and almost always meant as 99%."""
    if not (isinstance(value, str) and value.strip().endswith("%")):
        return None
    try:
        percent = Decimal(value.strip()[:-1])
    except ArithmeticError:
        return None
    if not 0 < percent < 1:
        return None
    meant = format(percent * 100, "f")
    meant = meant.rstrip("0").rstrip(".") if "." in meant else meant
    return (f"{value.strip()} is below 1%", f"did you mean {meant}%? "
            f"(or write {format(percent / 100, 'f')} if {value.strip()} is meant)")


Ratio = Annotated[
    float, BeforeValidator(_parse_ratio), Advice(_ratio_advice),
    WithJsonSchema({"oneOf": [{"type": "string", "pattern": r"^\d+(\.\d+)?%$"},
                              {"type": "number", "exclusiveMinimum": 0, "maximum": 1}]}),
]

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


# --- text that reaches the operating system or the wire ------------------------------------

def _text_check(what: str, *, empty: bool = False, forbid: str = "\x00",
                hint: str = "remove it", extra: Callable[[str], str | None] | None = None
                ) -> AfterValidator:
    """A check of a string: it is not empty (unless ``empty``) and holds none of
    ``forbid``. The message names the character, never the value (it may be a secret)."""
    table = {ord(c): None for c in forbid}

    def check(value: str) -> str:
        if not value and not empty:
            raise ValueError(f"{what} is empty")
        if value.translate(table) != value:
            bad = next(c for c in value if c in forbid)
            raise ValueError(f"{what} cannot contain {_char_name(bad)}; {hint}")
        if extra is not None and (problem := extra(value)):
            raise ValueError(problem)
        return value

    return AfterValidator(check)


def _char_name(c: str) -> str:
    names = {"\x00": "a NUL character", "\r": "a carriage return (CR)",
             "\n": "a line feed (LF)", "=": "'='", "\t": "a tab", "/": "'/'"}
    return names.get(c, f"the control character U+{ord(c):04X}")


_C0 = "".join(chr(i) for i in range(32)) + "\x7f"

#: a path given to the OS (a working directory, a pid file)
FilePath = Annotated[str, _text_check("a path")]
#: the name of an environment variable: what ``execve`` can pass
EnvKey = Annotated[str, _text_check("an environment variable's name", forbid="\x00=",
                                    hint="a name is letters, digits and _, e.g. LOG_LEVEL")]
EnvValue = Annotated[str, _text_check("an environment variable's value", empty=True)]
#: a process's command name (as in ``/proc/PID/comm`` or the base name of its program)
ProcessName = Annotated[str, _text_check("a process name", forbid="\x00/",
                                         hint="give the command name (a path: use pidfile)")]

# RFC 7230's token: the characters of a header field's name
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def _header_name_problem(value: str) -> str | None:
    if _TOKEN.fullmatch(value):
        return None
    bad = next((c for c in value if not _TOKEN.fullmatch(c)), "")
    return (f"{value[:60]!r} is not a header name: {bad!r} is not allowed in one; "
            "use letters, digits and !#$%&'*+-.^_`|~ (e.g. X-Request-Id)")


HeaderName = Annotated[str, _text_check("a header name", extra=_header_name_problem)]
#: a header field's value: one line (a CR or LF would inject headers; HTAB is allowed)
HeaderValue = Annotated[str, _text_check("a header value", empty=True,
                                         forbid=_C0.replace("\t", ""),
                                         hint="a header is one line of text; remove it")]


def _token_problem(value: str) -> str | None:
    if all("!" <= c <= "~" for c in value):
        return None
    return "an API token is visible ASCII characters, without spaces"


#: a bearer token sent to a proxy server's API
ApiToken = Annotated[str, _text_check("an API token", extra=_token_problem)]

Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,62}$")]


def _signal_name(value: object) -> str:
    name = str(value).upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    if name not in _signal.Signals.__members__:
        raise ValueError(f"{value!r} is not a signal name; write e.g. SIGKILL, SIGTERM")
    return name


SignalName = Annotated[str, BeforeValidator(_signal_name)]


def _command(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        try:
            parts = shlex.split(value)
        except ValueError as e:
            raise ValueError(f"cannot split the command: {e}; quote it as a list, "
                             "e.g. [sh, -c, 'echo hi']") from None
    elif isinstance(value, list | tuple):
        for v in value:
            # YAML reads `true` as a bool and `0.50` as 0.5: str() would not give the text
            if isinstance(v, bool | float):
                raise ValueError(f"a command's arguments are text, and YAML read {v!r} as "
                                 f"{'true/false' if isinstance(v, bool) else 'a number'}; "
                                 "put that argument in quotes")
            if not isinstance(v, str | int):
                raise ValueError("a command is a string or a list of strings")
        parts = [str(v) for v in value]
    else:
        raise ValueError("a command is a string or a list of strings")
    if not parts:
        raise ValueError("the command is empty")
    if not parts[0]:
        raise ValueError("the command's program is an empty string")
    if any("\x00" in p for p in parts):
        raise ValueError("a command cannot contain a NUL character; remove it")
    return tuple(parts)


Command = Annotated[
    tuple[str, ...], BeforeValidator(_command),
    WithJsonSchema({"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}),
]
