"""The maths against hand-computed figures (every example of the reference file, and more),
and their properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from faultlab.canvas.analysis.availability import (
    any_of,
    at_least,
    beta_factor,
    extra_nine,
    k_of_n,
    node_availability,
    percent,
    series,
    soft,
)
from faultlab.canvas.analysis.budget import burn_rate, error_budget
from faultlab.canvas.analysis.pools import exhausted, held, in_flight
from faultlab.canvas.analysis.retries import (
    amplification,
    compounding,
    expected_attempts,
    layer_factor,
)
from faultlab.canvas.analysis.timeouts import call_worst_case, gives_up_early, serial

ratio = st.floats(min_value=0.0, max_value=1.0)


def test_series_of_five_hard_dependencies() -> None:
    assert series([0.9999] * 5) == pytest.approx(0.99950010, abs=1e-8)
    assert percent(series([0.9999] * 5)) == "99.950%"
    assert series([0.99, 0.99]) == pytest.approx(0.9801)  # OpenSLO #14's example


def test_any_one_of_n() -> None:
    assert any_of([0.9, 0.9]) == pytest.approx(0.99)
    assert any_of([0.99] * 3) == pytest.approx(0.999999)


def test_two_of_three() -> None:
    a = 0.99
    assert k_of_n(2, 3, a) == pytest.approx(3 * a**2 - 2 * a**3)
    assert k_of_n(2, 3, a) == pytest.approx(0.999702, abs=1e-9)
    assert k_of_n(3, 5, 0.9) == pytest.approx(0.99144, abs=1e-9)  # 10·.9³·.1² + 5·.9⁴·.1 + .9⁵
    assert k_of_n(1, 3, a) == pytest.approx(any_of([a] * 3))
    assert k_of_n(3, 3, a) == pytest.approx(a**3)
    assert k_of_n(0, 2, a) == 1.0 and k_of_n(4, 3, a) == 0.0


def test_zones_three_replicas_in_one_zone() -> None:
    got = node_availability(0.99, 1, ["z1"] * 3, {"z1": 0.999})
    assert got == pytest.approx(0.999 * (1 - 0.01**3))
    assert got == pytest.approx(0.998999, abs=1e-9)
    assert got < 0.999  # never better than the zone


def test_zones_one_replica_per_zone() -> None:
    got = node_availability(0.99, 1, ["a", "b", "c"], {"a": 0.999, "b": 0.999, "c": 0.999})
    assert got == pytest.approx(1 - (1 - 0.99 * 0.999) ** 3)
    assert got == pytest.approx(0.9999987, abs=5e-8)  # 0.99999867


def test_zones_quorum_over_zones() -> None:
    # 2 of 3 replicas, one per zone: each replica is up with a·z independently
    az = 0.99 * 0.999
    assert node_availability(0.99, 2, ["a", "b", "c"], dict.fromkeys("abc", 0.999)) == \
        pytest.approx(3 * az**2 - 2 * az**3)
    # 2 of 3 with two replicas in zone a: zone a down stops it
    got = node_availability(0.99, 2, ["a", "b", "a"], {"a": 0.999, "b": 0.999})
    assert got == pytest.approx(0.999 * (0.999 * k_of_n(2, 3, 0.99) + 0.001 * 0.99**2))


def test_soft_dependency_with_fallback() -> None:
    assert soft(0.99, 0.0) == 0.99  # hard
    assert soft(0.99, 1.0) == 1.0
    assert soft(0.99, 0.9) == pytest.approx(0.999)


def test_beta_factor_and_extra_nine() -> None:
    assert beta_factor(0.01, 0.1, 2) == pytest.approx(0.001 + 0.000081)
    assert extra_nine(0.999) == pytest.approx(0.9999)
    assert extra_nine(0.99) == pytest.approx(0.999)


def test_retries_attempts_and_budgets() -> None:
    assert amplification([layer_factor(4, None)] * 3) == 64  # 3 retries per layer
    assert amplification([layer_factor(3, None)] * 3) == 27  # 3 attempts per layer
    assert amplification([layer_factor(3, 0.1)] * 3) == pytest.approx(1.331)
    assert layer_factor(1, 0.5) == 1.0  # a budget never adds attempts
    assert expected_attempts(3, 0.5) == pytest.approx(1.75)
    assert expected_attempts(3, 1.0) == 3.0


def test_compounding_layers() -> None:
    assert compounding([True, True, True]) == 3
    # the middle call's fallback answers its caller: the top call never sees the failure
    assert compounding([True, False, True]) == 2
    assert compounding([True, True, False]) == 1  # the bottom call's own fallback answers
    assert compounding([False, True, True]) == 3  # the top call's own kind is for above it
    assert compounding([]) == 0


def test_timeout_budget_example() -> None:
    callee = call_worst_case(3, 0.4, [0.1, 0.2])
    assert callee == pytest.approx(1.5)
    assert gives_up_early(1.0, callee)
    assert not gives_up_early(1.5, callee)
    assert call_worst_case(3, 0.4, [0.1, 0.2], deadline=1.0) == 1.0
    assert call_worst_case(2, None, [], deadline=0.3) == 0.3
    assert call_worst_case(2, None, []) == math.inf
    assert serial([0.1, 0.2]) == pytest.approx(0.3) and serial([0.1, math.inf]) == math.inf
    assert not gives_up_early(1.0, math.inf)  # unbounded is timeouts.missing's


def test_littles_law() -> None:
    assert in_flight(50, held(3, 0.2, None)) == pytest.approx(30)
    assert in_flight(50, held(3, 0.2, 0.25)) == pytest.approx(12.5)
    assert held(1, None, None) == math.inf and in_flight(0, math.inf) == 0
    assert exhausted(65, 64) and not exhausted(64, 64)


def test_error_budget() -> None:
    seconds, requests = error_budget(0.999, 30 * 86400, 50)
    assert seconds == pytest.approx(2592) and requests == pytest.approx(129_600)
    assert burn_rate(0.002, 0.999) == pytest.approx(2)


@given(st.lists(ratio, min_size=1, max_size=6), ratio)
def test_another_replica_never_lowers_any_of(parts: list[float], extra: float) -> None:
    assert any_of([*parts, extra]) >= any_of(parts) - 1e-12


@given(st.integers(1, 6), st.integers(0, 6), ratio)
def test_another_replica_never_lowers_k_of_n(k: int, n: int, a: float) -> None:
    assert k_of_n(k, n + 1, a) >= k_of_n(k, n, a) - 1e-12


@given(st.lists(ratio, max_size=8), st.integers(0, 9))
def test_at_least_is_a_probability(parts: list[float], k: int) -> None:
    p = at_least(k, parts)
    assert -1e-12 <= p <= 1 + 1e-12
    assert at_least(k, parts) >= at_least(k + 1, parts) - 1e-12


@given(ratio, ratio)
def test_soft_never_below_hard(a: float, c: float) -> None:
    assert soft(a, c) >= soft(a, 0.0) - 1e-15


def test_percent() -> None:
    assert percent(0.9999987) == "99.99987%"
    assert percent(0.5) == "50.00%"
    assert percent(1.0) == "100%"
