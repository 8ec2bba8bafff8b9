"""Unit tests of the resilience primitives, in virtual time with seeded randomness."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from faultlab.demo.resilience import (
    BreakerConfig,
    BreakerState,
    Bulkhead,
    CircuitBreaker,
    Deadline,
    FallbackCache,
    Outcome,
    RetryPolicy,
)


class FakeClock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


CONFIG = BreakerConfig(
    consecutive_failures=5, failure_ratio=0.5, min_calls=10, window=5.0, cool_down=1.0
)


def state(cb: CircuitBreaker) -> BreakerState:
    """Read the state afresh (stops mypy narrowing a property across calls)."""
    return cb.state


def breaker() -> tuple[CircuitBreaker, FakeClock]:
    clock = FakeClock()
    return CircuitBreaker(CONFIG, clock), clock


def test_only_server_errors_timeouts_and_connection_errors_count_as_failures() -> None:
    failures = {o for o in Outcome if o.is_dependency_failure}
    assert failures == {Outcome.SERVER_ERROR, Outcome.TIMEOUT, Outcome.CONNECTION_ERROR}


@pytest.mark.parametrize(
    ("method", "outcome", "retries_done", "expected"),
    [
        ("GET", Outcome.CONNECTION_ERROR, 0, True),
        ("GET", Outcome.TIMEOUT, 1, True),
        ("get", Outcome.SERVER_ERROR, 0, True),
        ("GET", Outcome.SERVER_ERROR, 2, False),  # at most 2 retries
        ("GET", Outcome.CLIENT_ERROR, 0, False),  # same request, same 4xx
        ("GET", Outcome.REJECTED, 0, False),  # the breaker said no
        ("GET", Outcome.OK, 0, False),
        ("POST", Outcome.CONNECTION_ERROR, 0, False),  # might apply twice
        ("PUT", Outcome.TIMEOUT, 0, False),
    ],
)
def test_retry_only_idempotent_requests_on_transient_failures(
    method: str, outcome: Outcome, retries_done: int, expected: bool
) -> None:
    assert RetryPolicy(max_retries=2).should_retry(method, outcome, retries_done) is expected


@given(seed=st.integers(0, 2**32), retry=st.integers(0, 30))
def test_backoff_stays_within_capped_exponential_bounds(seed: int, retry: int) -> None:
    policy = RetryPolicy(base_delay=0.01, max_delay=0.1)
    delay = policy.backoff(retry, random.Random(seed))
    assert 0.0 <= delay <= min(0.1, 0.01 * 2**retry)


def test_backoff_is_full_jitter_and_reproducible_from_the_seed() -> None:
    policy = RetryPolicy(base_delay=0.01, max_delay=1.0)
    delays = [policy.backoff(3, random.Random(7 + i)) for i in range(500)]
    ceiling = 0.08
    assert min(delays) < 0.05 * ceiling  # full jitter reaches down to ~0 ...
    assert max(delays) > 0.95 * ceiling  # ... and up to the ceiling
    rng_a, rng_b = random.Random(42), random.Random(42)
    assert [policy.backoff(n, rng_a) for n in range(5)] == [
        policy.backoff(n, rng_b) for n in range(5)
    ]


def test_deadline_counts_down_on_the_injected_clock() -> None:
    clock = FakeClock()
    deadline = Deadline(0.25, clock)
    clock.advance(0.1)
    assert deadline.remaining() == pytest.approx(0.15)
    assert not deadline.expired
    clock.advance(0.2)
    assert deadline.remaining() == 0.0
    assert deadline.expired


def test_breaker_opens_after_consecutive_failures_and_fails_fast() -> None:
    cb, _ = breaker()
    for _ in range(4):
        assert cb.allow()
        cb.record_failure()
    assert state(cb) is BreakerState.CLOSED
    cb.record_failure()
    assert state(cb) is BreakerState.OPEN
    assert not cb.allow()


def test_a_success_resets_the_consecutive_count() -> None:
    cb, _ = breaker()
    for _ in range(4):
        cb.record_failure()
    cb.record_success()
    for _ in range(4):
        cb.record_failure()
    assert state(cb) is BreakerState.CLOSED


def test_breaker_opens_on_failure_ratio_over_the_window() -> None:
    cb, clock = breaker()
    pattern = [True, True, False] * 3 + [True]  # 7 of 10 failed, never 5 in a row
    for failed in pattern[:-1]:
        if failed:
            cb.record_failure()
        else:
            cb.record_success()
        clock.advance(0.1)
        assert state(cb) is BreakerState.CLOSED  # fewer than min_calls so far
    cb.record_failure()
    assert state(cb) is BreakerState.OPEN


def test_failures_older_than_the_window_are_forgotten() -> None:
    cb, clock = breaker()
    for _ in range(4):
        cb.record_failure()
        cb.record_success()
    clock.advance(CONFIG.window + 0.1)
    for _ in range(3):  # 8 old calls dropped: 3 failures of 6 calls < min_calls
        cb.record_failure()
        cb.record_success()
    assert state(cb) is BreakerState.CLOSED


def test_half_open_admits_one_probe_after_the_cool_down() -> None:
    cb, clock = breaker()
    for _ in range(5):
        cb.record_failure()
    clock.advance(CONFIG.cool_down - 0.01)
    assert not cb.allow()
    clock.advance(0.02)
    assert state(cb) is BreakerState.HALF_OPEN
    assert cb.allow()  # the probe
    assert not cb.allow()  # everyone else still fails fast
    cb.record_success()
    assert state(cb) is BreakerState.CLOSED
    assert cb.allow()


def test_a_failed_probe_reopens_for_a_whole_cool_down() -> None:
    cb, clock = breaker()
    for _ in range(5):
        cb.record_failure()
    clock.advance(CONFIG.cool_down)
    assert cb.allow()
    cb.record_failure()
    assert state(cb) is BreakerState.OPEN
    clock.advance(CONFIG.cool_down / 2)
    assert not cb.allow()
    clock.advance(CONFIG.cool_down / 2)
    assert cb.allow()


def test_an_abandoned_probe_frees_the_slot() -> None:
    cb, clock = breaker()
    for _ in range(5):
        cb.record_failure()
    clock.advance(CONFIG.cool_down)
    assert cb.allow()
    cb.record_abandoned()
    assert state(cb) is BreakerState.HALF_OPEN
    assert cb.allow()


def test_closing_starts_a_fresh_window() -> None:
    cb, clock = breaker()
    for _ in range(5):
        cb.record_failure()
    clock.advance(CONFIG.cool_down)
    cb.allow()
    cb.record_success()
    for _ in range(4):  # would trip the ratio if the old failures still counted
        cb.record_failure()
    assert state(cb) is BreakerState.CLOSED


def test_bulkhead_refuses_beyond_its_limit() -> None:
    bulkhead = Bulkhead(2)
    assert bulkhead.try_acquire()
    assert bulkhead.try_acquire()
    assert not bulkhead.try_acquire()
    bulkhead.release()
    assert bulkhead.try_acquire()
    assert bulkhead.in_use == 2


def test_bulkhead_rejects_bad_use() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Bulkhead(0)
    with pytest.raises(RuntimeError, match="released more often"):
        Bulkhead(1).release()


def test_fallback_cache_keeps_the_last_good_value_per_key() -> None:
    cache: FallbackCache[str, int] = FallbackCache(max_entries=2)
    assert cache.get("a") is None
    cache.put("a", 1)
    cache.put("a", 3)
    assert cache.get("a") == 3
    cache.put("b", 5)
    cache.get("a")  # a is now more recent than b
    cache.put("c", 7)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (3, None, 7)
    assert len(cache) == 2


def test_fallback_cache_stores_zero() -> None:
    cache: FallbackCache[str, int] = FallbackCache()
    cache.put("out-of-stock", 0)
    assert cache.get("out-of-stock") == 0
