"""The shared open-loop scheduler, in virtual time: plan, accounting, drops, lag, stop_at,
warm-up, indexes and cancellation. Every test runs on a ManualClock: no real waits, and
every figure is exact."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable

import pytest

from faultlab.clock import ManualClock
from faultlab.workload.openloop import LoadSummary, OpenLoop
from faultlab.workload.stats import Outcome

from .http_support import SpyRecorder


class Arrivals:
    """A launch that records each arrival (intended time, index) and finishes when the clock
    reaches ``intended + latency`` (or, with ``hold``, when the test releases it). When it was
    launched is the recorder's ``sends``: the scheduler's reading at launch."""

    def __init__(self, clock: ManualClock, recorder: SpyRecorder | None = None,
                 latency: float = 0.0, hold: bool = False) -> None:
        self.clock, self.recorder, self.latency = clock, recorder, latency
        self.launched: list[tuple[float, int]] = []
        self.release = asyncio.Event()
        self.hold = hold
        self.cancelled = 0

    async def __call__(self, intended: float, i: int) -> None:
        self.launched.append((intended, i))
        try:
            if self.hold:
                await self.release.wait()
            else:
                await self.clock.sleep_until(intended + self.latency)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        if self.recorder is not None:
            self.recorder.on_done(intended, Outcome.OK, self.clock.now() - intended)


async def drive(clock: ManualClock, task: asyncio.Task[LoadSummary], until: float,
                step: float = 0.01) -> None:
    """Advance virtual time to ``until``, letting every task run between steps."""
    while clock.now() < until - 1e-9 and not task.done():
        for _ in range(5):
            await asyncio.sleep(0)
        await clock.advance(step)


async def test_the_plan_is_start_plus_i_over_rate_each_launched_at_its_time() -> None:
    clock = ManualClock()
    start = clock.now()
    recorder = SpyRecorder(origin=start)
    arrivals = Arrivals(clock, recorder, latency=0.05)
    loop = OpenLoop(20.0, max_in_flight=100, clock=clock, recorder=recorder)
    task = asyncio.create_task(loop.run(start, start + 1.0, arrivals))
    await drive(clock, task, start + 1.2)
    summary = await task
    assert arrivals.launched == [(start + n / 20, n) for n in range(20)]
    # each launched as the clock reached its time: never early, never late
    assert recorder.sends == [(i, i) for i, _ in arrivals.launched]
    assert (summary.planned, summary.sent, summary.dropped, summary.late) == (20, 20, 0, 0)
    assert summary.max_lag == 0.0 and not summary.saturated and summary.reason == ""
    assert len(recorder.dones) == 20  # run returned after every arrival finished


async def test_an_arrival_planned_at_the_cap_is_dropped_and_counted_never_queued() -> None:
    clock = ManualClock()
    start = clock.now()
    recorder = SpyRecorder(origin=start)
    arrivals = Arrivals(clock, recorder, hold=True)
    loop = OpenLoop(10.0, max_in_flight=3, clock=clock, recorder=recorder,
                    noun="operations", cap_reason="all 3 processes were busy")
    task = asyncio.create_task(loop.run(start, start + 1.0, arrivals))
    await drive(clock, task, start + 1.0)
    assert loop.in_flight == 3
    arrivals.release.set()
    summary = await task
    assert [n for _, n in arrivals.launched] == [0, 1, 2]
    assert recorder.drops == [start + n / 10 for n in range(3, 10)]
    assert (summary.planned, summary.sent, summary.dropped) == (10, 3, 7)
    assert summary.saturated
    assert summary.reason == ("7 of 10 planned operations were dropped because all 3 "
                              "processes were busy")
    assert loop.in_flight == 0


async def test_a_late_wake_up_launches_the_overdue_batch_each_with_its_own_time() -> None:
    """A plan whose start has passed (the scheduler woke 0.5 s late): every overdue arrival
    goes out at once, its lag counted from its own intended time."""
    clock = ManualClock()
    start = clock.now() - 0.5
    recorder = SpyRecorder(origin=start)
    arrivals = Arrivals(clock, recorder)
    loop = OpenLoop(10.0, max_in_flight=100, clock=clock, recorder=recorder)
    task = asyncio.create_task(loop.run(start, start + 1.0, arrivals))
    await drive(clock, task, start + 1.1)
    summary = await task
    assert [i for i, _ in recorder.sends] == [start + n / 10 for n in range(10)]
    lags = [round(at - intended, 9) for intended, at in recorder.sends]
    assert lags[:6] == [0.5, 0.4, 0.3, 0.2, 0.1, 0.0]  # the batch, all at once
    assert {at for _, at in recorder.sends[:6]} == {start + 0.5}
    assert lags[6:] == [0.0] * 4  # then back on schedule
    assert summary.late == 5 and summary.max_lag == pytest.approx(0.5)
    assert summary.saturated
    assert "5 of 10 sends (50.0%) went out more than 10 ms after their intended time " \
           "(max lag 500 ms)" in summary.reason


async def test_stop_at_wakes_the_sleeping_scheduler_and_running_arrivals_finish() -> None:
    clock = ManualClock()
    start = clock.now()
    arrivals = Arrivals(clock, latency=0.3)
    loop = OpenLoop(2.0, max_in_flight=100, clock=clock)
    task = asyncio.create_task(loop.run(start, math.inf, arrivals))
    await drive(clock, task, start + 0.1)  # arrival 0 out; the next is planned at 0.5
    loop.stop_at(clock.now())
    for _ in range(10):
        await asyncio.sleep(0)
    assert not task.done()  # arrival 0 still runs...
    await drive(clock, task, start + 0.35)
    summary = await task  # ...and run returns once it has finished, without planning more
    assert summary.planned == 1 and [n for _, n in arrivals.launched] == [0]


async def test_stop_at_before_run_applies_to_that_run_only() -> None:
    clock = ManualClock()
    start = clock.now()
    loop = OpenLoop(10.0, max_in_flight=100, clock=clock)
    loop.stop_at(start + 0.25)
    task = asyncio.create_task(loop.run(start, start + 1.0, Arrivals(clock)))
    await drive(clock, task, start + 1.0)
    first = await task
    task = asyncio.create_task(loop.run(clock.now(), clock.now() + 0.5, Arrivals(clock)))
    await drive(clock, task, clock.now() + 0.6)
    assert (first.planned, (await task).planned) == (3, 5)


async def test_arrivals_before_the_origin_are_the_warm_up_and_not_measured() -> None:
    clock = ManualClock()
    start = clock.now()
    origin = start + 0.5
    recorder = SpyRecorder(origin=origin)
    arrivals = Arrivals(clock, recorder, latency=0.7)  # slow warm-up requests...
    loop = OpenLoop(10.0, max_in_flight=100, clock=clock, recorder=recorder)
    task = asyncio.create_task(loop.run(start - 0.2, start + 1.5, arrivals, origin=origin))
    await drive(clock, task, start + 2.5)
    summary = await task
    # Planned from start - 0.2: two arrivals overdue (lag 0.2 and 0.1), all before origin.
    assert (summary.warmup.planned, summary.warmup.sent) == (7, 7)
    assert summary.warmup.max_lag == pytest.approx(0.2)
    assert (summary.planned, summary.sent, summary.late, summary.max_lag) == (10, 10, 0, 0.0)
    assert not summary.saturated  # the warm-up's lag is its own
    seconds = recorder.close_all(start + 1.5)
    assert [s.index for s in seconds] == [0]
    assert (seconds[0].sent, seconds[0].ok) == (10, 10)
    assert (recorder.warmup.sent, recorder.warmup.ok) == (7, 7)  # ...counted apart


async def test_launch_gets_the_plan_index_and_dropped_ones_keep_theirs() -> None:
    clock = ManualClock()
    start = clock.now()
    arrivals = Arrivals(clock, latency=0.25)
    loop = OpenLoop(10.0, max_in_flight=2, clock=clock)
    task = asyncio.create_task(loop.run(start, start + 1.0, arrivals))
    await drive(clock, task, start + 1.3)
    await task
    # two in flight for 0.25 s: arrivals 2 (at 0.2) and 5 (at 0.5)... are dropped
    assert [n for _, n in arrivals.launched] == [0, 1, 3, 4, 6, 7, 9]


async def test_cancelling_run_cancels_every_running_arrival() -> None:
    clock = ManualClock()
    start = clock.now()
    arrivals = Arrivals(clock, hold=True)
    loop = OpenLoop(10.0, max_in_flight=100, clock=clock)
    task = asyncio.create_task(loop.run(start, math.inf, arrivals))
    await drive(clock, task, start + 0.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert arrivals.cancelled == len(arrivals.launched) == 5
    assert loop.in_flight == 0


def test_bad_parameters_say_what_is_wrong() -> None:
    clock = ManualClock()
    with pytest.raises(ValueError, match="rate must be a positive number"):
        OpenLoop(0.0, max_in_flight=1, clock=clock)
    with pytest.raises(ValueError, match="max_in_flight must be at least 1"):
        OpenLoop(1.0, max_in_flight=0, clock=clock)


class Immediate:
    """A :data:`LaunchNow` that takes the even arrivals (no task) and holds each until the
    test finishes it; the odd ones it refuses, so they run as ``launch`` tasks."""

    def __init__(self) -> None:
        self.taken: list[tuple[int, Callable[[BaseException | None], None]]] = []

    def __call__(self, intended: float, i: int,
                 done: Callable[[BaseException | None], None]) -> bool:
        if i % 2:
            return False
        self.taken.append((i, done))
        return True

    def finish(self, error: BaseException | None = None) -> None:
        taken, self.taken = self.taken, []
        for _, done in taken:
            done(error)


async def _with_immediate(cap: int, stop: float, until: float) -> tuple[
        OpenLoop, Arrivals, Immediate, asyncio.Task[LoadSummary]]:
    """10 arrivals a second until ``stop``, offered to an :class:`Immediate` first; driven
    in virtual time to ``until``."""
    clock = ManualClock()
    start = clock.now()
    arrivals, now = Arrivals(clock, latency=0.05), Immediate()
    loop = OpenLoop(10.0, max_in_flight=cap, clock=clock)
    task = asyncio.create_task(loop.run(start, start + stop, arrivals, now=now))
    await drive(clock, task, start + until)
    return loop, arrivals, now, task


async def test_arrivals_taken_without_a_task_count_and_are_waited_for() -> None:
    loop, arrivals, now, task = await _with_immediate(100, 1.0, 1.3)
    assert [i for i, _ in now.taken] == [0, 2, 4, 6, 8]
    assert [i for _, i in arrivals.launched] == [1, 3, 5, 7, 9]
    assert not task.done() and loop.in_flight == 5  # the plan is over; five still running
    now.finish()
    summary = await task
    assert summary.sent == 10 and loop.in_flight == 0


async def test_arrivals_taken_without_a_task_hold_the_cap() -> None:
    _, arrivals, now, task = await _with_immediate(1, 1.0, 1.3)
    assert [i for i, _ in now.taken] == [0] and not arrivals.launched  # 1..9: at the cap
    now.finish()
    summary = await task
    assert (summary.sent, summary.dropped) == (1, 9)


async def test_an_error_reporting_an_arrival_taken_without_a_task_ends_the_run() -> None:
    _, _, now, task = await _with_immediate(100, math.inf, 0.35)
    now.finish(RuntimeError("a bug in the recorder"))  # ends the plan at once
    with pytest.raises(ExceptionGroup) as info:  # and cancels its tasks, as a task's would
        await task
    assert [repr(e) for e in info.value.exceptions] == ["RuntimeError('a bug in the recorder')"]
