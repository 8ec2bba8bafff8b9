"""The retry/breaker/bulkhead choreography of ResilientCaller, in virtual time.

Attempts are scripted: each one "takes" some virtual seconds and reports an outcome, so the
tests see exactly which budgets the caller hands out and when it stops.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence

import pytest

from faultlab.demo.caller import Attempt, ResilienceConfig, ResilientCaller
from faultlab.demo.resilience import BreakerConfig, BreakerState, Outcome, RetryPolicy

CONFIG = ResilienceConfig(
    attempt_timeout=0.06,
    deadline=0.12,
    retry=RetryPolicy(max_retries=2, base_delay=0.005, max_delay=0.02),
    breaker=BreakerConfig(consecutive_failures=5, cool_down=1.0),
    bulkhead_limit=2,
    min_attempt=0.01,
)


class VirtualTime:
    """A clock and a sleep that moves it, plus a record of every sleep."""

    def __init__(self) -> None:
        self.now = 50.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


class Script:
    """An attempt function that plays back ``(outcome, seconds taken)`` steps (the last repeats);
    a step's time ``None`` means "used its whole budget" (a timeout)."""

    def __init__(self, vt: VirtualTime, steps: Sequence[tuple[Outcome, float | None]]) -> None:
        self.vt = vt
        self.steps = list(steps)
        self.budgets: list[float] = []

    async def __call__(self, budget: float) -> Attempt[str]:
        self.budgets.append(budget)
        outcome, took = self.steps[min(len(self.budgets), len(self.steps)) - 1]
        self.vt.now += budget if took is None else took
        return Attempt(outcome, "answer" if outcome is Outcome.OK else None)


def make(config: ResilienceConfig = CONFIG) -> tuple[ResilientCaller, VirtualTime]:
    vt = VirtualTime()
    caller = ResilientCaller(config, clock=vt.clock, rng=random.Random(1), sleep=vt.sleep)
    return caller, vt


async def test_a_healthy_dependency_costs_one_attempt() -> None:
    caller, vt = make()
    script = Script(vt, [(Outcome.OK, 0.001)])
    result = await caller.call("GET", script)
    assert (result.outcome, result.value, result.attempts) == (Outcome.OK, "answer", 1)
    assert script.budgets == [0.06]
    assert vt.sleeps == []


async def test_a_refused_connection_is_retried_after_a_jittered_backoff() -> None:
    caller, vt = make()
    script = Script(vt, [(Outcome.CONNECTION_ERROR, 0.001), (Outcome.OK, 0.001)])
    result = await caller.call("GET", script)
    assert (result.outcome, result.attempts) == (Outcome.OK, 2)
    assert len(vt.sleeps) == 1
    assert 0 <= vt.sleeps[0] <= 0.005


async def test_at_most_two_retries() -> None:
    caller, vt = make()
    script = Script(vt, [(Outcome.SERVER_ERROR, 0.001)])
    result = await caller.call("GET", script)
    assert (result.outcome, result.attempts) == (Outcome.SERVER_ERROR, 3)
    assert [s <= bound for s, bound in zip(vt.sleeps, [0.005, 0.01], strict=True)] == [True] * 2


@pytest.mark.parametrize(
    ("method", "outcome"),
    [("GET", Outcome.CLIENT_ERROR), ("POST", Outcome.CONNECTION_ERROR)],
)
async def test_no_retry_for_client_errors_or_non_idempotent_methods(
    method: str, outcome: Outcome
) -> None:
    caller, vt = make()
    script = Script(vt, [(outcome, 0.001), (Outcome.OK, 0.001)])
    result = await caller.call(method, script)
    assert (result.outcome, result.attempts) == (outcome, 1)


async def test_timeouts_stay_within_the_overall_deadline() -> None:
    caller, vt = make()
    start = vt.now
    script = Script(vt, [(Outcome.TIMEOUT, None)])
    result = await caller.call("GET", script)
    assert result.outcome is Outcome.TIMEOUT
    assert script.budgets[0] == 0.06
    assert len(script.budgets) == 2  # a third would get less than min_attempt
    assert script.budgets[1] == pytest.approx(0.06 - vt.sleeps[0])
    assert vt.now - start <= CONFIG.deadline + 1e-9


async def test_breaker_opens_across_calls_and_then_fails_fast() -> None:
    caller, vt = make()
    script = Script(vt, [(Outcome.CONNECTION_ERROR, 0.001)])
    first, second = await caller.call("GET", script), await caller.call("GET", script)
    assert (first.attempts, second.attempts) == (3, 2)  # 5 failures: open mid-call
    assert second.outcome is Outcome.REJECTED
    assert caller.breaker.state is BreakerState.OPEN
    made = len(script.budgets)
    third = await caller.call("GET", script)
    assert (third.outcome, third.attempts, third.detail) == (Outcome.REJECTED, 0, "circuit open")
    assert len(script.budgets) == made  # the dependency was not called


async def test_after_the_cool_down_one_probe_closes_the_breaker() -> None:
    caller, vt = make()
    await caller.call("GET", Script(vt, [(Outcome.CONNECTION_ERROR, 0.001)]))
    await caller.call("GET", Script(vt, [(Outcome.CONNECTION_ERROR, 0.001)]))
    vt.now += CONFIG.breaker.cool_down
    result = await caller.call("GET", Script(vt, [(Outcome.OK, 0.001)]))
    assert (result.outcome, result.attempts) == (Outcome.OK, 1)
    assert caller.breaker.state is BreakerState.CLOSED


async def test_a_full_bulkhead_rejects_without_calling() -> None:
    caller, _ = make()
    release = asyncio.Event()
    entered = 0

    async def held(budget: float) -> Attempt[str]:
        nonlocal entered
        entered += 1
        await release.wait()
        return Attempt(Outcome.OK, "late")

    holders = [asyncio.create_task(caller.call("GET", held)) for _ in range(2)]
    await asyncio.sleep(0)
    rejected = await caller.call("GET", held)
    assert (rejected.outcome, rejected.attempts, rejected.detail) == (
        Outcome.REJECTED,
        0,
        "bulkhead full",
    )
    release.set()
    assert [r.outcome for r in await asyncio.gather(*holders)] == [Outcome.OK, Outcome.OK]
    assert entered == 2
    assert caller.bulkhead.in_use == 0


async def test_cancelling_a_probe_frees_the_bulkhead_and_the_probe_slot() -> None:
    caller, vt = make()
    await caller.call("GET", Script(vt, [(Outcome.CONNECTION_ERROR, 0.001)]))
    await caller.call("GET", Script(vt, [(Outcome.CONNECTION_ERROR, 0.001)]))
    vt.now += CONFIG.breaker.cool_down

    async def hangs(budget: float) -> Attempt[str]:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    probe = asyncio.create_task(caller.call("GET", hangs))
    await asyncio.sleep(0)
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe
    assert caller.bulkhead.in_use == 0
    assert caller.breaker.allow()  # a new probe may go


def test_config_rejects_an_attempt_timeout_beyond_the_deadline() -> None:
    with pytest.raises(ValueError, match="attempt_timeout <= deadline"):
        ResilienceConfig(attempt_timeout=0.5, deadline=0.2)
