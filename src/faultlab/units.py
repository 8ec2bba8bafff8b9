"""Quantities with units as they appear in experiment files: durations, rates, byte rates.

Every parser raises :class:`UnitError` (a ``ValueError``) with a message that says what was
expected, so the loader can turn it into a one-line error with a hint.
"""

from __future__ import annotations

import re

__all__ = ["UnitError", "format_duration", "parse_byte_rate", "parse_duration", "parse_rate"]


class UnitError(ValueError):
    """A quantity was written without a unit, with an unknown unit, or out of range."""


_DURATION_UNITS = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_NUMBER = r"(\d+(?:\.\d+)?|\.\d+)"
_DURATION_RE = re.compile(rf"^\s*{_NUMBER}\s*(us|µs|ms|s|m|h)\s*$")
_RATE_RE = re.compile(rf"^\s*{_NUMBER}\s*/\s*(s|m|h)\s*$")
_BYTE_RATE_RE = re.compile(rf"^\s*{_NUMBER}\s*(B|KB|MB|GB|KiB|MiB|GiB)\s*/\s*s\s*$")
_BYTES = {"B": 1, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "KiB": 1024, "MiB": 1024**2,
          "GiB": 1024**3}
_PER = {"s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: object) -> float:
    """Parse ``250ms``, ``1.5s``, ``2m``, ``1h``, ``500us`` into seconds (a float >= 0)."""
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        raise UnitError("expected a duration such as 250ms or 30s")
    if isinstance(text, int | float):
        if text == 0:
            return 0.0
        raise UnitError(f"duration {text!r} has no unit; write {text}s or {text}ms")
    m = _DURATION_RE.match(text)
    if not m:
        raise UnitError(
            f"{text!r} is not a duration; write e.g. 250ms, 30s, 2m (units: us ms s m h)")
    return float(m.group(1)) * _DURATION_UNITS[m.group(2)]


def parse_rate(text: object) -> float:
    """Parse ``200/s``, ``600/m`` into events per second (a float > 0)."""
    if isinstance(text, bool) or not isinstance(text, str):
        raise UnitError(f"rate {text!r} has no unit; write e.g. 200/s or 600/m")
    m = _RATE_RE.match(text)
    if not m:
        raise UnitError(f"{text!r} is not a rate; write e.g. 200/s or 600/m")
    value = float(m.group(1)) / _PER[m.group(2)]
    if value <= 0:
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
    if value <= 0:
        raise UnitError(f"byte rate {text!r} must be above zero")
    return value


def format_duration(seconds: float) -> str:
    """The shortest readable form: ``850ms``, ``2.5s``, ``3m10s``."""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms" if seconds >= 0.001 else f"{seconds * 1e6:.0f}us"
    if seconds < 60:
        return f"{seconds:.3g}s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m{rest:.0f}s"
