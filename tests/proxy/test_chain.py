"""Chains of toxics and the once-per-connection toxicity decision, without sockets."""

from __future__ import annotations

import pytest

from faultlab.proxy.chain import Chain, ConnectionSeed
from faultlab.proxy.model import Stream, ToxicSpec
from faultlab.proxy.toxics import TOXIC_TYPES, Close, Deliver, Drop, Reset

from .helpers import r


def spec(name: str, type: str, toxicity: float = 1.0, **attributes: int) -> ToxicSpec:
    return ToxicSpec(name, type, Stream.DOWNSTREAM, toxicity,
                     TOXIC_TYPES[type].parse(attributes))


def chain(*specs: ToxicSpec, connection: int = 1, seed: int = 42) -> Chain:
    return Chain(ConnectionSeed(seed, "db", connection), specs, now=0.0)


def test_empty_chain_is_a_passthrough() -> None:
    empty = chain()
    assert empty.passthrough
    assert r(empty.feed(b"x", 1.0)) == [Deliver(b"x", 1.0)]
    assert r(empty.feed_eof(2.0)) == [Close(2.0)]


def test_toxics_apply_in_order_and_stacked_latencies_add_up() -> None:
    both = chain(spec("a", "latency", latency=100), spec("b", "latency", latency=50))
    assert not both.passthrough
    assert both.feed(b"x", 0.0) == []
    assert both.deadline() == pytest.approx(0.1)
    assert both.tick(0.1) == []  # out of "a", into "b"
    assert both.deadline() == pytest.approx(0.15)
    assert r(both.tick(0.16)) == [Deliver(b"x", 0.15)]


def test_one_tick_pass_moves_data_through_every_due_toxic() -> None:
    both = chain(spec("a", "latency", latency=100), spec("b", "latency", latency=0))
    both.feed(b"x", 0.0)
    assert r(both.tick(0.2)) == [Deliver(b"x", 0.1)]


def test_reset_skips_the_toxics_after_it() -> None:
    reset_then_delay = chain(spec("r", "reset_peer", timeout=0),
                             spec("l", "latency", latency=1000))
    assert reset_then_delay.tick(0.0) == []  # armed by data only
    assert reset_then_delay.feed(b"x", 0.5) == [Drop(1, 0.5), Reset(0.5)]
    assert reset_then_delay.held_bytes() == 0


def test_removing_a_holding_toxic_flushes_through_the_rest() -> None:
    both = chain(spec("a", "latency", latency=1000), spec("b", "bandwidth", rate=1))
    both.feed(b"x" * 100, 0.0)
    assert both.held_bytes() == 100
    assert both.remove("a", 0.5) == []  # handed to the bandwidth toxic, which holds it
    assert r(both.tick(0.6)) == [Deliver(b"x" * 100, 0.6)]
    assert both.remove("b", 0.7) == []
    assert both.passthrough


def test_update_keeps_state_and_changes_attributes() -> None:
    one = chain(spec("a", "latency", latency=1000))
    one.feed(b"x", 0.0)
    assert r(one.update(spec("a", "latency", latency=10), 0.5)) == [Deliver(b"x", 0.5)]


def test_toxicity_zero_never_applies_and_one_always_does() -> None:
    for connection in range(1, 200):
        assert not chain(spec("t", "latency", 0.0), connection=connection).applies("t")
        assert chain(spec("t", "latency", 1.0), connection=connection).applies("t")


def draws(toxicity: float, count: int = 400) -> list[bool]:
    return [chain(spec("t", "latency", toxicity), connection=n).applies("t")
            for n in range(1, count + 1)]


def test_toxicity_is_a_per_connection_fraction_reproducible_from_the_seed() -> None:
    half = draws(0.5)
    assert 0.4 < sum(half) / len(half) < 0.6
    assert draws(0.5) == half
    other_seed = [chain(spec("t", "latency", 0.5), connection=n, seed=7).applies("t")
                  for n in range(1, 401)]
    assert other_seed != half


def test_raising_toxicity_only_adds_connections() -> None:
    low, high = draws(0.3), draws(0.6)
    assert all(h for lo, h in zip(low, high, strict=True) if lo)
    assert sum(high) > sum(low)


def test_toxicity_is_stable_when_other_toxics_change() -> None:
    chains = [chain(spec("t", "latency", 0.5, latency=10), connection=n) for n in range(1, 101)]
    before = [c.applies("t") for c in chains]
    assert 20 < sum(before) < 80
    for c in chains:
        c.add(spec("other", "bandwidth", 0.5, rate=10), 1.0)
        c.update(spec("other", "bandwidth", 0.9, rate=20), 2.0)
        c.update(spec("t", "latency", 0.5, latency=20), 2.5)  # its own attributes too
        c.remove("other", 3.0)
        c.add(spec("third", "noop"), 4.0)
    assert [c.applies("t") for c in chains] == before


def test_a_toxic_that_stops_applying_hands_back_what_it_holds() -> None:
    one = chain(spec("a", "latency", 1.0, latency=1000))
    one.feed(b"x", 0.0)
    assert r(one.update(spec("a", "latency", 0.0, latency=1000), 0.2)) == [Deliver(b"x", 0.2)]
    assert one.passthrough


def test_passthrough_follows_every_change_of_the_chain() -> None:
    """``passthrough`` is kept as a plain attribute (the relay reads it per chunk), so
    every change that can make a data toxic apply or stop applying must refresh it."""
    one = chain(spec("d", "connect_delay", delay=10))  # acts at connect only
    assert one.passthrough
    one.add(spec("a", "latency", 0.0, latency=10), 1.0)  # does not apply
    assert one.passthrough
    one.update(spec("a", "latency", 1.0, latency=10), 2.0)  # now it does
    assert not one.passthrough
    one.update(spec("a", "latency", 1.0, latency=20), 3.0)  # still does
    assert not one.passthrough
    one.update(spec("a", "latency", 0.0, latency=20), 4.0)  # no longer
    assert one.passthrough
    one.add(spec("b", "noop"), 5.0)
    assert not one.passthrough
    one.remove("b", 6.0)
    assert one.passthrough
    one.remove("d", 7.0)
    assert one.passthrough
