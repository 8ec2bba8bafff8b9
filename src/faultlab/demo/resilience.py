"""Resilience primitives for the demo's resilient variant, small enough to read in one sitting.

Each primitive does no I/O: time comes from an injected ``clock`` (a function returning
monotonic seconds, ``time.monotonic`` by default) and randomness from an injected
``random.Random``, so unit tests drive them with a fake clock and a seeded generator. The
async code that composes them into a call to a dependency lives in :mod:`.caller`.

- :class:`Outcome`: what one attempt came to; decides what is retried and what trips a breaker.
- :class:`RetryPolicy`: which outcomes are retried and the exponential backoff with full jitter.
- :class:`Deadline`: the overall time budget of one call, across all its attempts.
- :class:`CircuitBreaker`: stops calling a dependency that keeps failing, probes it later.
- :class:`Bulkhead`: caps concurrent calls to a dependency and fails fast when full.
- :class:`FallbackCache`: the last known good value per key, for answers when all else fails.
"""

from __future__ import annotations

import enum
import random
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = [
    "BreakerConfig",
    "BreakerState",
    "Bulkhead",
    "CircuitBreaker",
    "Deadline",
    "FallbackCache",
    "Outcome",
    "RetryPolicy",
]

Clock = Callable[[], float]
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Outcome(enum.Enum):
    """What one attempt (or a whole call) came to. Failures are data here, not exceptions."""

    OK = "ok"
    CLIENT_ERROR = "client_error"  # 4xx: our request was wrong; the dependency is healthy
    SERVER_ERROR = "server_error"  # 5xx, or a body we cannot use
    TIMEOUT = "timeout"
    CONNECTION_ERROR = "connection_error"  # refused, reset, closed before a response
    REJECTED = "rejected"  # breaker open or bulkhead full: nothing was sent

    @property
    def is_dependency_failure(self) -> bool:
        """Whether this says the dependency is unwell (what a breaker counts)."""
        return self in {Outcome.SERVER_ERROR, Outcome.TIMEOUT, Outcome.CONNECTION_ERROR}


@dataclass(frozen=True)
class RetryPolicy:
    """Retry idempotent requests on transient failures, with capped exponential full jitter.

    Full jitter (a delay drawn uniformly from ``[0, min(max_delay, base_delay * 2**n)]``)
    spreads the retries of many clients apart, so a dependency that hiccups is not hit by a
    synchronized wave of them. Only GET and HEAD are retried: repeating anything else might
    apply it twice. 4xx and rejections are never retried: the answer would be the same.
    """

    max_retries: int = 2
    base_delay: float = 0.01
    max_delay: float = 0.1
    idempotent_methods: frozenset[str] = frozenset({"GET", "HEAD"})

    def should_retry(self, method: str, outcome: Outcome, retries_done: int) -> bool:
        return (
            retries_done < self.max_retries
            and method.upper() in self.idempotent_methods
            and outcome.is_dependency_failure
        )

    def backoff(self, retry_number: int, rng: random.Random) -> float:
        """Seconds to wait before retry ``retry_number`` (0 for the first retry)."""
        ceiling = min(self.max_delay, self.base_delay * (2.0**retry_number))
        return rng.uniform(0.0, ceiling)


class Deadline:
    """An absolute point in time by which a whole call (all attempts) must be done."""

    def __init__(self, budget: float, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._at = clock() + budget

    def remaining(self) -> float:
        return max(0.0, self._at - self._clock())

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0.0


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class BreakerConfig:
    """When a :class:`CircuitBreaker` opens and how long it waits before probing.

    It opens on ``consecutive_failures`` in a row (reacts fast to a dependency that is plainly
    down) or when at least ``min_calls`` calls in the last ``window`` seconds failed with a
    ratio of ``failure_ratio`` or more (catches a dependency that fails often but not always).
    """

    consecutive_failures: int = 5
    failure_ratio: float = 0.5
    min_calls: int = 10
    window: float = 5.0
    cool_down: float = 1.0


class CircuitBreaker:
    """Closed → open → half-open → closed, so a failing dependency costs nothing per call.

    Invariants: while OPEN and the cool-down has not passed, :meth:`allow` is False (callers
    fail fast without touching the dependency). Once it has, the breaker is HALF_OPEN and
    admits exactly one probe at a time; the probe's success closes it (with a fresh window),
    its failure re-opens it for another cool-down. Every admitted call must end in exactly one
    of :meth:`record_success`, :meth:`record_failure` or :meth:`record_abandoned`.
    """

    def __init__(self, config: BreakerConfig | None = None, clock: Clock = time.monotonic) -> None:
        self.config = config or BreakerConfig()
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._opened_at = 0.0
        self._probe_in_flight = False
        self._consecutive = 0
        self._window: deque[tuple[float, bool]] = deque()  # (when, failed)
        self._failures_in_window = 0

    @property
    def state(self) -> BreakerState:
        if (
            self._state is BreakerState.OPEN
            and self._clock() - self._opened_at >= self.config.cool_down
        ):
            self._state = BreakerState.HALF_OPEN
            self._probe_in_flight = False
        return self._state

    def allow(self) -> bool:
        """Whether a call may go to the dependency now; in half-open, the caller is the probe."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._probe_in_flight:
            self._probe_in_flight = True
            return True
        return False

    def record_success(self) -> None:
        if self.state is BreakerState.HALF_OPEN:
            self._close()
            return
        self._consecutive = 0
        self._remember(failed=False)

    def record_failure(self) -> None:
        state = self.state
        if state is BreakerState.HALF_OPEN:
            self._open()
            return
        if state is BreakerState.OPEN:
            return  # a straggler admitted before the breaker opened
        self._consecutive += 1
        self._remember(failed=True)
        calls = len(self._window)
        ratio_tripped = (
            calls >= self.config.min_calls
            and self._failures_in_window / calls >= self.config.failure_ratio
        )
        if self._consecutive >= self.config.consecutive_failures or ratio_tripped:
            self._open()

    def record_abandoned(self) -> None:
        """The admitted call ended without a verdict (cancelled): free the probe slot."""
        self._probe_in_flight = False

    def _remember(self, *, failed: bool) -> None:
        now = self._clock()
        self._window.append((now, failed))
        self._failures_in_window += failed
        while self._window and now - self._window[0][0] > self.config.window:
            _, old_failed = self._window.popleft()
            self._failures_in_window -= old_failed

    def _open(self) -> None:
        self._state = BreakerState.OPEN
        self._opened_at = self._clock()
        self._probe_in_flight = False

    def _close(self) -> None:
        self._state = BreakerState.CLOSED
        self._probe_in_flight = False
        self._consecutive = 0
        self._window.clear()
        self._failures_in_window = 0


class Bulkhead:
    """At most ``limit`` calls in flight to one dependency; the next one is refused at once.

    Refusing (rather than queueing) keeps a slow dependency from piling up waiting requests,
    memory and latency in the caller; the refused call takes its fallback instead. Acquire
    and release happen on the event loop thread, so no lock is needed.
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"bulkhead limit must be at least 1, got {limit}")
        self.limit = limit
        self.in_use = 0

    def try_acquire(self) -> bool:
        if self.in_use >= self.limit:
            return False
        self.in_use += 1
        return True

    def release(self) -> None:
        if self.in_use <= 0:
            raise RuntimeError("bulkhead released more often than acquired")
        self.in_use -= 1


class FallbackCache(Generic[K, V]):
    """The last known good value per key, bounded by least-recent use.

    A stale value is usually a better answer than an error (stock counts change slowly); the
    bound keeps a stream of distinct ids from growing the process without limit.
    """

    def __init__(self, max_entries: int = 10_000) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self.max_entries = max_entries
        self._entries: OrderedDict[K, V] = OrderedDict()

    def put(self, key: K, value: V) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def get(self, key: K) -> V | None:
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    def __len__(self) -> int:
        return len(self._entries)
