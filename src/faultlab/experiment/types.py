"""Value types of experiment files: quantities with units, names, addresses, commands.

Each type parses what a person writes (``250ms``, ``200/s``, ``99.5%``, ``127.0.0.1:8080``)
at validation time, so the rest of faultlab sees seconds, per-second rates and bytes per
second as floats; and each writes itself back **with its unit** when a model is dumped to
JSON, exactly enough that dumping and loading again gives an equal model (the journaled
experiment reloads to the experiment that ran).
"""

from __future__ import annotations

import re
import shlex
import signal as _signal
from decimal import Decimal
from typing import Annotated

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
)

from faultlab.units import format_duration, parse_byte_rate, parse_duration, parse_rate

__all__ = ["ByteRate", "Command", "Duration", "HostPort", "HttpUrl", "Name", "Rate", "Ratio",
           "SignalName", "Strict", "dump_duration"]


class Strict(BaseModel):
    """Every model of the file format: frozen, unknown keys refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


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


_DURATION_SCHEMA = {"type": "string", "pattern": r"^(\d+(\.\d+)?(us|µs|ms|s|m|h))+$",
                    "examples": ["250ms", "30s"]}
Duration = Annotated[
    float, BeforeValidator(parse_duration),
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


Ratio = Annotated[
    float, BeforeValidator(_parse_ratio),
    WithJsonSchema({"oneOf": [{"type": "string", "pattern": r"^\d+(\.\d+)?%$"},
                              {"type": "number", "exclusiveMinimum": 0, "maximum": 1}]}),
]

_HOSTPORT = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.\-]+):(\d{1,5})$")


def _check_hostport(value: str) -> str:
    m = _HOSTPORT.match(value)
    if not m or not 0 < int(m.group(2)) < 65536:
        raise ValueError(f"{value!r} is not host:port; write e.g. 127.0.0.1:8080")
    return value


HostPort = Annotated[str, BeforeValidator(lambda v: _check_hostport(str(v)))]
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
    elif isinstance(value, list | tuple) and all(isinstance(v, str | int | float) for v in value):
        parts = [str(v) for v in value]
    else:
        raise ValueError("a command is a string or a list of strings")
    if not parts:
        raise ValueError("the command is empty")
    return tuple(parts)


Command = Annotated[
    tuple[str, ...], BeforeValidator(_command),
    WithJsonSchema({"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}),
]


def _check_http_url(value: object) -> str:
    """An http:// or https:// URL with a host and, if given, a valid port."""
    from urllib.parse import urlsplit

    if not isinstance(value, str):
        raise ValueError("expected a URL such as http://127.0.0.1:8080/")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as e:
        raise ValueError(f"{value!r} is not a valid URL ({e}); "
                         "write e.g. http://127.0.0.1:8080/") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http:// or https:// URL; "
                         "write e.g. http://127.0.0.1:8080/")
    if port == 0 or any(c.isspace() or ord(c) < 32 for c in value):
        raise ValueError(f"{value!r} is not a valid URL; write e.g. http://127.0.0.1:8080/")
    return value


HttpUrl = Annotated[str, BeforeValidator(_check_http_url),
                    WithJsonSchema({"type": "string", "format": "uri",
                                    "examples": ["http://127.0.0.1:8080/health"]})]
