"""Time for faultlab code comes from a :class:`Clock`, never from ``time`` directly.

The runner, the workload scheduler and the SLO evaluator take a clock so that tests can drive
them in virtual time with :class:`ManualClock`. ``now()`` is monotonic seconds; ``wall()`` is
Unix time for journals and reports only (never for measuring intervals).
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

__all__ = ["Clock", "ManualClock", "MonotonicClock"]


class Clock(Protocol):
    def now(self) -> float:
        """Monotonic seconds; only differences are meaningful."""

    def wall(self) -> float:
        """Unix time, for timestamps that people read."""

    async def sleep_until(self, deadline: float) -> None:
        """Return once ``now() >= deadline`` (at once if it already is)."""


class MonotonicClock:
    """The real clock: ``time.monotonic`` plus the event loop's timers."""

    def now(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()

    async def sleep_until(self, deadline: float) -> None:
        delay = deadline - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)


class ManualClock:
    """A clock that moves only when a test calls :meth:`advance`; sleepers wake in order."""

    def __init__(self, start: float = 1000.0, wall_offset: float = 1_700_000_000.0) -> None:
        self._now = start
        self._wall_offset = wall_offset - start
        self._waiters: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = 0

    def now(self) -> float:
        return self._now

    def wall(self) -> float:
        return self._now + self._wall_offset

    async def sleep_until(self, deadline: float) -> None:
        if deadline <= self._now:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._seq += 1
        self._waiters.append((deadline, self._seq, fut))
        await fut

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking every sleeper whose deadline is reached, in deadline order."""
        target = self._now + seconds
        while True:
            due = sorted((w for w in self._waiters if w[0] <= target), key=lambda w: (w[0], w[1]))
            if not due:
                break
            deadline, _, fut = due[0]
            self._waiters.remove(due[0])
            self._now = max(self._now, deadline)
            if not fut.done():
                fut.set_result(None)
            for _ in range(5):
                await asyncio.sleep(0)
        self._now = target
