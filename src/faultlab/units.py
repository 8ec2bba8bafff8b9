"""Quantities with units as they appear in experiment files: durations, rates, byte rates.

Every parser raises :class:`UnitError` (a ``ValueError``) with a message that says what was
expected, so the loader can turn it into a one-line error with a hint. :func:`format_duration`
writes what :func:`parse_duration` reads (``3m10s`` included), so a message may suggest a value
that the user can paste back into the file.
"""

from __future__ import annotations

import math
import re
from itertools import pairwise

__all__ = ["UnitError", "format_duration", "format_period", "parse_byte_rate", "parse_duration",
           "parse_rate"]


class UnitError(ValueError):
    """A quantity was written without a unit, with an unknown unit, or out of range."""


_DURATION_UNITS = {"w": 604800.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3,
                   "us": 1e-6, "µs": 1e-6}
_NUMBER = r"(\d+(?:\.\d+)?|\.\d+)"
_PART_RE = re.compile(rf"{_NUMBER}\s*(us|µs|ms|s|m|h|d|w)")
_DURATION_RE = re.compile(rf"^\s*(?:{_NUMBER}\s*(?:us|µs|ms|s|m|h|d|w)\s*)+$")
_RATE_RE = re.compile(rf"^\s*{_NUMBER}\s*/\s*(s|m|h)\s*$")
_BYTE_RATE_RE = re.compile(rf"^\s*{_NUMBER}\s*(B|KB|MB|GB|KiB|MiB|GiB)\s*/\s*s\s*$")
_BYTES = {"B": 1, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "KiB": 1024, "MiB": 1024**2,
          "GiB": 1024**3}
_PER = {"s": 1.0, "m": 60.0, "h": 3600.0}
# Units people write that we do not read, and what to write instead.
_UNIT_ALIASES = {
    "sec": "s", "secs": "s", "second": "s", "seconds": "s",
    "msec": "ms", "msecs": "ms", "millis": "ms", "millisecond": "ms", "milliseconds": "ms",
    "usec": "us", "micros": "us", "microsecond": "us", "microseconds": "us",
    "min": "m", "mins": "m", "minute": "m", "minutes": "m",
    "day": "d", "days": "d", "week": "w", "weeks": "w",
    "hr": "h", "hrs": "h", "hour": "h", "hours": "h",
}
_ALIASED_RE = re.compile(rf"^\s*{_NUMBER}\s*([A-Za-z]+)\s*$")


def parse_duration(text: object) -> float:
    """Parse ``250ms``, ``1.5s``, ``2m``, ``1h``, ``30d``, ``500us`` or ``1m30s`` into seconds.

    A compound duration lists its units from the largest down, each at most once."""
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        raise UnitError("expected a duration such as 250ms or 30s")
    if isinstance(text, int | float):
        if text == 0:
            return 0.0
        raise UnitError(f"duration {text!r} has no unit; write {text}s or {text}ms")
    if _DURATION_RE.match(text):
        parts = _PART_RE.findall(text.strip())
        scales = [_DURATION_UNITS[unit] for _, unit in parts]
        if all(a > b for a, b in pairwise(scales)):
            seconds = sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts)
            if math.isfinite(seconds):
                return seconds
    aliased = _ALIASED_RE.match(text)
    if aliased and aliased.group(2).lower() in _UNIT_ALIASES:
        raise UnitError(f"{text!r} is not a duration; write "
                        f"{aliased.group(1)}{_UNIT_ALIASES[aliased.group(2).lower()]}")
    raise UnitError(
        f"{text!r} is not a duration; write e.g. 250ms, 30s, 2m or 1m30s (units: us ms s m h d w)")


def parse_rate(text: object) -> float:
    """Parse ``200/s``, ``600/m`` into events per second (a float > 0)."""
    if isinstance(text, bool) or not isinstance(text, str):
        raise UnitError(f"rate {text!r} has no unit; write e.g. 200/s or 600/m")
    m = _RATE_RE.match(text)
    if not m:
        raise UnitError(f"{text!r} is not a rate; write e.g. 200/s or 600/m")
    value = float(m.group(1)) / _PER[m.group(2)]
    if not 0 < value < math.inf:
        raise UnitError(f"rate {text!r} must be above zero")
    return value


def parse_byte_rate(text: object) -> float:
    """Parse ``100KB/s``, ``1MiB/s`` into bytes per second (KB = 1000 bytes, KiB = 1024)."""
    if isinstance(text, bool) or not isinstance(text, str):
        raise UnitError(f"byte rate {text!r} has no unit; write e.g. 100KB/s or 1MiB/s")
    m = _BYTE_RATE_RE.match(text)
    if not m:
        raise UnitError(f"{text!r} is not a byte rate; write e.g. 100KB/s, 2MB/s or 1MiB/s")
    value = float(m.group(1)) * _BYTES[m.group(2)]
    if not 0 < value < math.inf:
        raise UnitError(f"byte rate {text!r} must be above zero")
    return value


def format_period(seconds: float) -> str:
    """A long period as people write it: 30d, 12h; else the plain duration."""
    for unit, size in (("d", 86400), ("h", 3600)):
        if seconds >= size and seconds % size == 0:
            return f"{round(seconds / size)}{unit}"
    return format_duration(seconds)


def format_duration(seconds: float) -> str:
    """The shortest readable form: ``0s``, ``850ms``, ``2.5s``, ``3m10s``, ``2h0m5s``.

    Resolution: whole microseconds below 1 ms, whole milliseconds below 1 s, three significant
    digits below a minute, whole seconds above. It rounds before choosing the unit, so 0.9996 s
    is ``1s`` and 119.6 s is ``2m0s``, never ``1000ms`` or ``1m60s``."""
    if seconds < 0:
        return "-" + format_duration(-seconds)
    if not math.isfinite(seconds):
        return f"{seconds}s"
    if seconds < 1e-3 and round(seconds * 1e6) < 1000:
        micros = round(seconds * 1e6)
        return f"{micros}us" if micros else "0s"
    if seconds < 1 and round(seconds * 1e3) < 1000:
        return f"{round(seconds * 1e3)}ms"
    if seconds < 60 and float(f"{seconds:.3g}") < 60:
        return f"{seconds:.3g}s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{rest}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes}m{rest}s"
