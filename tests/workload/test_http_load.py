"""Integration tests of the open-loop HTTP load generator against real loopback servers.

Timing assertions are deliberately loose (shared CI machines); the exact properties (the plan,
accounting, classification) are asserted exactly, several of them in virtual time.
"""

from __future__ import annotations

import asyncio
import gc
import math
import socket
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.http_parser import HttpResponseParserPy

import faultlab.workload.http as http_mod
from faultlab.clock import MonotonicClock
from faultlab.workload.http import HttpLoad, HttpRequestSpec, LoadSummary
from faultlab.workload.stats import Aggregate, Outcome, SecondStats, StatsRecorder, aggregate

# --------------------------------------------------------------------------------------------
# Helpers


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


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    srv = Server(url="")

    async def status(request: web.Request) -> web.Response:
        code = int(request.match_info["code"])
        # A followed redirect would end on a 500: catches a generator that follows redirects.
        headers = {"Location": "/status/500"} if 300 <= code < 400 else None
        return web.Response(status=code, text="x", headers=headers)

    async def sleep(request: web.Request) -> web.Response:
        srv.in_flight += 1
        srv.peak_in_flight = max(srv.peak_in_flight, srv.in_flight)
        if srv.in_flight >= srv.busy_at:
            srv.busy.set()
        try:
            await asyncio.sleep(float(request.match_info["seconds"]))
        finally:
            srv.in_flight -= 1
        return web.Response(text="slept")

    async def stall(request: web.Request) -> web.Response:
        # Every request that arrives during the stall window waits for its end (a GC pause,
        # a failover): the server is unresponsive, not slow per request.
        now = asyncio.get_running_loop().time()
        end = srv.stall_from + srv.stall_for
        if srv.stall_from <= now < end:
            await asyncio.sleep(end - now)
        return web.Response(text="ok")

    async def slow_body(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.content_length = 4
        await resp.prepare(request)
        await resp.write(b"he")
        await asyncio.sleep(0.3)
        await resp.write(b"ad")
        return resp

    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        srv.received.append((request.method, request.headers.get("X-Test", ""), body))
        return web.Response(status=201, text="created")

    app = web.Application()
    app.add_routes(
        [
            web.get("/status/{code}", status),
            web.get("/sleep/{seconds}", sleep),
            web.get("/stall", stall),
            web.get("/slow-body", slow_body),
            web.route("*", "/echo", echo),
        ]
    )
    runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.5)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        srv.url = f"http://127.0.0.1:{port}"
        yield srv
    finally:
        await runner.cleanup()


RawHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def raw_server(handler: RawHandler) -> tuple[asyncio.Server, str]:
    srv = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    return srv, f"http://127.0.0.1:{port}/"


async def run_load(
    spec: HttpRequestSpec, rate: float, duration: float, *, max_in_flight: int = 1000
) -> tuple[LoadSummary, SpyRecorder, Aggregate]:
    """Run a load in real time from now for ``duration`` seconds; the recorder's origin is start."""
    clock = MonotonicClock()
    start = clock.now() + 0.05
    recorder = SpyRecorder(origin=start)
    load = HttpLoad(spec, rate, max_in_flight=max_in_flight, clock=clock, recorder=recorder)
    summary = await load.run(start, start + duration)
    return summary, recorder, aggregate(recorder.close_all(start + duration))


def _source_file(task: asyncio.Task[Any]) -> str | None:
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


# --------------------------------------------------------------------------------------------
# Values and validation


def test_public_surface_is_locked() -> None:
    assert sorted(http_mod.__all__) == ["HttpLoad", "HttpRequestSpec", "LoadSummary"]


def test_spec_defaults() -> None:
    spec = HttpRequestSpec("http://127.0.0.1:1/")
    assert spec.method == "GET"
    assert spec.expect_status == frozenset(range(200, 400))
    assert 199 not in spec.expect_status
    assert 400 not in spec.expect_status


@pytest.mark.parametrize(
    "kwargs",
    [
        {"url": "127.0.0.1:8080/x"},
        {"url": "ftp://example.com/"},
        {"url": "http://h/", "timeout": 0},
        {"url": "http://h/", "timeout": math.inf},
        {"url": "http://h/", "method": ""},
        {"url": "http://h/", "method": "GET /"},
    ],
)
def test_spec_rejects_bad_input(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="request"):
        HttpRequestSpec(**kwargs)


@pytest.mark.parametrize(("rate", "cap"), [(0.0, 10), (-1.0, 10), (math.nan, 10), (10.0, 0)])
def test_load_rejects_bad_rate_or_cap(rate: float, cap: int) -> None:
    spec = HttpRequestSpec("http://127.0.0.1:1/")
    with pytest.raises(ValueError, match=r"^(rate|max_in_flight) must be"):
        HttpLoad(spec, rate, max_in_flight=cap, clock=MonotonicClock(), recorder=StatsRecorder(0))


async def test_empty_window_plans_nothing() -> None:
    clock = SteppingClock()
    recorder = SpyRecorder(clock.now())
    load = HttpLoad(
        HttpRequestSpec(f"http://127.0.0.1:{free_port()}/"), 100.0, clock=clock, recorder=recorder
    )
    summary = await load.run(clock.now(), clock.now())
    assert summary == LoadSummary(0, 0, 0, 0.0, 0, False, "")
    assert recorder.sends == []
    assert recorder.drops == []


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
    assert max(lags) == pytest.approx(oversleep, abs=1e-9)
    assert summary.max_lag == pytest.approx(oversleep, abs=1e-9)
    assert summary.late == sum(lag > 0.010 for lag in lags) == agg.late
    assert summary.saturated is saturated
    if saturated:
        # A wake-up 50 ms late sends 6 requests at once, 4 of them more than 10 ms late.
        assert summary.late >= 60
        assert "late" in summary.reason
        assert "generator lag" in summary.reason
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


async def test_a_generator_that_is_always_behind_still_lets_requests_progress(
    server: Server,
) -> None:
    clock = BusyClock(step=0.001)
    rate, start = 2000.0, clock.now()
    recorder = SpyRecorder(origin=start)
    load = HttpLoad(
        HttpRequestSpec(f"{server.url}/status/200"), rate, clock=clock, recorder=recorder
    )
    summary = await load.run(start, start + 0.5)
    assert_accounted(summary, recorder, aggregate(recorder.close_all(start + 0.5)))
    assert summary.planned == 1000
    # Requests completed while the plan was still being sent: the scheduler yielded.
    last_send = len(recorder.events) - 1 - recorder.events[::-1].index("sent")
    assert recorder.events.index("done") < last_send


# --------------------------------------------------------------------------------------------
# Outcomes


@pytest.mark.parametrize(
    ("code", "expect", "outcome"),
    [
        (200, None, Outcome.OK),
        (204, None, Outcome.OK),
        (302, None, Outcome.OK),  # not followed: the redirect target answers 500
        (404, None, Outcome.FAILED),
        (500, None, Outcome.FAILED),
        (200, frozenset({201}), Outcome.FAILED),
        (503, frozenset({503}), Outcome.OK),
    ],
)
async def test_status_classification(
    server: Server, code: int, expect: frozenset[int] | None, outcome: Outcome
) -> None:
    url = f"{server.url}/status/{code}"
    spec = HttpRequestSpec(url) if expect is None else HttpRequestSpec(url, expect_status=expect)
    summary, recorder, agg = await run_load(spec, 40.0, 0.25)
    assert_accounted(summary, recorder, agg)
    assert summary.sent == 10
    assert {o for _, o, _ in recorder.dones} == {outcome}


async def test_method_headers_and_body_are_sent(server: Server) -> None:
    spec = HttpRequestSpec(
        f"{server.url}/echo",
        method="post",
        headers=(("X-Test", "yes"),),
        body=b"payload",
        expect_status=frozenset({201}),
    )
    summary, _, agg = await run_load(spec, 20.0, 0.25)
    assert agg.ok == summary.sent == 5
    assert server.received == [("POST", "yes", b"payload")] * 5


async def test_timeout_is_timed_out_with_latency_of_the_timeout(server: Server) -> None:
    timeout = 0.2
    clock = MonotonicClock()
    spec = HttpRequestSpec(f"{server.url}/sleep/3", timeout=timeout)
    t0 = clock.now()
    summary, recorder, agg = await run_load(spec, 20.0, 0.25)
    assert clock.now() - t0 < 2.0  # the run did not wait for the server
    assert_accounted(summary, recorder, agg)
    assert agg.timed_out == summary.sent == 5
    latencies = [latency for _, _, latency in recorder.dones]
    assert all(timeout <= latency < 2.0 for latency in latencies)
    assert agg.percentile(0) >= timeout * 0.99  # histogram rounding


async def test_body_is_read_before_completion(server: Server) -> None:
    summary, recorder, agg = await run_load(HttpRequestSpec(f"{server.url}/slow-body"), 20.0, 0.25)
    assert agg.ok == summary.sent == 5
    assert all(latency >= 0.3 for _, _, latency in recorder.dones)


async def test_connection_refused_is_failed() -> None:
    spec = HttpRequestSpec(f"http://127.0.0.1:{free_port()}/", timeout=2.0)
    summary, recorder, agg = await run_load(spec, 40.0, 0.25)
    assert_accounted(summary, recorder, agg)
    assert agg.failed == summary.sent == 10
    assert all(0 < latency < 2.0 for _, _, latency in recorder.dones)


async def _garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"this is not HTTP\r\n\r\n")
    await writer.drain()
    writer.close()


async def _hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.close()


async def _truncated(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b")
    await writer.drain()
    writer.close()


async def _bad_chunks(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nxx\r\n0\r\n\r\n")
    await writer.drain()
    writer.close()


async def _reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    writer.transport.abort()


async def _bad_chunk_later(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n")
    await writer.drain()
    await asyncio.sleep(0.05)  # the bad chunk arrives after the headers were delivered
    writer.write(b"zz\r\nxx\r\n0\r\n\r\n")
    await writer.drain()
    writer.close()


async def test_malformed_body_is_failed_with_the_pure_python_parser(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The pure-Python parser (no C extensions) raises HttpProcessingError, not a ClientError."""
    monkeypatch.setattr("aiohttp.client_proto.HttpResponseParser", HttpResponseParserPy)
    srv, url = await raw_server(_bad_chunk_later)
    try:
        summary, recorder, agg = await run_load(HttpRequestSpec(url, timeout=2.0), 40.0, 0.25)
    finally:
        srv.close()
        await srv.wait_closed()
    assert_accounted(summary, recorder, agg)
    assert agg.failed == summary.sent == 10


async def test_malformed_body_is_bounded_by_the_timeout_with_the_c_parser() -> None:
    """aiohttp 3.14's C parser leaves the body read hanging here; the timeout still ends it."""
    srv, url = await raw_server(_bad_chunk_later)
    try:
        summary, recorder, agg = await run_load(HttpRequestSpec(url, timeout=0.3), 40.0, 0.25)
    finally:
        srv.close()
        await srv.wait_closed()
    assert_accounted(summary, recorder, agg)
    assert agg.failed + agg.timed_out == summary.sent == 10
    assert agg.ok == 0


@pytest.mark.parametrize("handler", [_garbage, _hang_up, _truncated, _bad_chunks, _reset])
async def test_broken_responses_are_failed_not_exceptions(handler: RawHandler) -> None:
    srv, url = await raw_server(handler)
    try:
        summary, recorder, agg = await run_load(HttpRequestSpec(url, timeout=2.0), 40.0, 0.25)
    finally:
        srv.close()
        await srv.wait_closed()
    assert_accounted(summary, recorder, agg)
    assert agg.failed == summary.sent == 10


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
        async with aiohttp.ClientSession() as session:
            await clock.sleep_until(start)
            while clock.now() < start + duration:
                t = clock.now()
                async with session.get(f"{server.url}/stall") as resp:
                    await resp.read()
                closed_loop.append(clock.now() - t)

    async with asyncio.TaskGroup() as tg:
        tg.create_task(closed_loop_client())
        summary = await load.run(start, start + duration)
    seconds = recorder.close_all(start + duration)
    assert_accounted(summary, recorder, aggregate(seconds))
    assert summary.dropped == 0
    assert summary.max_lag < 0.5  # it never waited for the stalled server
    assert summary.late <= 20  # loose: a closed-loop sender would be ~100 late

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
    assert f"{summary.dropped} of 100 planned requests were dropped" in summary.reason


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
    load = HttpLoad(HttpRequestSpec(f"{server.url}/sleep/30"), 50.0, clock=clock, recorder=recorder)

    task = asyncio.create_task(load.run(start, start + 30))
    await asyncio.wait_for(server.busy.wait(), timeout=5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert clock.now() - start < 5

    ours = [t for t in asyncio.all_tasks() if _source_file(t) == http_mod.__file__]
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
