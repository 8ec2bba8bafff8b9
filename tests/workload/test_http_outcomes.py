"""What a request turns into: validation, status classification, timeouts, broken peers."""

from __future__ import annotations

import asyncio
import math
import socket
from typing import Any

import pytest
from aiohttp.http_parser import HttpResponseParserPy

import faultlab.workload.http as http_mod
from faultlab.clock import MonotonicClock
from faultlab.workload.http import HttpLoad, HttpRequestSpec, LoadSummary
from faultlab.workload.stats import Outcome, StatsRecorder

from .http_support import (
    RawHandler,
    Server,
    SpyRecorder,
    SteppingClock,
    assert_accounted,
    free_port,
    raw_server,
    run_load,
)

# --------------------------------------------------------------------------------------------
# Values and validation


def test_public_surface_is_locked() -> None:
    assert sorted(http_mod.__all__) == ["HttpLoad", "HttpRequestSpec", "LoadSummary",
                                         "new_traceparent"]


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
        {"url": "http://[::1/"},
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
    assert summary == LoadSummary(0, 0, 0, 0.0, 0, False, "", client="lean")
    assert recorder.sends == []
    assert recorder.drops == []


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
