"""Every oracle on real services: a misbehaving client and a well-behaved one each, against a
real aiohttp dependency behind a real faultlab proxy that observes every request, so no
oracle can pass everything.

No assertion bounds a duration, and the verdicts hold by construction on a loaded machine
(a CPU hog on every core): the clients' delays are chosen far from the oracles'
thresholds (an immediate retry's ~0.3 ms turnaround against a 1 ms bound, a 40 ms
backoff base whose seeded draws grow x1.6 or more however late the timers (the growth
bound x1.25 would need ~35 ms more on every gap), a 100 ms fixed delay against a 0.1
dispersion for jitter, a 0.3 s timeout against a 1.2 s hold and 0.15 s of slack, a 0.5 s
cool-down against a 1 s resume margin), and the windows are the times the test switched
the dependency, read on the proxy's clock.
"""

from __future__ import annotations

import asyncio
import math

import pytest

from faultlab.patterns.oracles import (
    Evidence,
    OracleResult,
    Status,
    Window,
    amplification,
    bounded_retries,
    circuit_breaker,
    concurrency_limit,
    timeout,
)

from .oracle_clients import (
    Breaker,
    Retry,
    RetryBudget,
    bench,
    budgeted_calls,
    calls_through,
    fixed_delay,
    full_jitter,
    immediate,
    limited_calls,
    now,
    phases,
    retrying_requests,
    setting,
    timed_calls,
)

pytestmark = pytest.mark.slow


def explained(result: OracleResult) -> str:
    return f"{result.status}: {result.summary} | {result.reasons} | {result.signature}"


def broken_for_reasons(result: OracleResult, *phrases: str) -> None:
    """The result is broken for exactly these reasons (each named by a phrase in it)."""
    assert result.status is Status.BROKEN, explained(result)
    assert len(result.reasons) == len(phrases), explained(result)
    for reason, phrase in zip(result.reasons, phrases, strict=True):
        assert phrase in reason, explained(result)


# --- bounded_retries: the dependency fails each request's first 5 attempts -------------------

BOUND = 4
FAILED_FIRST = 5
RETRIED = 40  # client requests, 25 ms apart: few at once, so the loop adds little to a gap

RETRIES: dict[str, tuple[Retry, tuple[str, ...], int]] = {
    # client: (policy, the reasons it is broken for, the attempts each request makes)
    "immediate": (immediate(BOUND), ("retries immediately",), BOUND),
    "fixed-delay": (fixed_delay(0.100, BOUND), ("do not grow", "no jitter"), BOUND),
    "unbounded": (full_jitter(0.040, None, cap=0.160), ("not bounded",), FAILED_FIRST + 1),
    "exponential-full-jitter": (full_jitter(0.040, BOUND), (), BOUND),
}


@pytest.mark.parametrize("name", list(RETRIES))
async def test_bounded_retries_on_a_real_flaky_dependency(name: str) -> None:
    policy, broken_for, attempts = RETRIES[name]
    async with bench() as b:
        b.dependency.fail_first = FAILED_FIRST
        start = now()
        made = await retrying_requests(b.url, policy, requests=RETRIED, every=0.025, seed=11)
        ev = await b.evidence(Window(start, now()))
    assert made == [attempts] * RETRIED
    result = bounded_retries(ev, max_attempts=BOUND)
    sig = result.signature
    assert (sig["requests"], sig["retried_requests"], sig["max_attempts"]) == (
        RETRIED, RETRIED, attempts), explained(result)
    if broken_for:
        broken_for_reasons(result, *broken_for)
    else:
        assert result.status is Status.VERIFIED, explained(result)
        assert float(sig["growth_2_over_1"]) >= 1.25 and float(sig["gap_1_dispersion"]) > 0.1


# --- circuit_breaker: the proxy answers every call 503 for 1.5 s, after 1 s of steady state ---

RATE = 50.0  # calls per second, open loop
BEFORE, FAULT, AFTER = 1.0, 1.5, 2.5  # after: the 0.5 s cool-down + 1 s margin + 0.5 s window
COOL_DOWN = 0.5

BREAKERS: dict[str, tuple[Breaker | None, tuple[str, ...]]] = {
    "no-breaker": (None, ("no breaker opened",)),
    "never-closes": (Breaker(5, math.inf), ("did not resume",)),
    "small-breaker": (Breaker(5, COOL_DOWN), ()),
}


@pytest.mark.parametrize("name", list(BREAKERS))
async def test_circuit_breaker_on_a_real_outage(name: str) -> None:
    breaker, broken_for = BREAKERS[name]
    async with bench() as b:
        start = now()
        async with asyncio.TaskGroup() as tg:
            tg.create_task(calls_through(b.url, breaker, rate=RATE,
                                         duration=BEFORE + FAULT + AFTER, seed=5))
            marks = tg.create_task(phases((BEFORE, b.outage(True)), (FAULT, b.outage(False))))
        fault_start, fault_end = marks.result()
        ev = await b.evidence(Window(fault_start, fault_end), before=Window(start, fault_start),
                              after=Window(fault_end, now()))
    result = circuit_breaker(ev, cool_down=COOL_DOWN, open_within=0.5)
    if broken_for:
        broken_for_reasons(result, *broken_for)
    else:
        assert result.status is Status.VERIFIED, explained(result)
        sig = result.signature
        assert int(sig["failures_before_open"]) >= 5 and int(sig["probes"]) >= 1
        assert float(sig["resumed_after_s"]) >= 0


# --- timeout: the dependency holds every answer 1.2 s ----------------------------------------

HOLD = 1.2
TIMEOUT = 0.3
#: over the timeout, what a busy machine may add before the caller's timer fires and the proxy
#: sees the close (a CPU hog on both cores once put 0.24 s on one attempt); the bound, 0.9 s,
#: stays below the 1.2 s hold that a caller without a timeout waits out
SLACK = 0.6

TIMEOUTS: dict[str, tuple[float | None, tuple[str, ...]]] = {
    "no-timeout": (None, ("the caller has no timeout below",)),
    "timeout": (TIMEOUT, ()),
}


@pytest.mark.parametrize("name", list(TIMEOUTS))
async def test_timeout_on_a_real_hanging_dependency(name: str) -> None:
    client_timeout, broken_for = TIMEOUTS[name]
    async with bench() as b:
        b.dependency.hold = HOLD
        start = now()
        await timed_calls(b.url, timeout=client_timeout, count=20, every=0.025, seed=3)
        requests = await b.requests()  # the hold lasts until the proxy saw every call end
        ev = Evidence(requests, Window(start, now()))
    result = timeout(ev, timeout=TIMEOUT, slack=SLACK)
    assert result.signature["attempts"] == 20, explained(result)
    if broken_for:
        broken_for_reasons(result, *broken_for)
        assert float(result.signature["p50_s"]) >= HOLD
    else:
        assert result.status is Status.VERIFIED, explained(result)
        assert result.signature["abandoned_share"] == 1.0


# --- concurrency_limit: 100 calls/s; for 0.7 s the dependency holds each 0.2 s ---------------

LIMIT = 5  # the load would keep 100/s x 0.2 s = 20 in flight

LIMITS: dict[str, tuple[int | None, tuple[str, ...]]] = {
    "unbounded": (None, ("requests were in flight at once",)),
    "semaphore": (LIMIT, ()),
}


@pytest.mark.parametrize("name", list(LIMITS))
async def test_concurrency_limit_on_a_real_slow_dependency(name: str) -> None:
    limit, broken_for = LIMITS[name]
    async with bench() as b:
        dependency = b.dependency
        start = now()
        async with asyncio.TaskGroup() as tg:
            tg.create_task(limited_calls(b.url, limit=limit, count=100, every=0.01, seed=8))
            marks = tg.create_task(phases((0.3, setting(dependency, "hold", 0.2)),
                                          (0.7, setting(dependency, "hold", 0.0))))
        fault_start, fault_end = marks.result()
        ev = await b.evidence(Window(fault_start, fault_end), before=Window(start, fault_start))
    result = concurrency_limit(ev, limit=LIMIT)
    if broken_for:
        broken_for_reasons(result, *broken_for)
    else:
        assert result.status is Status.VERIFIED, explained(result)
        assert result.signature["limit_tested"] == 1, explained(result)
        assert result.signature["max_in_flight"] == LIMIT


# --- amplification: the proxy answers every call 503 for 1.5 s -------------------------------

BUDGETS: dict[str, tuple[float | None, tuple[str, ...]]] = {
    # client: (its retry budget, the reasons it is broken for); three attempts at most
    "no-budget": (None, ("no retry budget",)),  # every call made 3 times: x3
    "budget-10%": (0.1, ()),  # one retry per ten calls, two banked: ~x1.13
}


@pytest.mark.parametrize("name", list(BUDGETS))
async def test_amplification_on_a_real_outage(name: str) -> None:
    share, broken_for = BUDGETS[name]
    async with bench() as b:
        start = now()
        async with asyncio.TaskGroup() as tg:
            # a bank of two tokens at most: the before second's earnings cannot burst
            tg.create_task(budgeted_calls(b.url, RetryBudget(share, cap=2.0), attempts=3,
                                          rate=RATE, duration=BEFORE + FAULT + 0.5, seed=11))
            marks = tg.create_task(phases((BEFORE, b.outage(True)), (FAULT, b.outage(False))))
        fault_start, fault_end = marks.result()
        ev = await b.evidence(Window(fault_start, fault_end), before=Window(start, fault_start))
    result = amplification(ev, max_ratio=1.1)
    if broken_for:
        broken_for_reasons(result, *broken_for)
        assert float(result.signature["ratio"]) > 2.0, explained(result)
    else:
        assert result.status is Status.VERIFIED, explained(result)

