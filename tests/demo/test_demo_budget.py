"""The resilient variant's time budget meets the demo SLO on every path, by construction.

Each scenario is played through the real ResilientCaller with the real configs in virtual
time; the worst case of each tier is then composed the way the processes compose them.
"""

from __future__ import annotations

import random

import pytest

from faultlab.demo.budget import HOP_MARGIN, INVENTORY_TO_DATA, SLO_P99, STOREFRONT_TO_INVENTORY
from faultlab.demo.caller import Attempt, ResilienceConfig, ResilientCaller
from faultlab.demo.resilience import Outcome


class Repeating:
    """Virtual time, and a dependency whose every attempt ends in ``outcome`` after ``takes``
    seconds (None: the attempt's whole budget, i.e. a timeout)."""

    def __init__(self, outcome: Outcome, takes: float | None) -> None:
        self.outcome = outcome
        self.takes = takes
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds

    async def attempt(self, budget: float) -> Attempt[None]:
        self.now += budget if self.takes is None else min(self.takes, budget)
        return Attempt(self.outcome)


async def worst_case(config: ResilienceConfig, outcome: Outcome, takes: float | None) -> float:
    """The longest one call takes against :class:`Repeating`, over many jitter seeds."""
    worst = 0.0
    for seed in range(200):
        vt = Repeating(outcome, takes)
        caller = ResilientCaller(config, clock=vt.clock, rng=random.Random(seed), sleep=vt.sleep)
        result = await caller.call("GET", vt.attempt)
        assert result.outcome is outcome
        worst = max(worst, vt.now)
    return worst


def test_tiers_nest_storefront_never_abandons_an_answer_inventory_is_about_to_give() -> None:
    assert STOREFRONT_TO_INVENTORY.attempt_timeout >= INVENTORY_TO_DATA.deadline + HOP_MARGIN


def test_storefront_deadline_leaves_room_under_the_p99_objective() -> None:
    assert STOREFRONT_TO_INVENTORY.deadline + HOP_MARGIN <= SLO_P99


@pytest.mark.parametrize("config", [INVENTORY_TO_DATA, STOREFRONT_TO_INVENTORY])
async def test_a_hanging_dependency_costs_at_most_the_deadline(config: ResilienceConfig) -> None:
    assert await worst_case(config, Outcome.TIMEOUT, None) <= config.deadline + 1e-9


async def test_data_slowed_by_800ms_keeps_storefront_under_the_slo() -> None:
    inventory = await worst_case(INVENTORY_TO_DATA, Outcome.TIMEOUT, None)
    # Inventory then answers 200 (cache/fallback); storefront makes one attempt.
    assert inventory + HOP_MARGIN <= STOREFRONT_TO_INVENTORY.attempt_timeout
    assert inventory + 2 * HOP_MARGIN <= SLO_P99


async def test_refused_connections_fall_back_within_tens_of_milliseconds() -> None:
    for config in (INVENTORY_TO_DATA, STOREFRONT_TO_INVENTORY):
        # three 1 ms attempts plus two jittered backoffs (≤ 25 ms and ≤ 50 ms)
        assert await worst_case(config, Outcome.CONNECTION_ERROR, 0.001) <= 0.08


async def test_breakers_open_within_a_few_requests() -> None:
    """Five failed attempts open a breaker: two requests with retries against a dead
    dependency, so the "learning" phase is a handful of requests at 50 requests/s."""
    for config in (INVENTORY_TO_DATA, STOREFRONT_TO_INVENTORY):
        vt = Repeating(Outcome.CONNECTION_ERROR, 0.001)
        caller = ResilientCaller(config, clock=vt.clock, rng=random.Random(0), sleep=vt.sleep)
        results = [await caller.call("GET", vt.attempt) for _ in range(3)]
        assert [r.attempts for r in results] == [3, 2, 0]
