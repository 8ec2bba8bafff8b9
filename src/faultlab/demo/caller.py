"""One call to a dependency, made resilient: bulkhead, deadline, breaker, timeouts, retries.

:class:`ResilientCaller` composes the primitives of :mod:`.resilience` around an *attempt
function* that makes one try within a given timeout and reports an :class:`Attempt`. It knows
nothing of HTTP, so the whole retry/breaker choreography is unit-tested with a fake clock, a
fake sleep and scripted attempts (see ``tests/demo/test_demo_caller.py``).

Order of the guards, and why:

1. The bulkhead first: a call refused for lack of capacity must not consume a breaker probe.
2. One :class:`Deadline` for the whole call, so retries can never stretch it past its budget;
   each attempt gets ``min(attempt_timeout, time left)``.
3. The breaker is asked before *each* attempt: once it opens, the call stops retrying into it.
4. A retry happens only if the policy allows it and, after the backoff, at least
   ``min_attempt`` seconds would be left for it (a 2 ms attempt is only noise).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from faultlab.demo.resilience import (
    BreakerConfig,
    Bulkhead,
    CircuitBreaker,
    Deadline,
    Outcome,
    RetryPolicy,
)

__all__ = ["Attempt", "CallResult", "ResilienceConfig", "ResilientCaller"]

T = TypeVar("T")


@dataclass(frozen=True)
class Attempt(Generic[T]):
    """What one try came to; ``value`` is set when the dependency answered at all."""

    outcome: Outcome
    value: T | None = None
    detail: str = ""


@dataclass(frozen=True)
class CallResult(Generic[T]):
    """The result of a whole call: the last attempt's outcome, plus how many were made."""

    outcome: Outcome
    value: T | None
    attempts: int
    detail: str = ""


@dataclass(frozen=True)
class ResilienceConfig:
    """Every knob of a resilient dependency, in seconds; see :mod:`.budget` for the values."""

    attempt_timeout: float
    deadline: float
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    breaker: BreakerConfig = field(default_factory=BreakerConfig)
    bulkhead_limit: int = 64
    min_attempt: float = 0.01

    def __post_init__(self) -> None:
        if not 0 < self.attempt_timeout <= self.deadline:
            raise ValueError("need 0 < attempt_timeout <= deadline")


AttemptFn = Callable[[float], Awaitable[Attempt[T]]]
Sleep = Callable[[float], Awaitable[None]]


class ResilientCaller:
    """Runs calls to one dependency; holds that dependency's breaker and bulkhead."""

    def __init__(
        self,
        config: ResilienceConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.config = config
        self.breaker = CircuitBreaker(config.breaker, clock)
        self.bulkhead = Bulkhead(config.bulkhead_limit)
        self._clock = clock
        self._rng = rng or random.Random()
        self._sleep = sleep

    async def call(self, method: str, attempt: AttemptFn[T]) -> CallResult[T]:
        """Make up to ``1 + max_retries`` attempts within the deadline; never raises for
        dependency failures (they come back as the result's outcome)."""
        if not self.bulkhead.try_acquire():
            return CallResult(Outcome.REJECTED, None, 0, "bulkhead full")
        try:
            return await self._attempts(method, attempt)
        finally:
            self.bulkhead.release()

    async def _attempts(self, method: str, attempt: AttemptFn[T]) -> CallResult[T]:
        cfg = self.config
        deadline = Deadline(cfg.deadline, self._clock)
        made = 0
        while True:
            if not self.breaker.allow():
                return CallResult(Outcome.REJECTED, None, made, "circuit open")
            made += 1
            result = await self._one(attempt, min(cfg.attempt_timeout, deadline.remaining()))
            if not cfg.retry.should_retry(method, result.outcome, made - 1):
                return CallResult(result.outcome, result.value, made, result.detail)
            delay = cfg.retry.backoff(made - 1, self._rng)
            if deadline.remaining() - delay < cfg.min_attempt:
                return CallResult(result.outcome, result.value, made, result.detail)
            await self._sleep(delay)

    async def _one(self, attempt: AttemptFn[T], budget: float) -> Attempt[T]:
        """One attempt, with its verdict reported to the breaker even if we are cancelled."""
        try:
            result = await attempt(budget)
        except BaseException:
            self.breaker.record_abandoned()
            raise
        if result.outcome.is_dependency_failure:
            self.breaker.record_failure()
        else:
            self.breaker.record_success()
        return result
