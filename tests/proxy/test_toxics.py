"""The sans-IO toxics as transcripts (events in, commands out) and as properties."""

from __future__ import annotations

import itertools
import math
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faultlab.proxy.toxics import (
    TOXIC_TYPES,
    BandwidthAttributes,
    BandwidthToxic,
    Close,
    Command,
    Deliver,
    Drop,
    InvalidAttributes,
    LatencyAttributes,
    LatencyToxic,
    NoopAttributes,
    NoopToxic,
    Reset,
    ResetPeerAttributes,
    ResetPeerToxic,
    Toxic,
)

from .helpers import r


def latency(ms: int, jitter: int = 0, seed: int = 0) -> LatencyToxic:
    return LatencyToxic(LatencyAttributes(ms, jitter), 0.0, random.Random(seed))


def bandwidth(rate: int) -> BandwidthToxic:
    return BandwidthToxic(BandwidthAttributes(rate), 0.0, random.Random(0))


# ------------------------------------------------------------------------ transcripts


def test_noop_passes_everything_through() -> None:
    toxic = NoopToxic(NoopAttributes(), 0.0, random.Random(0))
    assert r(toxic.on_chunk(b"abc", 1.0)) == [Deliver(b"abc", 1.0)]
    assert r(toxic.on_eof(2.0)) == [Close(2.0)]
    assert toxic.deadline() is None


def test_latency_holds_each_chunk_from_its_own_arrival() -> None:
    toxic = latency(100)
    assert toxic.on_chunk(b"a", 0.0) == []
    assert toxic.on_chunk(b"b", 0.01) == []  # back to back: not delayed cumulatively
    assert toxic.held_bytes() == 2
    assert toxic.deadline() == pytest.approx(0.1)
    assert toxic.on_tick(0.05) == []
    assert r(toxic.on_tick(0.1)) == [Deliver(b"a", 0.1)]
    assert toxic.deadline() == pytest.approx(0.11)
    assert r(toxic.on_tick(0.2)) == [Deliver(b"b", 0.11)]
    assert toxic.held_bytes() == 0
    assert toxic.deadline() is None


def test_latency_delays_eof_behind_the_data() -> None:
    toxic = latency(100)
    toxic.on_chunk(b"a", 0.0)
    assert toxic.on_eof(0.02) == []
    assert r(toxic.on_tick(1.0)) == [Deliver(b"a", 0.1), Close(0.12)]


def test_latency_zero_releases_at_once() -> None:
    assert r(latency(0).on_chunk(b"a", 5.0)) == [Deliver(b"a", 5.0)]


def test_latency_jitter_stays_in_bounds_and_never_reorders() -> None:
    toxic = latency(100, jitter=50, seed=7)
    arrivals = [i * 0.001 for i in range(200)]
    out: list[Command] = []
    for i, at in enumerate(arrivals):
        out += toxic.on_chunk(bytes([i]), at)
    out += toxic.on_tick(10.0)
    assert [c.data for c in out if isinstance(c, Deliver)] == [bytes([i]) for i in range(200)]
    times = [c.at for c in out]
    assert times == sorted(times)
    for at, command in zip(arrivals, out, strict=True):
        assert at + 0.05 - 1e-9 <= command.at <= max(at + 0.15, 0.0) + 0.05
    # The jitter really varies (a constant draw would pass the bounds too).
    delays = [c.at - at for at, c in zip(arrivals, out, strict=True)]
    assert max(delays) - min(delays) > 0.03


def test_latency_jitter_larger_than_latency_means_no_delay_not_negative() -> None:
    toxic = latency(10, jitter=1000, seed=3)
    out: list[Command] = []
    for i in range(50):
        out += toxic.on_chunk(b"x", float(i))
    out += toxic.on_tick(100.0)
    assert all(c.at >= i for i, c in enumerate(out))


def test_latency_update_retimes_held_data() -> None:
    toxic = latency(10_000)
    toxic.on_chunk(b"a", 0.0)
    toxic.on_chunk(b"b", 1.0)
    # Down to 500 ms at t=1.2: "a" is overdue and leaves now, "b" leaves at 1.5.
    assert r(toxic.update(LatencyAttributes(500, 0), 1.2)) == [Deliver(b"a", 1.2)]
    assert toxic.deadline() == pytest.approx(1.5)


def test_latency_removal_hands_everything_back_at_once() -> None:
    toxic = latency(10_000)
    toxic.on_chunk(b"a", 0.0)
    toxic.on_eof(0.5)
    assert r(toxic.on_remove(1.0)) == [Deliver(b"a", 1.0), Close(1.0)]
    assert toxic.held_bytes() == 0


def test_bandwidth_sends_pieces_of_100ms_at_the_rate() -> None:
    toxic = bandwidth(1)  # 1 KB/s = 1000 B/s, pieces of 100 B
    assert toxic.on_chunk(b"x" * 250, 0.0) == []
    assert toxic.deadline() == pytest.approx(0.1)
    assert r(toxic.on_tick(0.1)) == [Deliver(b"x" * 100, 0.1)]
    assert r(toxic.on_tick(0.3)) == [Deliver(b"x" * 100, 0.2), Deliver(b"x" * 50, 0.25)]
    assert toxic.deadline() is None


def test_bandwidth_does_not_bank_idle_time() -> None:
    toxic = bandwidth(1)
    toxic.on_chunk(b"x" * 100, 0.0)
    toxic.on_tick(0.1)
    toxic.on_chunk(b"y" * 100, 10.0)  # after a pause the rate still holds: no burst
    assert toxic.on_tick(10.05) == []
    assert r(toxic.on_tick(10.1)) == [Deliver(b"y" * 100, 10.1)]


def test_bandwidth_eof_follows_the_held_bytes() -> None:
    toxic = bandwidth(1)
    toxic.on_chunk(b"x" * 100, 0.0)
    assert toxic.on_eof(0.01) == []
    assert r(toxic.on_tick(0.1)) == [Deliver(b"x" * 100, 0.1), Close(0.1)]


def test_bandwidth_rate_zero_is_unlimited() -> None:
    assert r(bandwidth(0).on_chunk(b"abc", 3.0)) == [Deliver(b"abc", 3.0)]


def test_bandwidth_rate_change_applies_to_held_bytes_at_once() -> None:
    toxic = bandwidth(1)
    toxic.on_chunk(b"x" * 10_000, 0.0)  # 10 s at 1 KB/s
    out = toxic.update(BandwidthAttributes(1000), 0.5)  # now 1 MB/s
    assert out == []
    assert r(toxic.on_tick(0.52)) == [Deliver(b"x" * 10_000, 0.51)]
    assert toxic.update(BandwidthAttributes(0), 1.0) == []


def test_bandwidth_removal_hands_back_the_rest() -> None:
    toxic = bandwidth(1)
    toxic.on_chunk(b"ab" * 100, 0.0)
    toxic.on_tick(0.1)
    assert r(toxic.on_remove(0.15)) == [Deliver(b"ab" * 50, 0.15)]
    assert toxic.held_bytes() == 0


def test_reset_peer_swallows_the_first_data_and_resets_timeout_after_it() -> None:
    """Toxiproxy's reset_peer: the first chunk arms it and is dropped, as is all after it;
    the reset comes ``timeout`` ms after that chunk arrived."""
    toxic = ResetPeerToxic(ResetPeerAttributes(500), 10.0, random.Random(0))
    assert toxic.deadline() is None  # idle: never reset
    assert toxic.on_tick(1e9) == []
    assert toxic.on_chunk(b"data", 10.1) == [Drop(4, 10.1)]
    assert toxic.deadline() == pytest.approx(10.6)
    assert toxic.on_chunk(b"more", 10.3) == [Drop(4, 10.3)]  # later data cannot re-arm
    assert toxic.on_tick(10.5) == []
    assert toxic.on_tick(10.6) == [Reset(10.6)]
    assert toxic.deadline() is None
    assert toxic.on_tick(11.0) == []  # once


def test_reset_peer_zero_timeout_resets_on_the_first_data_or_eof() -> None:
    now = ResetPeerToxic(ResetPeerAttributes(0), 0.0, random.Random(0))
    assert now.on_chunk(b"x", 2.0) == [Drop(1, 2.0), Reset(2.0)]
    at_eof = ResetPeerToxic(ResetPeerAttributes(0), 0.0, random.Random(0))
    assert at_eof.on_eof(3.0) == [Reset(3.0)]  # the EOF is swallowed too


def test_reset_peer_update_re_times_from_the_first_data_and_removal_resets_now() -> None:
    toxic = ResetPeerToxic(ResetPeerAttributes(500), 10.0, random.Random(0))
    assert toxic.update(ResetPeerAttributes(2000), 10.2) == []  # not armed: nothing
    toxic.on_chunk(b"x", 11.0)
    assert toxic.update(ResetPeerAttributes(3000), 11.5) == []
    assert toxic.deadline() == pytest.approx(14.0)
    assert toxic.update(ResetPeerAttributes(100), 12.0) == [Reset(12.0)]  # already passed
    armed = ResetPeerToxic(ResetPeerAttributes(10_000), 0.0, random.Random(0))
    armed.on_chunk(b"x", 1.0)
    assert armed.on_remove(2.0) == [Reset(2.0)]  # its stream lost data: no clean carry-on
    idle = ResetPeerToxic(ResetPeerAttributes(10_000), 0.0, random.Random(0))
    assert idle.on_remove(2.0) == []  # never armed: the connection carries on


# ------------------------------------------------------------------------- attributes


def test_attributes_are_zero_filled_and_unknown_keys_ignored() -> None:
    parsed = TOXIC_TYPES["latency"].parse({"latency": 10, "colour": "red"})
    assert parsed.to_json() == {"latency": 10, "jitter": 0}


def test_attributes_merge_over_a_base() -> None:
    base = TOXIC_TYPES["latency"].parse({"latency": 10, "jitter": 5})
    assert TOXIC_TYPES["latency"].parse({"jitter": 7}, base).to_json() == {
        "latency": 10, "jitter": 7}


def test_integral_floats_are_accepted() -> None:
    assert TOXIC_TYPES["bandwidth"].parse({"rate": 100.0}).to_json() == {"rate": 100}


@pytest.mark.parametrize(("value", "message"), [
    (-1, "must not be negative"),
    (1.5, "whole number of ms"),
    ("100", "must be an integer"),
    (True, "must be an integer"),
    (None, "must be an integer"),
    ([1], "must be an integer"),
    (math.nan, "finite"),
    (math.inf, "finite"),
    (10**30, "at most"),
    (1e300, "at most"),
])
def test_bad_attribute_values_are_refused_with_a_clear_message(value: object,
                                                               message: str) -> None:
    with pytest.raises(InvalidAttributes, match=message) as caught:
        TOXIC_TYPES["latency"].parse({"latency": value})
    assert "latency" in str(caught.value)


def test_attributes_must_be_an_object() -> None:
    with pytest.raises(InvalidAttributes, match="JSON object"):
        TOXIC_TYPES["latency"].parse([1, 2])


# ------------------------------------------------------------------------- properties

chunks = st.lists(
    st.tuples(st.binary(min_size=1, max_size=3000), st.floats(0.0, 0.3)),
    min_size=1, max_size=40)


def drive(toxic: Toxic[Any], arrivals: list[tuple[bytes, float]]) -> list[
        tuple[float, Command]]:
    """Run ``toxic`` as the relay would: each event at its time, ticks when due.

    Returns (time of the event that produced it, command) pairs, ending with EOF.
    """
    out: list[tuple[float, Command]] = []

    def tick_until(limit: float) -> None:
        while (due := toxic.deadline()) is not None and due <= limit:
            out.extend((due, c) for c in toxic.on_tick(due))

    now = 0.0
    for data, gap in arrivals:
        tick_until(now + gap)
        now += gap
        out.extend((now, c) for c in toxic.on_chunk(data, now))
    out.extend((now, c) for c in toxic.on_eof(now))
    tick_until(math.inf)
    return out


def check_stream_invariants(out: list[tuple[float, Command]],
                            arrivals: list[tuple[bytes, float]]) -> list[Deliver]:
    """Order, completeness, monotone time, nothing from the future, nothing early."""
    commands = [c for _, c in out]
    assert isinstance(commands[-1], Close)
    assert not any(isinstance(c, Close) for c in commands[:-1])
    delivered = [c for c in commands if isinstance(c, Deliver)]
    assert b"".join(c.data for c in delivered) == b"".join(d for d, _ in arrivals)
    times = [c.at for c in commands if isinstance(c, Deliver | Close)]
    assert times == sorted(times)
    assert all(command.at <= produced_at + 1e-9
               for produced_at, command in out)
    # Each byte leaves no earlier than it arrived.
    arrival_of_byte: list[float] = []
    now = 0.0
    for data, gap in arrivals:
        now += gap
        arrival_of_byte += [now] * len(data)
    position = 0
    for command in delivered:
        assert command.at >= arrival_of_byte[position + len(command.data) - 1] - 1e-9
        position += len(command.data)
    return delivered


@settings(max_examples=200, deadline=None)
@given(arrivals=chunks, ms=st.integers(0, 500), jitter=st.integers(0, 500),
       seed=st.integers(0, 2**32))
def test_latency_delivers_every_byte_in_order_at_nondecreasing_times(
        arrivals: list[tuple[bytes, float]], ms: int, jitter: int, seed: int) -> None:
    toxic = latency(ms, jitter, seed)
    delivered = check_stream_invariants(drive(toxic, arrivals), arrivals)
    # Chunks are neither split nor merged, and no chunk waits more than its own maximum
    # delay behind the latest arrival before it (delays do not accumulate).
    assert [c.data for c in delivered] == [d for d, _ in arrivals]
    now, latest_due = 0.0, 0.0
    for (_, gap), command in zip(arrivals, delivered, strict=True):
        now += gap
        latest_due = max(latest_due, now + (ms + jitter) / 1000)
        assert command.at <= latest_due + 1e-9
        assert command.at >= now + max(ms - jitter, 0) / 1000 - 1e-9


@settings(max_examples=200, deadline=None)
@given(arrivals=chunks, rate=st.integers(1, 200))
def test_bandwidth_delivers_every_byte_in_order_and_never_faster_than_the_rate(
        arrivals: list[tuple[bytes, float]], rate: int) -> None:
    toxic = bandwidth(rate)
    delivered = check_stream_invariants(drive(toxic, arrivals), arrivals)
    assert all(len(c.data) <= rate * 100 for c in delivered)
    # Each piece takes its transmission time after the one before it, so over any window
    # no more than ``rate`` KB per second leave.
    bps = rate * 1000
    for before, piece in itertools.pairwise(delivered):
        assert piece.at - before.at >= len(piece.data) / bps - 1e-9
