"""The open-loop scheduler every workload shares: arrivals planned from a clock, not responses.

:class:`OpenLoop` plans arrival ``i`` at ``start + i / rate`` for every such time ``< stop``
and launches it at that time whatever happened to earlier arrivals (k6 constant-arrival-rate,
wrk2). A system that stalls therefore cannot slow the generator down and hide its stall: the
arrivals planned during the stall still go out on schedule, and a workload that measures from
the intended time sees the stall in every one of them (no coordinated omission). What an
arrival *does* (an HTTP request, a history operation) is the workload's ``launch`` coroutine.

Invariants (:meth:`OpenLoop.run`):

- *Plan.* The planned arrivals are exactly the ``i >= 0`` with ``start + i / rate < stop``,
  where :meth:`OpenLoop.stop_at` may lower ``stop`` during the run (``stop`` may be infinite);
  each intended time is computed from ``i`` (never accumulated), so there is no drift.
- *Every planned arrival is accounted for, once.* It is either launched (``recorder.on_sent
  (intended, actual)``, then the launch coroutine runs as a task and the workload reports its
  end, e.g. ``recorder.on_done``) or dropped (``recorder.on_dropped(intended)``);
  ``planned == sent + dropped``. Nothing is skipped or queued.
- *Never early, never delayed by responses.* An arrival is launched no earlier than its
  intended time. When the scheduler wakes late it launches every overdue arrival at once
  (in batches of at most ``MAX_BATCH``, letting the event loop run between them), each with
  its own intended time; the lateness is counted as ``actual - intended`` (``late`` over
  10 ms, ``max_lag``). Behind schedule it does not sleep: overdue arrivals go out as soon as
  the loop lets them, so near its limit the generator degrades (lateness grows, and it is
  counted) instead of collapsing.
- *Few wake-ups.* The scheduler never sleeps less than ``WAKE_TICK_S`` (1 ms) and launches
  every arrival due at each wake-up, so it wakes at most about once a millisecond whatever
  the rate or the loop's timer rounding (uvloop's is 1 ms), and at low rates at most twice
  per arrival (a timer rounded down wakes it early, then it sleeps a tick); a send is then
  at most about two ticks late, well under the 10 ms that counts as late.
- *Shares.* With ``share=(k, n)`` the scheduler plans only the arrivals ``i`` with ``i % n ==
  k``, at the same intended times ``start + i / rate``: ``n`` schedulers with shares ``(0, n)
  ... (n-1, n)`` plan exactly the arrivals of one (the worker processes of an HTTP load).
- *Bounded concurrency, visible when hit.* At most ``max_in_flight`` launched arrivals run at
  once; one planned when the cap is reached is dropped and counted.
- *Warm-up is not measured.* Arrivals intended before ``origin`` (the run's second 0) are the
  warm-up: they run like the others but are counted in :attr:`LoadSummary.warmup`, not in the
  summary's figures (and the recorder keeps them out of every second).
- *Structured.* Every launch is a task of one :class:`asyncio.TaskGroup`, or an arrival a
  :data:`LaunchNow` took without a task (it calls back when it has finished); when ``run``
  returns every launched arrival has finished, and when it is cancelled the tasks are
  cancelled (the workload that took arrivals without a task cancels those: the lean HTTP
  client closes their connections). An error reporting such an arrival ends ``run`` with it.
- *Only the sleep is interruptible.* :meth:`stop_at` wakes a scheduler asleep toward an
  arrival at or after the new stop; it never interrupts a batch of launches.

A run is *saturated* when any arrival was dropped or more than 1% of launches were more than
10 ms late: its latency figures then say as much about the generator as about the system.

Times are readings of the injected :class:`~faultlab.clock.Clock`; a wake-up is as precise as
the event loop's timers (about 1 ms on Linux), and only lag over 10 ms counts as late.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Coroutine
from typing import Any

import msgspec

from faultlab.clock import Clock
from faultlab.workload.stats import LATE_THRESHOLD_S, StatsRecorder

__all__ = ["SATURATION_LATE_FRACTION", "Launch", "LaunchNow", "LoadSummary", "OpenLoop",
           "WarmupSummary", "load_summary"]

SATURATION_LATE_FRACTION = 0.01  # more late sends than this fraction: the generator fell behind
WAKE_TICK_S = 0.001  # the shortest sleep of the scheduler: about the event loop's timer grain
MAX_BATCH = 256  # the most arrivals launched per wake-up before the loop runs anything else

#: what the scheduler runs for each arrival it launches: ``launch(intended, i)``, the arrival's
#: intended time and its index in the plan (dropped arrivals have indexes too, and no launch)
Launch = Callable[[float, int], Coroutine[Any, Any, None]]

#: a launch that can start an arrival without a task: ``now(intended, i, done)`` returns
#: True when it took the arrival (it then calls ``done(None)`` exactly once, once the arrival
#: has finished and been reported, or ``done(error)`` if reporting it raised), False when the
#: scheduler must run ``launch(intended, i)`` as a task instead (e.g. it must connect first)
LaunchNow = Callable[[float, int, Callable[[BaseException | None], None]], bool]


class WarmupSummary(msgspec.Struct, frozen=True):
    """What the scheduler did before second 0 (not measured): the warm-up's own figures."""

    planned: int = 0
    sent: int = 0
    dropped: int = 0
    max_lag: float = 0.0


class LoadSummary(msgspec.Struct, frozen=True):
    """What the generator did during one ``run`` from second 0 on, for the verdict.

    ``late`` counts sends more than 10 ms after their intended time and ``max_lag`` is the
    largest ``actual - intended`` of a send, in seconds. ``saturated`` means the figures are
    partly the generator's doing (drops, or more than 1% of sends late); ``reason`` gives the
    figures (e.g. "3 of 900 planned requests were dropped because 5 requests were already in
    flight"), for a verdict to frame, and is empty otherwise. ``warmup`` is what happened
    before second 0, which none of the other figures include. ``client`` is the HTTP client
    an HTTP load sent through ("lean" or "aiohttp"), empty for other workloads.
    """

    planned: int
    sent: int
    dropped: int
    max_lag: float
    late: int
    saturated: bool
    reason: str
    warmup: WarmupSummary = WarmupSummary()
    client: str = ""


class _Counts:
    __slots__ = ("dropped", "late", "max_lag", "sent")

    def __init__(self) -> None:
        self.sent = 0
        self.dropped = 0
        self.late = 0
        self.max_lag = 0.0


class OpenLoop:
    """Open-loop arrivals at ``rate`` per second; see the module docstring.

    ``recorder`` (optional) is told of every send and drop; ``noun`` and ``cap_reason`` word
    the saturation reason ("requests", "requests were already in flight").
    """

    def __init__(self, rate: float, *, max_in_flight: int, clock: Clock,
                 recorder: StatsRecorder | None = None, noun: str = "requests",
                 cap_reason: str | None = None, share: tuple[int, int] = (0, 1)) -> None:
        if not (rate > 0 and math.isfinite(rate)):
            raise ValueError(f"rate must be a positive number per second, got {rate!r}")
        if not 0 <= share[0] < share[1]:
            raise ValueError(f"share must be (k, n) with 0 <= k < n, got {share!r}")
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, got {max_in_flight!r}")
        self.rate = rate
        self.max_in_flight = max_in_flight
        self.recorder = recorder
        self.in_flight = 0
        self._clock = clock
        self._noun = noun
        self._share = share
        self._cap_reason = cap_reason or f"{max_in_flight} {noun} were already in flight"
        self._stop = math.inf  # lowered by stop_at
        self._next = math.nan  # the intended time the scheduler is waiting for
        self._interrupt: asyncio.Timeout | None = None  # set while the scheduler plans
        self._measured = _Counts()
        self._warmup = _Counts()
        self._error: BaseException | None = None  # from a LaunchNow's done(error)
        self._drained: asyncio.Future[None] | None = None  # awaited for the last ones

    async def run(self, start: float, stop: float, launch: Launch, *,
                  origin: float | None = None, now: LaunchNow | None = None) -> LoadSummary:
        """Launch the arrivals planned in ``[start, stop)`` (clock readings); wait for them.

        ``stop`` may be ``math.inf``, the end being given later by :meth:`stop_at`. Arrivals
        intended before ``origin`` (default ``start``) are the warm-up. ``now``, if given, is
        offered each arrival first (see :data:`LaunchNow`); ``launch`` runs those it refuses.
        """
        self._measured, self._warmup = _Counts(), _Counts()
        self.in_flight = 0
        self._error = None
        measured_from = start if origin is None else origin
        try:
            async with asyncio.TaskGroup() as tg:
                try:
                    async with asyncio.timeout(None) as interrupt:
                        self._interrupt = interrupt
                        await self._plan(tg, launch, now, start, stop, measured_from)
                except TimeoutError:
                    if not interrupt.expired():
                        raise  # not ours
                finally:
                    self._interrupt = None
                if self._error is not None:
                    raise self._error  # in the group: its tasks are cancelled, as for theirs
            # the tasks have finished; the arrivals taken without one may still run
            while self.in_flight and self._error is None:
                self._drained = asyncio.get_running_loop().create_future()
                await self._drained
            if self._error is not None:
                raise self._error
            return self.summary()
        finally:
            self._stop = math.inf
            self._next = math.nan
            self._drained = None

    def _landed(self, error: BaseException | None) -> None:
        """A :data:`LaunchNow`'s arrival has finished (``error``: reporting it raised)."""
        self.in_flight -= 1
        if error is not None and self._error is None:
            self._error = error
            interrupt = self._interrupt
            if interrupt is not None and not interrupt.expired():
                # end the plan now (as stop_at does), not at the scheduler's next wake-up
                interrupt.reschedule(asyncio.get_running_loop().time())
        drained = self._drained
        if drained is not None and not drained.done() and (
                not self.in_flight or self._error is not None):
            drained.set_result(None)

    def stop_at(self, t: float) -> None:
        """End the plan of the current run at clock time ``t``, if that is before its ``stop``.

        Arrivals intended before ``t`` are still planned; those running finish before ``run``
        returns. A scheduler asleep until an arrival at or after ``t`` stops at once. Called
        when no run is active, it applies to the next run.
        """
        self._stop = min(self._stop, t)
        interrupt = self._interrupt
        if interrupt is not None and not interrupt.expired() and not self._next < self._stop:
            # Nothing left to plan: wake the scheduler out of its sleep (it only awaits there,
            # never in the middle of a batch).
            interrupt.reschedule(asyncio.get_running_loop().time())

    async def _plan(self, tg: asyncio.TaskGroup, launch: Launch, now_launch: LaunchNow | None,
                    start: float, stop: float, origin: float) -> None:
        clock, recorder, rate, cap = self._clock, self.recorder, self.rate, self.max_in_flight
        landed = self._landed
        measured, warmup = self._measured, self._warmup
        i, step = self._share
        intended = self._next = start + i / rate
        while intended < min(stop, self._stop):
            now = clock.now()
            if now < intended:
                # Never sleep less than a tick: uvloop rounds a timer to whole milliseconds
                # and runs one under 0.5 ms at once, so sleeping toward an arrival 0.3 ms
                # away returns at once, early, again and again (a spinning core). Arrivals
                # that fall due during the tick go out together at the wake-up.
                await clock.sleep_until(max(intended, now + WAKE_TICK_S))
                now = clock.now()
            else:
                # Behind schedule: still let the arrivals in flight make progress.
                await asyncio.sleep(0)
            # Launch everything due by now, each with its own intended time. `now` is read
            # once per wake-up: the batch goes out together. At most MAX_BATCH per wake-up:
            # far behind schedule, the responses of the arrivals in flight are read between
            # batches instead of after thousands of launches (which would add the batch's
            # cost to every one of their latencies and open a connection per launch).
            end = min(stop, self._stop)
            batch_end = i + MAX_BATCH * step
            while intended <= now and intended < end and i < batch_end:
                counts = measured if intended >= origin else warmup
                if self.in_flight >= cap:
                    counts.dropped += 1
                    if recorder is not None:
                        recorder.on_dropped(intended)
                else:
                    self.in_flight += 1
                    counts.sent += 1
                    if recorder is not None:
                        recorder.on_sent(intended, now)
                    lag = now - intended
                    if lag > LATE_THRESHOLD_S:
                        counts.late += 1
                    if lag > counts.max_lag:
                        counts.max_lag = lag
                    if now_launch is None or not now_launch(intended, i, landed):
                        tg.create_task(self._arrival(launch, intended, i))
                i += step
                intended = start + i / rate
            self._next = intended

    async def _arrival(self, launch: Launch, intended: float, i: int) -> None:
        try:
            await launch(intended, i)
        finally:
            self.in_flight -= 1

    def summary(self) -> LoadSummary:
        """The figures of the current (or last) run from second 0 on."""
        m, w = self._measured, self._warmup
        return load_summary(m.sent, m.dropped, m.late, m.max_lag,
                            WarmupSummary(w.sent + w.dropped, w.sent, w.dropped, w.max_lag),
                            noun=self._noun, cap_reason=self._cap_reason)


def load_summary(sent: int, dropped: int, late: int, max_lag: float, warmup: WarmupSummary, *,
                 noun: str = "requests", cap_reason: str) -> LoadSummary:
    """The :class:`LoadSummary` of these figures (from second 0 on), saturation worded: what
    :meth:`OpenLoop.summary` returns, and the sum over the worker processes of an HTTP load."""
    planned = sent + dropped
    reasons: list[str] = []
    if dropped:
        reasons.append(f"{dropped} of {planned} planned {noun} were dropped "
                       f"because {cap_reason}")
    if late > SATURATION_LATE_FRACTION * sent:
        reasons.append(
            f"{late} of {sent} sends ({late / sent:.1%}) went out more than "
            f"{LATE_THRESHOLD_S * 1e3:.0f} ms after their intended time "
            f"(max lag {max_lag * 1e3:.0f} ms)")
    return LoadSummary(planned, sent, dropped, max_lag, late, bool(reasons),
                       "; ".join(reasons), warmup)
