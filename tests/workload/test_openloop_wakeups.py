"""The scheduler's wake-ups: at most about one per millisecond whatever the timers' rounding,
overdue arrivals in bounded batches, and the accounting (planned = sent + dropped) kept."""

from __future__ import annotations

import asyncio
import itertools

import pytest
import uvloop

from faultlab.clock import MonotonicClock
from faultlab.workload.openloop import MAX_BATCH, WAKE_TICK_S, OpenLoop

from .http_support import SpyRecorder, SteppingClock


class MillisecondTimerClock(SteppingClock):
    """Virtual time with uvloop's timers: a sleep lasts its delay rounded to whole
    milliseconds, so one under 0.5 ms returns at once (and one of 1.4 ms, 0.4 ms early)."""

    def __init__(self, max_sleeps: int) -> None:
        super().__init__(start=100.0)
        self.sleeps = 0
        self.max_sleeps = max_sleeps

    async def sleep_until(self, deadline: float) -> None:
        self.sleeps += 1
        if self.sleeps > self.max_sleeps:  # the defect: spinning without time moving
            raise AssertionError(f"{self.sleeps} sleeps: the scheduler spins")
        self._now += round((deadline - self._now) * 1000) / 1000
        await asyncio.sleep(0)


async def _nothing(intended: float, i: int) -> None:
    pass


@pytest.mark.parametrize("rate", [700.0, 2000.0, 3300.0, 10_000.0])
async def test_millisecond_timers_wake_the_scheduler_at_most_once_a_millisecond(
        rate: float) -> None:
    seconds = 0.5
    clock = MillisecondTimerClock(max_sleeps=int(2 * seconds / WAKE_TICK_S))
    start = clock.now()
    recorder = SpyRecorder(origin=start)
    loop = OpenLoop(rate, max_in_flight=100_000, clock=clock, recorder=recorder)
    summary = await loop.run(start, start + seconds, _nothing)
    assert summary.planned == summary.sent == len(recorder.sends) == round(rate * seconds)
    # once a millisecond at most; at low rates twice per arrival at most (a sleep rounded
    # down wakes early, then sleeps a tick)
    assert clock.sleeps <= min(2 * summary.planned, seconds / WAKE_TICK_S) * 1.1 + 2
    lags = [actual - intended for intended, actual in recorder.sends]
    assert min(lags) >= 0  # never early
    assert max(lags) <= 2 * WAKE_TICK_S + 1e-9  # a tick, plus a timer's rounding
    assert summary.late == 0


async def test_overdue_arrivals_go_out_in_bounded_batches_and_are_all_counted() -> None:
    """Woken 2 s late at 1,000/s: 2,000 overdue arrivals, in batches of at most MAX_BATCH
    with the event loop running between them; each sent one counted as late."""
    clock = SteppingClock(oversleep=2.0)
    start = clock.now() + 0.001  # the first sleep oversleeps
    ticks = 0
    at_send: list[int] = []

    class Ticking(SpyRecorder):
        def on_sent(self, intended: float, actual: float) -> None:
            at_send.append(ticks)
            super().on_sent(intended, actual)

    recorder = Ticking(origin=start)

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0)
            ticks += 1

    loop = OpenLoop(1000.0, max_in_flight=1500, clock=clock, recorder=recorder)
    tick_task = asyncio.create_task(ticker())
    try:
        summary = await loop.run(start, start + 2.0, _nothing)
    finally:
        tick_task.cancel()
    assert summary.planned == summary.sent + summary.dropped == 2000
    assert summary.dropped == len(recorder.drops)
    batch_sizes = [len(list(g)) for _, g in itertools.groupby(at_send)]
    assert max(batch_sizes) <= MAX_BATCH
    assert len(batch_sizes) >= summary.sent / MAX_BATCH
    assert summary.late == sum(a - i > 0.010 for i, a in recorder.sends)


def test_on_uvloop_the_scheduler_wakes_less_than_once_per_arrival() -> None:
    """Before the tick, uvloop woke the scheduler ~8 times per arrival at 1,000/s and ~17 at
    2,000/s (every sleep under 0.5 ms returns at once)."""

    class Counting(MonotonicClock):
        sleeps = 0

        async def sleep_until(self, deadline: float) -> None:
            Counting.sleeps += 1
            await super().sleep_until(deadline)

    async def main() -> int:
        clock = Counting()
        start = clock.now() + 0.01
        loop = OpenLoop(5000.0, max_in_flight=100_000, clock=clock)
        summary = await loop.run(start, start + 0.4, _nothing)
        assert summary.planned == summary.sent == 2000
        return summary.planned

    planned = uvloop.run(main())
    assert Counting.sleeps < planned
