"""Durations, rates and byte rates as written in experiment files."""

from __future__ import annotations

import math
import re
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from faultlab.units import UnitError, format_duration, parse_byte_rate, parse_duration, parse_rate

# --- parse_duration ---------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "seconds"), [
    ("30d", 30 * 86400.0), ("1w2d", 9 * 86400.0),
    ("250ms", 0.25), ("30s", 30.0), ("1.5s", 1.5), ("2m", 120.0), ("1h", 3600.0),
    ("500us", 0.0005), ("500µs", 0.0005), (".5s", 0.5), ("0s", 0.0), (" 5 s ", 5.0),
    ("1m30s", 90.0), ("1h0m5s", 3605.0), ("2m 0.5s", 120.5), ("1s500ms", 1.5), (0, 0.0),
])
def test_parse_duration(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(("value", "message"), [
    (30, "duration 30 has no unit; write 30s or 30ms"),
    (1.5, "has no unit"),
    ("5sec", "write 5s"),
    ("10 minutes", "write 10m"),
    ("3hrs", "write 3h"),
    ("250 msec", "write 250ms"),
    ("5", "is not a duration"),
    ("-5s", "is not a duration"),
    ("5y", "is not a duration"),
    ("30s1m", "is not a duration"),  # units must go from large to small ...
    ("1m1m", "is not a duration"),  # ... each once
    ("1e3s", "is not a duration"),
    ("", "is not a duration"),
    (True, "expected a duration"),
    (None, "expected a duration"),
    ([1], "expected a duration"),
])
def test_parse_duration_rejects(value: object, message: str) -> None:
    with pytest.raises(UnitError, match=re.escape(message)):
        parse_duration(value)


def test_unit_error_is_a_value_error() -> None:
    """Pydantic turns ValueError from a validator into a validation error with our message."""
    assert issubclass(UnitError, ValueError)


# --- parse_rate / parse_byte_rate -------------------------------------------------------------


@pytest.mark.parametrize(("text", "per_second"), [
    ("200/s", 200.0), ("600/m", 10.0), ("3600/h", 1.0), ("0.5/s", 0.5), (" 20 / s ", 20.0)])
def test_parse_rate(text: str, per_second: float) -> None:
    assert parse_rate(text) == pytest.approx(per_second)


@pytest.mark.parametrize(("value", "message"), [
    (200, "rate 200 has no unit"), ("200", "is not a rate"), ("200rps", "is not a rate"),
    ("200/d", "is not a rate"), ("0/s", "must be above zero"), (True, "has no unit"),
    ("-1/s", "is not a rate")])
def test_parse_rate_rejects(value: object, message: str) -> None:
    with pytest.raises(UnitError, match=re.escape(message)):
        parse_rate(value)


@pytest.mark.parametrize(("text", "bytes_per_second"), [
    ("100KB/s", 100_000.0), ("1MiB/s", 1024.0**2), ("2MB/s", 2e6), ("512B/s", 512.0),
    ("1.5GiB/s", 1.5 * 1024**3), ("10 KiB / s", 10_240.0)])
def test_parse_byte_rate(text: str, bytes_per_second: float) -> None:
    assert parse_byte_rate(text) == pytest.approx(bytes_per_second)


@pytest.mark.parametrize(("value", "message"), [
    (1000, "has no unit"), ("100kb/s", "is not a byte rate"), ("100KB", "is not a byte rate"),
    ("100kbps", "is not a byte rate"), ("1Mbit/s", "is not a byte rate"),
    ("0KB/s", "must be above zero")])
def test_parse_byte_rate_rejects(value: object, message: str) -> None:
    with pytest.raises(UnitError, match=re.escape(message)):
        parse_byte_rate(value)


# --- format_duration --------------------------------------------------------------------------


@pytest.mark.parametrize(("seconds", "text"), [
    (0.0, "0s"), (0.0005, "500us"), (0.25, "250ms"), (0.85, "850ms"), (1.0, "1s"),
    (2.5, "2.5s"), (12.34, "12.3s"), (190.0, "3m10s"), (3605.0, "1h0m5s"),
    # rounding happens before the unit is chosen (these were "1000ms", "1m60s", "0us")
    (0.9996, "1s"), (119.6, "2m0s"), (1e-7, "0s"), (0.0009996, "1ms"),
])
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def resolution(seconds: float) -> float:
    """The largest rounding error format_duration allows itself at this magnitude."""
    if seconds < 1e-3:
        return 0.5e-6
    if seconds < 1:
        return 0.5e-3
    if seconds < 60:
        return 0.005 * seconds
    return 0.5


@given(st.floats(min_value=0, max_value=1e7, allow_nan=False))
def test_format_then_parse_round_trips(seconds: float) -> None:
    text = format_duration(seconds)
    assert re.fullmatch(r"[0-9hmsu.]+", text), text
    assert abs(parse_duration(text) - seconds) <= resolution(seconds) * 1.0001 + 1e-12


units = st.sampled_from(["us", "ms", "s", "m", "h"])
scale = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


@given(st.integers(0, 10**6), st.integers(0, 999), units)
def test_parse_reads_what_people_write(whole: int, frac: int, unit: str) -> None:
    text = f"{whole}.{frac:03d}{unit}"
    assert parse_duration(text) == pytest.approx((whole + frac / 1000) * scale[unit])


@given(st.lists(st.tuples(st.integers(0, 999), units), min_size=1, max_size=5))
def test_compound_durations_add_up_or_are_rejected(parts: list[tuple[int, str]]) -> None:
    text = "".join(f"{n}{u}" for n, u in parts)
    in_order = all(scale[a[1]] > scale[b[1]] for a, b in pairwise(parts))
    if in_order:
        assert parse_duration(text) == pytest.approx(sum(n * scale[u] for n, u in parts))
    else:
        with pytest.raises(UnitError):
            parse_duration(text)


@given(st.text(max_size=20))
def test_parsers_accept_or_raise_unit_error(text: str) -> None:
    for parse in (parse_duration, parse_rate, parse_byte_rate):
        try:
            value = parse(text)
        except UnitError:
            continue
        assert math.isfinite(value) and value >= 0


@given(st.floats(min_value=1e-3, max_value=1e6), st.sampled_from(["s", "m", "h"]))
def test_rates_round_trip(per_second: float, per: str) -> None:
    count = per_second * {"s": 1, "m": 60, "h": 3600}[per]
    assert parse_rate(f"{count:.6f}/{per}") == pytest.approx(per_second, rel=1e-5)
