"""The lean HTTP/1.1 client against real servers: every outcome, framing, keep-alive, no
pipelining, what is sent, cancellation; and which client a load picks.

Most outcome tests run both clients on the same server (``client`` parameter), so the lean
path is held to aiohttp's behaviour; one runs the lean client on uvloop, as ``faultlab run``
does. No timing bounds beyond "the timeout was not early" and "a 30 s answer was not awaited".
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator, Callable

import pytest
import uvloop
from aiohttp import web

from faultlab.clock import MonotonicClock
from faultlab.workload import lean_http
from faultlab.workload.http import ClientChoice, HttpLoad, HttpRequestSpec
from faultlab.workload.stats import Outcome

from .http_support import (
    RawServer,
    Server,
    SpyRecorder,
    assert_accounted,
    free_port,
    load_against_raw,
    raw_server,
    run_load,
)

BOTH: list[ClientChoice] = ["lean", "aiohttp"]
TRACEPARENT = re.compile(r"00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-01")

# --------------------------------------------------------------------------------------------
# Which client


@pytest.mark.parametrize(("url", "method", "headers", "lean"), [
    ("http://127.0.0.1:8080/x?y=1", "GET", (), True),
    ("http://[::1]:8080/", "POST", (("X-A", "b"),), True),
    ("https://127.0.0.1/", "GET", (), False),
    ("http://u:p@127.0.0.1/", "GET", (), False),
    ("http://127.0.0.1/", "HEAD", (), False),
    ("http://127.0.0.1/", "GET", (("Content-Length", "3"),), False),
    ("http://127.0.0.1/", "GET", (("Connection", "close"),), False),
    ("http://127.0.0.1/", "GET", (("X-A", "b\r\nX-B: c"),), False),
])
def test_the_lean_client_serves_what_it_supports_and_aiohttp_the_rest(
        url: str, method: str, headers: tuple[tuple[str, str], ...], lean: bool) -> None:
    assert lean_http.supports(url, method, headers) is lean
    load = HttpLoad(HttpRequestSpec(url, method=method, headers=headers), 10.0,
                    clock=MonotonicClock(), recorder=SpyRecorder(0))
    assert load.client == ("lean" if lean else "aiohttp")
    forced = HttpLoad(HttpRequestSpec(url, method=method, headers=headers), 10.0,
                      clock=MonotonicClock(), recorder=SpyRecorder(0), client="aiohttp")
    assert forced.client == "aiohttp"
    if not lean:
        with pytest.raises(ValueError, match="lean HTTP client cannot send"):
            HttpLoad(HttpRequestSpec(url, method=method, headers=headers), 10.0,
                     clock=MonotonicClock(), recorder=SpyRecorder(0), client="lean")


# --------------------------------------------------------------------------------------------
# Outcomes, both clients on the same servers


@pytest.mark.parametrize("client", BOTH)
@pytest.mark.parametrize(("path", "expect", "outcome"), [
    ("/status/200", frozenset(range(200, 400)), Outcome.OK),
    ("/status/204", frozenset(range(200, 400)), Outcome.OK),
    ("/status/302", frozenset(range(200, 400)), Outcome.OK),  # not followed: 302 is the answer
    ("/status/201", frozenset({200}), Outcome.FAILED),
    ("/status/503", frozenset(range(200, 400)), Outcome.FAILED),
    ("/status/404", frozenset(range(200, 400)), Outcome.FAILED),
])
async def test_status_is_classified_by_expect_status(
        server: Server, client: ClientChoice, path: str, expect: frozenset[int],
        outcome: Outcome) -> None:
    spec = HttpRequestSpec(f"{server.url}{path}", expect_status=expect, timeout=5.0)
    summary, recorder, agg = await run_load(spec, 40.0, 0.25, client=client)
    assert_accounted(summary, recorder, agg)
    assert summary.client == client
    assert summary.sent == 10
    assert [o for _, o, _ in recorder.dones] == [outcome] * 10


@pytest.mark.parametrize("client", BOTH)
async def test_an_answer_held_past_the_timeout_is_timed_out_at_the_timeout(
        server: Server, client: ClientChoice) -> None:
    spec = HttpRequestSpec(f"{server.url}/sleep/30", timeout=0.2)
    summary, recorder, agg = await run_load(spec, 20.0, 0.25, client=client)
    assert_accounted(summary, recorder, agg)
    assert agg.timed_out == summary.sent == 5
    for intended, _, latency in recorder.dones:
        sent = dict(recorder.sends)[intended]
        assert latency >= sent - intended + 0.2  # never before the timeout, from the send
        assert latency < 30  # the held answer was not awaited


@pytest.mark.parametrize("client", BOTH)
async def test_connection_refused_is_failed(client: ClientChoice) -> None:
    spec = HttpRequestSpec(f"http://127.0.0.1:{free_port()}/", timeout=2.0)
    summary, recorder, agg = await run_load(spec, 40.0, 0.25, client=client)
    assert_accounted(summary, recorder, agg)
    assert agg.failed == summary.sent == 10


async def _close_mid_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    await writer.drain()
    writer.close()


async def _close_mid_chunks(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
    await writer.drain()
    writer.close()


async def _close_mid_headers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Le")
    await writer.drain()
    writer.close()


async def _reset_mid_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    await writer.drain()
    await asyncio.sleep(0.01)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    writer.transport.abort()


async def _two_answers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    writer.write(answer + answer)  # one more than was asked for: not an HTTP/1.1 server
    await writer.drain()
    await asyncio.sleep(0.5)


@pytest.mark.parametrize("client", BOTH)
@pytest.mark.parametrize("handler", [_close_mid_body, _close_mid_chunks, _close_mid_headers,
                                     _reset_mid_body])
async def test_a_close_or_reset_mid_response_is_failed(
        client: ClientChoice, handler: object) -> None:
    summary, recorder, agg = await load_against_raw(handler, 40.0, 0.25, client=client)  # type: ignore[arg-type]
    assert_accounted(summary, recorder, agg)
    assert agg.failed == summary.sent == 10


async def test_an_unsolicited_second_answer_closes_the_connection() -> None:
    conns: list[int] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conns.append(1)
        await _two_answers(reader, writer)

    summary, recorder, agg = await load_against_raw(handler, 20.0, 0.25)
    assert_accounted(summary, recorder, agg)
    assert agg.ok == summary.sent == 5  # each first answer is the answer...
    assert len(conns) == 5  # ...and no connection is reused after the extra one


# --------------------------------------------------------------------------------------------
# Framing, keep-alive, no pipelining


@pytest.fixture
async def framing() -> AsyncIterator[str]:
    async def chunked(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for part in (b"he", b"ll", b"o"):
            await resp.write(part)
            await asyncio.sleep(0.005)
        await resp.write_eof()
        return resp

    async def sized(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * 200_000)  # several reads

    app = web.Application()
    app.add_routes([web.get("/chunked", chunked), web.get("/sized", sized)])
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("path", ["/chunked", "/sized"])
async def test_chunked_and_content_length_bodies_are_read_to_the_end(
        framing: str, path: str) -> None:
    spec = HttpRequestSpec(f"{framing}{path}", timeout=5.0)
    summary, recorder, agg = await run_load(spec, 40.0, 0.25, client="lean")
    assert_accounted(summary, recorder, agg)
    assert agg.ok == summary.sent == 10


async def test_a_body_that_ends_at_the_close_is_complete() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it")
        await writer.drain()
        writer.close()

    srv, url = await raw_server(handler)
    try:
        summary, _, agg = await run_load(HttpRequestSpec(url), 40.0, 0.25, client="lean")
    finally:
        srv.close()
        await srv.wait_closed()
    assert agg.ok == summary.sent == 10


class CountingServer:
    """An HTTP/1.1 keep-alive server that answers each request ``delay`` seconds after it
    arrives, counts connections, and notes a request that arrives on a connection while an
    earlier one is unanswered (pipelining)."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.connections = 0
        self.open = 0
        self.requests = 0
        self.pipelined = 0
        self.changed = asyncio.Event()  # set (and replaced) whenever `open` changes
        self.raw = RawServer(self._handle)

    def _open_by(self, n: int) -> None:
        self.open += n
        self.changed.set()
        self.changed = asyncio.Event()

    async def wait_open(self, done: Callable[[int], bool]) -> None:
        while not done(self.open):
            await self.changed.wait()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._open_by(1)
        loop = asyncio.get_running_loop()
        unanswered = 0

        def answer() -> None:
            nonlocal unanswered
            unanswered -= 1
            if not writer.is_closing():
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

        try:
            while True:
                try:
                    await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return
                self.requests += 1
                if unanswered:
                    self.pipelined += 1
                unanswered += 1
                loop.call_later(self.delay, answer)
        finally:
            self._open_by(-1)


async def test_connections_are_kept_alive_and_reused_never_pipelined() -> None:
    srv = CountingServer(delay=0.03)  # answers slower than requests arrive: several in flight
    port = await srv.raw.start()
    try:
        spec = HttpRequestSpec(f"http://127.0.0.1:{port}/", timeout=5.0)
        # ~6 would be in flight at a time; at most 4 are (the others are dropped)
        summary, recorder, agg = await run_load(spec, 200.0, 0.5, client="lean",
                                                max_in_flight=4)
    finally:
        srv.raw.close()
        await srv.raw.wait_closed()
    assert_accounted(summary, recorder, agg)
    assert agg.ok == summary.sent == srv.requests and summary.planned == 100
    assert srv.pipelined == 0
    # A connection opens only when no idle one is left, and a connection is idle again in
    # the same callback that finishes its request: never more connections than requests in
    # flight, however late the sends (connections per request would depend on the machine).
    assert summary.sent > 4 and srv.connections <= 4


async def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    conns: list[int] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conns.append(1)
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")  # keep-alive...
        await writer.drain()
        await asyncio.sleep(0.005)
        writer.close()  # ...ended by the server before the next request

    summary, recorder, agg = await load_against_raw(handler, 20.0, 0.5)
    assert_accounted(summary, recorder, agg)
    assert agg.ok == summary.sent == len(conns) == 10


@pytest.mark.parametrize(("second", "outcome"), [("hold", Outcome.TIMED_OUT),
                                                  ("reset", Outcome.FAILED)])
async def test_a_request_on_a_warm_connection_times_out_or_fails_like_any_other(
        second: str, outcome: Outcome) -> None:
    """Each connection answers its first request and not its second: the second is sent on
    a warm connection (by the scheduler's loop itself, no task) and is timed out at its
    timeout from the send, or failed by the reset."""
    conns: list[int] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conns.append(1)
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")  # kept alive
        await writer.drain()
        await reader.readuntil(b"\r\n\r\n")
        if second == "reset":
            writer.transport.abort()
        else:
            await reader.read()  # held until the client closes it (at the timeout)

    summary, recorder, agg = await load_against_raw(handler, 20.0, 0.5, timeout=0.2)
    assert_accounted(summary, recorder, agg)
    assert agg.ok == len(conns)  # each connection's first answer
    others = [(i, lat) for i, o, lat in recorder.dones if o is not Outcome.OK]
    assert len(others) == summary.sent - agg.ok > 0  # the second requests: on warm ones
    assert {o for _, o, _ in recorder.dones} == {Outcome.OK, outcome}
    sends = dict(recorder.sends)
    for intended, latency in others:
        if outcome is Outcome.TIMED_OUT:
            assert latency >= sends[intended] - intended + 0.2  # not early, from the send
        assert latency < 30


# --------------------------------------------------------------------------------------------
# What is sent


async def test_method_headers_body_and_traceparent_are_sent_as_configured() -> None:
    seen: list[tuple[str, str, dict[str, str], bytes]] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append((request.method, request.path_qs, dict(request.headers),
                     await request.read()))
        return web.Response(status=201, text="created")

    app = web.Application()
    app.add_routes([web.route("*", "/echo", handle)])
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/echo?q=1"
        spec = HttpRequestSpec(url, method="put", headers=(("X-Test", "v1"), ("Host", "svc")),
                               body=b"payload", traceparent=True)
        summary, _, agg = await run_load(spec, 40.0, 0.25, client="lean")
    finally:
        await runner.cleanup()
    assert agg.ok == summary.sent == len(seen) == 10
    for method, path, headers, body in seen:
        assert (method, path, body) == ("PUT", "/echo?q=1", b"payload")
        assert headers["X-Test"] == "v1" and headers["Host"] == "svc"
        assert headers["Content-Length"] == "7"
        assert TRACEPARENT.fullmatch(headers["traceparent"])
    assert len({h["traceparent"] for _, _, h, _ in seen}) == 10


async def test_without_traceparent_none_is_sent_and_a_get_has_no_body(server: Server) -> None:
    await run_load(HttpRequestSpec(f"{server.url}/echo"), 40.0, 0.25, client="lean")
    assert server.received == [("GET", "", b"")] * 10


# --------------------------------------------------------------------------------------------
# Structure


async def test_cancelling_run_closes_every_connection_and_reports_nothing() -> None:
    srv = CountingServer(delay=30)
    port = await srv.raw.start()
    try:
        clock = MonotonicClock()
        start = clock.now()
        recorder = SpyRecorder(origin=start)
        load = HttpLoad(HttpRequestSpec(f"http://127.0.0.1:{port}/"), 50.0, clock=clock,
                        recorder=recorder, client="lean")
        task = asyncio.create_task(load.run(start, start + 30))
        await asyncio.wait_for(srv.wait_open(lambda n: n >= 3), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # the server sees every connection close
        await asyncio.wait_for(srv.wait_open(lambda n: n == 0), 5)
        assert recorder.sends and recorder.dones == []
    finally:
        srv.raw.close()
        await srv.raw.wait_closed()


def test_the_lean_client_on_uvloop() -> None:
    async def main() -> None:
        ok = CountingServer(delay=0.0)
        port = await ok.raw.start()
        try:
            spec = HttpRequestSpec(f"http://127.0.0.1:{port}/")
            summary, recorder, agg = await run_load(spec, 200.0, 0.25, client="lean")
            assert_accounted(summary, recorder, agg)
            assert agg.ok == summary.sent == 50
            spec = HttpRequestSpec(f"http://127.0.0.1:{port}/", expect_status=frozenset({201}))
            _, _, agg = await run_load(spec, 200.0, 0.1, client="lean")
            assert agg.failed == agg.sent == 20
        finally:
            ok.raw.close()
            await ok.raw.wait_closed()
        held = CountingServer(delay=30)
        port = await held.raw.start()
        try:
            spec = HttpRequestSpec(f"http://127.0.0.1:{port}/", timeout=0.1)
            summary, recorder, agg = await run_load(spec, 40.0, 0.25, client="lean")
            assert agg.timed_out == summary.sent == 10
        finally:
            held.raw.close()
            await held.raw.wait_closed()

    uvloop.run(main())
