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

import shlex
import signal as _signal
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any

import msgspec
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
)

from faultlab.experiment.addresses import HostPort, HttpUrl, host_port_identity, url_identity
from faultlab.experiment.text import (
    ApiToken,
    EnvKey,
    EnvValue,
    FilePath,
    HeaderName,
    HeaderValue,
    ProcessName,
)
from faultlab.units import format_duration, parse_byte_rate, parse_duration, parse_rate

__all__ = ["MAX_DURATION", "Advice", "ApiToken", "ByteRate", "Command",
           "Duration", "EnvKey", "EnvValue", "FilePath", "HeaderName", "HeaderValue",
           "HostPort", "HttpUrl", "Name", "ProcessName", "Rate", "Ratio", "SignalName",
           "SignedDuration",
           "Strict", "dump_duration", "empty_list", "host_port_identity", "url_identity"]


class Strict(BaseModel):
    """Every model of the file format: frozen, unknown keys refused. Built on first use
    (``defer_build``): importing the models costs no schema, and a command builds only the
    schemas of what it validates."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


def empty_list() -> list[Any]:
    """The ``default_factory`` of list fields, in place of ``list``: pydantic reads a
    factory's signature when it builds a schema, and ``inspect.signature(list)`` parses
    list's text signature with :mod:`tokenize`, whose first use compiles its token regex
    (~10 ms of every ``faultlab validate``); a Python function's signature costs nothing."""
    return []


class Advice(msgspec.Struct, frozen=True):
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
def _signed_duration(value: object) -> float:
    """``-30s``, ``+2m``, ``1.5s``: a duration with an optional sign (clock offsets)."""
    if isinstance(value, str) and value.strip()[:1] in ("+", "-"):
        text = value.strip()
        try:
            magnitude = _duration(text[1:])
        except ValueError as e:  # say it of the value as written, sign included
            raise ValueError(str(e).replace(repr(text[1:]), repr(text), 1)) from None
        return -magnitude if text[0] == "-" else magnitude
    return _duration(value)


def dump_signed_duration(seconds: float) -> str:
    return ("-" if seconds < 0 else "+") + dump_duration(abs(seconds))


SignedDuration = Annotated[
    float, BeforeValidator(_signed_duration),
    PlainSerializer(dump_signed_duration, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": r"^[+-]?(\d+(\.\d+)?(us|µs|ms|s|m|h))+$",
                    "examples": ["-30s", "+2m"]})]
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

Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,62}$")]


def whole(value: float, unit: float, unit_name: str, shown: str, suffix: str) -> int:
    """``value`` (seconds or bytes) as a whole number of ``unit``; a ValueError (a located
    error in the file, ``shown`` as the file wrote it) when it is not one: what applies it
    (the proxy, the kernel) takes whole units, and faultlab never rounds a value silently."""
    count = value / unit
    if abs(count - round(count)) > 1e-9 * max(1.0, abs(count)):
        raise ValueError(f"{shown} is not a whole number of {unit_name}, and this is "
                         f"applied in whole {unit_name}; write e.g. "
                         f"{max(1, round(count))}{suffix}")
    return round(count)


def _in_whole(unit: float, unit_name: str, suffix: str) -> AfterValidator:
    def check(value: float) -> float:
        whole(value, unit, unit_name, format_duration(value), suffix)
        return value
    return AfterValidator(check)


#: a duration applied in whole milliseconds (the proxy's time attributes)
Millis = Annotated[Duration, _in_whole(1e-3, "milliseconds", "ms")]
#: a duration applied in whole microseconds (the slicer's delay, netem)
Micros = Annotated[Duration, _in_whole(1e-6, "microseconds", "us")]


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
