"""The open-loop schedule: the plan, lateness, stalls, the in-flight cap, cancellation.

Timing assertions are deliberately loose (shared CI machines); the exact properties (the plan,
accounting) are asserted exactly, several of them in virtual time.
"""

from __future__ import annotations

import asyncio
import gc
import math
import warnings
from typing import Any

import aiohttp
import pytest

import faultlab.workload.http as http_mod
import faultlab.workload.openloop as openloop_mod
from faultlab.clock import ManualClock, MonotonicClock
from faultlab.workload.http import HttpLoad, HttpRequestSpec
from faultlab.workload.openloop import WAKE_TICK_S
from faultlab.workload.stats import aggregate

from .http_support import (
    BusyClock,
    EarlyClock,
    HookedClock,
    Server,
    SpyRecorder,
    SteppingClock,
    assert_accounted,
    run_load,
    source_file,
)

# --------------------------------------------------------------------------------------------
# The schedule


async def test_schedule_is_rate_times_duration_evenly_spaced(server: Server) -> None:
    rate, duration = 200.0, 2.0
    summary, recorder, agg = await run_load(
        HttpRequestSpec(f"{server.url}/status/200"), rate, duration
    )
    assert abs(summary.planned - rate * duration) <= 1
    assert_accounted(summary, recorder, agg)
    assert agg.ok == summary.sent == summary.planned  # nothing dropped at this rate
    # Intended times are the plan itself: start + i / rate, in order, evenly spaced.
    start = recorder.origin
    intended = [i for i, _ in recorder.sends]
    assert intended == [start + i / rate for i in range(len(intended))]
    # Never sent before its time.
    assert all(actual >= i for i, actual in recorder.sends)
    # Per-second counts from the recorder: each second holds `rate` requests.
    per_second = [s.sent + s.dropped for s in recorder.window(0, 10)]
    assert len(per_second) >= 2
    assert all(abs(n - rate) <= 1 for n in per_second[:2])
    assert sum(per_second) == summary.planned


@pytest.mark.parametrize(("oversleep", "saturated"), [(0.0, False), (0.005, False), (0.05, True)])
async def test_late_wakeups_send_overdue_requests_with_their_own_intended_time(
    server: Server, oversleep: float, saturated: bool
) -> None:
    """In virtual time: a scheduler woken late catches up at once; lateness is recorded."""
    clock = SteppingClock(oversleep=oversleep)
    rate, start = 100.0, clock.now()
    recorder = SpyRecorder(origin=start)
    load = HttpLoad(
        HttpRequestSpec(f"{server.url}/status/200"), rate, clock=clock, recorder=recorder
    )
    summary = await load.run(start, start + 1.0)
    agg = aggregate(recorder.close_all(start + 1.0))
    assert_accounted(summary, recorder, agg)
    assert summary.planned == 100
    assert summary.dropped == 0
    assert [i for i, _ in recorder.sends] == [start + i / rate for i in range(100)]
    lags = [actual - i for i, actual in recorder.sends]
    assert min(lags) >= 0
    # The scheduler sleeps at least a tick: an arrival due a hair after a late wake-up (here
    # a float's rounding away) waits for the next one, a tick plus the oversleep later.
    assert oversleep - 1e-9 <= max(lags) <= oversleep + WAKE_TICK_S + 1e-9
    assert summary.max_lag == max(lags)
    assert summary.late == sum(lag > 0.010 for lag in lags) == agg.late
    assert summary.saturated is saturated
    if saturated:
        # A wake-up 50 ms late sends 6 requests at once, 4 of them more than 10 ms late.
        assert summary.late >= 60
        assert f"{summary.late} of 100 sends" in summary.reason
        assert ("more than 10 ms after their intended time (max lag "
                f"{summary.max_lag * 1e3:.0f} ms)") in summary.reason
    else:
        assert summary.late == 0
        assert summary.reason == ""


async def test_overdue_requests_are_sent_at_once_and_measured_from_their_intended_time(
    server: Server,
) -> None:
    """A plan that starts in the past: every request is late, and its latency says so."""
    clock = MonotonicClock()
    start = clock.now() - 1.0
    recorder = SpyRecorder(origin=start)
    load = HttpLoad(
        HttpRequestSpec(f"{server.url}/status/200"), 20.0, clock=clock, recorder=recorder
    )
    summary = await load.run(start, start + 0.5)
    agg = aggregate(recorder.close_all(start + 0.5))
    assert_accounted(summary, recorder, agg)
    assert agg.ok == summary.sent == 10
    assert clock.now() - start < 1.0 + 0.5  # sent at once, not spread over another 0.5 s
    assert summary.late == 10
    assert summary.max_lag >= 1.0
    assert summary.saturated
    lag = {intended: actual - intended for intended, actual in recorder.sends}
    assert all(latency >= lag[intended] >= 0.5 for intended, _, latency in recorder.dones)


async def test_a_sleep_that_returns_early_never_sends_early(server: Server) -> None:
    clock = EarlyClock(early=0.003)
    rate, start = 100.0, clock.now()
    recorder = SpyRecorder(origin=start)
    load = HttpLoad(
        HttpRequestSpec(f"{server.url}/status/200"), rate, clock=clock, recorder=recorder
    )
    summary = await load.run(start, start + 0.5)
    assert_accounted(summary, recorder, aggregate(recorder.close_all(start + 0.5)))
    assert summary.sent == 50
    assert all(actual == intended for intended, actual in recorder.sends)
    assert summary.max_lag == 0.0


async def test_a_generator_that_is_always_behind_still_lets_requests_progress(
    server: Server,
) -> None:
    clock = BusyClock(step=0.002)
    rate, start = 1000.0, clock.now()
    recorder = SpyRecorder(origin=start)
    load = HttpLoad(
        HttpRequestSpec(f"{server.url}/status/200"), rate, clock=clock, recorder=recorder
    )
    summary = await load.run(start, start + 0.3)
    assert_accounted(summary, recorder, aggregate(recorder.close_all(start + 0.3)))
    assert summary.planned == 300
    # Requests completed while the plan was still being sent: the scheduler yielded.
    last_send = len(recorder.events) - 1 - recorder.events[::-1].index("sent")
    assert recorder.events.index("done") < last_send


# --------------------------------------------------------------------------------------------
# Ending the plan early: stop_at


async def test_stop_at_wakes_a_sleeping_scheduler_in_virtual_time(server: Server) -> None:
    clock = ManualClock()
    start = clock.now()
    recorder = SpyRecorder(origin=start)
    load = HttpLoad(
        HttpRequestSpec(f"{server.url}/status/200"), 10.0, clock=clock, recorder=recorder
    )
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(load.run(start, math.inf))
        for _ in range(3):
            await asyncio.sleep(0)  # let the scheduler start and go to sleep
        await clock.advance(0.55)  # plans 0.0, 0.1, ..., 0.5; then sleeps until 0.6
        load.stop_at(clock.now())
        # No more clock advance: only the interrupt can end the run.
        summary = await asyncio.wait_for(task, timeout=5)
    assert_accounted(summary, recorder, aggregate(recorder.close_all(start + 1)))
    assert summary.planned == 6
    # Each was sent as the clock reached it, not in a catch-up batch at the end.
    assert recorder.sends == [(start + i / 10, start + i / 10) for i in range(6)]


async def test_stop_at_bounds_the_catch_up_batch_of_a_late_wake_up(server: Server) -> None:
    clock = HookedClock(oversleep=0.5)
    start = clock.now()
    recorder = SpyRecorder(origin=start)
    load = HttpLoad(
        HttpRequestSpec(f"{server.url}/status/200"), 10.0, clock=clock, recorder=recorder
    )
    # While the scheduler sleeps toward 0.1 (and will wake at 0.6), the plan is cut at 0.3.
    clock.on_sleep = lambda deadline: load.stop_at(start + 0.3)
    summary = await load.run(start, math.inf)
    assert [i for i, _ in recorder.sends] == [start, start + 0.1, start + 0.2]
    assert summary.planned == 3


async def test_stop_at_now_ends_a_slow_plan_at_once(server: Server) -> None:
    clock = MonotonicClock()
    start = clock.now()
    recorder = SpyRecorder(origin=start)
    load = HttpLoad(
        HttpRequestSpec(f"{server.url}/status/200"), 0.2, clock=clock, recorder=recorder
    )
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(load.run(start, math.inf))
        await clock.sleep_until(start + 0.2)  # the request at `start` is out; next one at 5 s
        load.stop_at(clock.now())
    assert clock.now() - start < 2.5
    assert task.result().planned == task.result().sent == 1
    assert len(recorder.dones) == 1


async def test_stop_at_in_the_future_plans_up_to_it(server: Server) -> None:
    clock = MonotonicClock()
    start = clock.now() + 0.05
    recorder = SpyRecorder(origin=start)
    load = HttpLoad(
        HttpRequestSpec(f"{server.url}/status/200"), 20.0, clock=clock, recorder=recorder
    )
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(load.run(start, math.inf))
        await clock.sleep_until(start + 0.1)
        load.stop_at(start + 0.5)
        load.stop_at(start + 0.9)  # only ever earlier
    assert task.result().planned == 10
    assert max(i for i, _ in recorder.sends) == start + 9 / 20


async def test_stop_at_before_run_applies_to_that_run_only(server: Server) -> None:
    clock = SteppingClock()
    start = clock.now()
    load = HttpLoad(
        HttpRequestSpec(f"{server.url}/status/200"), 20.0, clock=clock, recorder=SpyRecorder(start)
    )
    load.stop_at(start + 0.25)
    first = await load.run(start, start + 1.0)
    second = await load.run(clock.now(), clock.now() + 0.5)
    assert (first.planned, second.planned) == (5, 10)


# --------------------------------------------------------------------------------------------
# Open loop: stalls, the in-flight cap, cancellation


@pytest.mark.slow
async def test_stall_shows_in_latency_of_every_request_planned_during_it(server: Server) -> None:
    """No coordinated omission: a 1 s stall shows in ~100 requests, not in one."""
    clock = MonotonicClock()
    rate, duration = 100.0, 2.0
    start = clock.now() + 0.05
    server.stall_from, server.stall_for = start + 0.2, 1.0
    recorder = SpyRecorder(origin=start)
    load = HttpLoad(HttpRequestSpec(f"{server.url}/stall"), rate, clock=clock, recorder=recorder)

    closed_loop: list[float] = []  # what a closed-loop tool measures in the same run

    async def closed_loop_client() -> None:
        # One virtual user with 10 ms think time (Locust-style): the next request waits for
        # the previous response.
        async with aiohttp.ClientSession() as session:
            await clock.sleep_until(start)
            while clock.now() < start + duration:
                t = clock.now()
                async with session.get(f"{server.url}/stall") as resp:
                    await resp.read()
                closed_loop.append(clock.now() - t)
                await clock.sleep_until(clock.now() + 0.01)

    async with asyncio.TaskGroup() as tg:
        tg.create_task(closed_loop_client())
        summary = await load.run(start, start + duration)
    seconds = recorder.close_all(start + duration)
    assert_accounted(summary, recorder, aggregate(seconds))
    assert summary.dropped == 0
    assert summary.max_lag < 0.5  # it never waited for the stalled server (closed loop: ~1 s)

    slow = [lat for _, _, lat in recorder.dones if lat >= 0.25]
    assert len(slow) >= 50  # intended 0.2 s .. ~0.95 s: ~75 requests
    stall_second = aggregate([seconds[0]])
    assert stall_second.percentile(99) >= 0.5
    assert stall_second.percentile(50) >= 0.3

    # The closed-loop client sat through the same stall but recorded it once.
    assert max(closed_loop) >= 0.5
    assert sum(lat >= 0.25 for lat in closed_loop) <= 3


async def test_requests_beyond_max_in_flight_are_dropped_and_counted(server: Server) -> None:
    spec = HttpRequestSpec(f"{server.url}/sleep/0.5")
    summary, recorder, agg = await run_load(spec, 100.0, 1.0, max_in_flight=5)
    assert_accounted(summary, recorder, agg)
    assert summary.planned == 100
    assert server.peak_in_flight == 5
    assert 5 <= summary.sent <= 20  # about 5 per 0.5 s
    assert summary.dropped == summary.planned - summary.sent >= 80
    assert agg.ok == summary.sent
    assert agg.success_ratio < 0.25
    assert summary.saturated
    assert summary.reason.startswith(  # a loaded machine may add a note about late sends
        f"{summary.dropped} of 100 planned requests were dropped because 5 requests were "
        "already in flight"
    )


async def test_cancelling_run_cancels_requests_and_closes_the_session(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    sessions: list[aiohttp.ClientSession] = []
    real_session = aiohttp.ClientSession

    def recording_session(*args: Any, **kwargs: Any) -> aiohttp.ClientSession:
        session = real_session(*args, **kwargs)
        sessions.append(session)
        return session

    monkeypatch.setattr(aiohttp, "ClientSession", recording_session)
    clock = MonotonicClock()
    start = clock.now()
    recorder = SpyRecorder(origin=start)
    load = HttpLoad(HttpRequestSpec(f"{server.url}/sleep/30"), 50.0, clock=clock, recorder=recorder,
                    client="aiohttp")

    task = asyncio.create_task(load.run(start, start + 30))
    await asyncio.wait_for(server.busy.wait(), timeout=5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert clock.now() - start < 5

    # request tasks run the scheduler's arrival coroutine, which awaits the request
    ours = [t for t in asyncio.all_tasks()
            if source_file(t) in (http_mod.__file__, openloop_mod.__file__)]
    assert ours == []
    assert len(sessions) == 1
    assert sessions[0].closed
    assert recorder.sends  # requests were in flight when cancelled...
    assert recorder.dones == []  # ...and none was reported as finished

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sessions.clear()
        gc.collect()
    assert [w for w in caught if "Unclosed" in str(w.message)] == []
