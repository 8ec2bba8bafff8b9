"""Helpers for the HTTP load tests: spy recorder, virtual clocks, test servers, a run helper."""

from __future__ import annotations

import asyncio
import math
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from faultlab.clock import MonotonicClock
from faultlab.workload.http import ClientChoice, HttpLoad, HttpRequestSpec, LoadSummary
from faultlab.workload.stats import Aggregate, Outcome, SecondStats, StatsRecorder, aggregate


class SpyRecorder(StatsRecorder):
    """A real recorder that also keeps every event, to check the plan request by request."""

    def __init__(self, origin: float) -> None:
        super().__init__(origin)
        self.sends: list[tuple[float, float]] = []
        self.drops: list[float] = []
        self.dones: list[tuple[float, Outcome, float]] = []
        self.events: list[str] = []  # "sent" / "done" / "dropped", in the order they happened

    def on_sent(self, intended: float, actual: float) -> None:
        self.sends.append((intended, actual))
        self.events.append("sent")
        super().on_sent(intended, actual)

    def on_done(self, intended: float, outcome: Outcome, latency: float) -> None:
        self.dones.append((intended, outcome, latency))
        self.events.append("done")
        super().on_done(intended, outcome, latency)

    def on_dropped(self, intended: float) -> None:
        self.drops.append(intended)
        self.events.append("dropped")
        super().on_dropped(intended)

    def close_all(self, stop: float) -> list[SecondStats]:
        """Close every second of a run that planned nothing at or after ``stop``."""
        return self.complete_until(stop + 1.0, force=True)


class SteppingClock:
    """Virtual time that moves only when someone sleeps, and oversleeps every deadline.

    ``oversleep`` models an event loop that wakes the scheduler late; nothing else moves time.
    """

    def __init__(self, start: float = 100.0, oversleep: float = 0.0) -> None:
        self._now = start
        self.oversleep = oversleep

    def now(self) -> float:
        return self._now

    def wall(self) -> float:
        return self._now + 1_700_000_000.0

    async def sleep_until(self, deadline: float) -> None:
        if deadline > self._now:
            self._now = deadline + self.oversleep
        await asyncio.sleep(0)


class EarlyClock(SteppingClock):
    """Virtual time whose sleeps return ``early`` seconds before their deadline the first time
    (coarse timers do this, e.g. libuv's millisecond timers)."""

    def __init__(self, early: float) -> None:
        super().__init__()
        self.early = early
        self._last_deadline = math.nan

    async def sleep_until(self, deadline: float) -> None:
        if deadline > self._now:
            first = deadline != self._last_deadline
            self._now = max(self._now, deadline - self.early) if first else deadline
            self._last_deadline = deadline
        await asyncio.sleep(0)


class HookedClock(SteppingClock):
    """A stepping clock that calls ``on_sleep(deadline)`` as each sleep begins: a way to act
    while the scheduler is suspended."""

    def __init__(self, oversleep: float = 0.0) -> None:
        super().__init__(oversleep=oversleep)
        self.on_sleep: Callable[[float], object] | None = None

    async def sleep_until(self, deadline: float) -> None:
        if self.on_sleep is not None:
            self.on_sleep(deadline)
        await super().sleep_until(deadline)


class BusyClock(SteppingClock):
    """Virtual time in which every reading costs ``step`` seconds: a generator that is never
    early enough to sleep."""

    def __init__(self, step: float) -> None:
        super().__init__()
        self.step = step

    def now(self) -> float:
        self._now += self.step
        return self._now


@dataclass
class Server:
    url: str
    in_flight: int = 0
    peak_in_flight: int = 0
    stall_from: float = math.inf  # loop time
    stall_for: float = 0.0
    received: list[tuple[str, str, bytes]] = field(default_factory=list)
    busy_at: int = 5  # `busy` is set once this many /sleep requests are in the server at once
    busy: asyncio.Event = field(default_factory=asyncio.Event)


def free_port() -> int:
    """A loopback port that was just bound and released: nothing listens there."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


RawHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class RawServer:
    """asyncio's server, whose ``wait_closed`` also lets every handler end on its own (a
    handler still running at loop teardown is cancelled there, which asyncio logs)."""

    def __init__(self, handler: RawHandler) -> None:
        self._handler = handler
        self._tasks: set[asyncio.Task[Any]] = set()
        self._server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self._handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            if task is not None:
                self._tasks.discard(task)

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    def close(self) -> None:
        if self._server is not None:
            self._server.close()

    async def wait_closed(self) -> None:
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)
        if self._server is not None:
            await self._server.wait_closed()


async def raw_server(handler: RawHandler) -> tuple[RawServer, str]:
    srv = RawServer(handler)
    port = await srv.start()
    return srv, f"http://127.0.0.1:{port}/"


async def load_against_raw(handler: RawHandler, rate: float, duration: float, *,
                           timeout: float = 2.0, client: ClientChoice = "lean",
                           ) -> tuple[LoadSummary, SpyRecorder, Aggregate]:
    """:func:`run_load` of a GET against a :func:`raw_server` running ``handler``."""
    srv, url = await raw_server(handler)
    try:
        return await run_load(HttpRequestSpec(url, timeout=timeout), rate, duration,
                              client=client)
    finally:
        srv.close()
        await srv.wait_closed()


async def run_load(
    spec: HttpRequestSpec, rate: float, duration: float, *, max_in_flight: int = 1000,
    client: ClientChoice = "auto",
) -> tuple[LoadSummary, SpyRecorder, Aggregate]:
    """Run a load in real time from now for ``duration`` seconds; the recorder's origin is start."""
    clock = MonotonicClock()
    start = clock.now() + 0.05
    recorder = SpyRecorder(origin=start)
    load = HttpLoad(spec, rate, max_in_flight=max_in_flight, clock=clock, recorder=recorder,
                    client=client)
    summary = await load.run(start, start + duration)
    assert summary.client == load.client
    return summary, recorder, aggregate(recorder.close_all(start + duration))


def source_file(task: asyncio.Task[Any]) -> str | None:
    code = getattr(task.get_coro(), "cr_code", None)
    return None if code is None else str(code.co_filename)


def assert_accounted(summary: LoadSummary, recorder: SpyRecorder, agg: Aggregate) -> None:
    """Every planned request was sent or dropped, once, and every sent one finished."""
    assert summary.planned == summary.sent + summary.dropped
    assert summary.sent == len(recorder.sends) == agg.sent
    assert summary.dropped == len(recorder.drops) == agg.dropped
    assert len(recorder.dones) == agg.ok + agg.failed + agg.timed_out == summary.sent
    intended = sorted([i for i, _ in recorder.sends] + recorder.drops)
    assert len(set(intended)) == len(intended) == summary.planned
