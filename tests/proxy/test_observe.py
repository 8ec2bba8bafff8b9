"""Observations: what reached the upstream, per connection and per HTTP request.

First the observer as a transcript (no I/O) and fuzzed, then real sockets through a real
proxy. No assertion bounds a duration: times are checked as orderings and counts only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faultlab.proxy.client import ObservationPage, ProxyApiError, ProxyClient
from faultlab.proxy.observe import (
    ConnectionObservation,
    ConnectionObserver,
    ObservationLog,
    Outcome,
    Record,
    RequestObservation,
    record_from_json,
)
from faultlab.proxy.server import ProxyServer
from faultlab.proxy.toxics.http_parser import (
    MAX_HEAD,
    RequestFramer,
    ResponseFramer,
    parse_traceparent,
)

from .helpers import Conn, TcpServer, eventually

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


def traceparent(trace: str = TRACE) -> str:
    return f"00-{trace}-{PARENT}-01"


def get(path: str, *headers: str) -> bytes:
    return "\r\n".join([f"GET {path} HTTP/1.1", "Host: db", *headers, "", ""]).encode()


def ok(body: bytes = b"ok", status: int = 200) -> bytes:
    return f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body


def requests_of(records: list[Record]) -> list[RequestObservation]:
    return [r for r in records if isinstance(r, RequestObservation)]


def connections_of(records: list[Record]) -> list[ConnectionObservation]:
    return [r for r in records if isinstance(r, ConnectionObservation)]


def finished(log: ObservationLog) -> list[Record]:
    return [record for _, record in log.records(0, 10**6)[0]]


# --------------------------------------------------------------------------- sans-IO


@pytest.mark.parametrize(("value", "expected"), [
    (traceparent(), TRACE),
    (traceparent().upper(), TRACE),  # reported in lower case
    (f"cc-{TRACE}-{PARENT}-01-future-field", TRACE),  # a later version may add fields
    (f"00-{TRACE}-{PARENT}-01-extra", None),  # but version 00 has exactly four
    (f"ff-{TRACE}-{PARENT}-01", None),
    (f"00-{'0' * 32}-{PARENT}-01", None),
    (f"00-{TRACE}-{'0' * 16}-01", None),
    (f"00-{TRACE[:-1]}g-{PARENT}-01", None),
    (f"00-{TRACE}-{PARENT}", None),
    (f"00_{TRACE}-{PARENT}-01", None),
    ("", None),
])
def test_traceparent(value: str, expected: str | None) -> None:
    assert parse_traceparent(value) == expected


def test_request_heads_carry_trace_and_request_ids() -> None:
    stream = (get("/a", f"Traceparent: {traceparent()}", "X-Request-Id: " + "r" * 200)
              + get("/b", f"traceparent: {traceparent()}", f"traceparent: {traceparent()}"))
    (_, first), (offset, second) = RequestFramer().heads(stream)
    assert (first.path, first.trace_id, first.request_id) == ("/a", TRACE, "r" * 128)
    assert (second.path, second.trace_id, second.request_id) == ("/b", None, None)
    assert stream[offset:].startswith(b"GET /b ")


def observer(capacity: int = 1000) -> tuple[ObservationLog, ConnectionObserver]:
    log = ObservationLog("db", capacity)
    return log, ConnectionObserver(log, 7, "127.0.0.1:5000", 1.0)


def test_pipelined_requests_pair_with_responses_in_order() -> None:
    log, obs = observer()
    post = b"POST /p HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
    head = b"HEAD /h HTTP/1.1\r\n\r\n"
    obs.client_bytes(get("/a", f"traceparent: {traceparent()}") + post + head, 2.0)
    obs.client_bytes(memoryview(get("/c", "X-Request-Id: abc")), 2.5)
    assert [r.outcome for r in log.open_requests()] == ["open"] * 4
    obs.upstream_bytes(b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b"a" * 10), 3.0)
    obs.upstream_bytes(b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
                       b"3\r\nabc\r\n0\r\n\r\n", 4.0)
    # A response to HEAD has no body, whatever its Content-Length says.
    obs.upstream_bytes(b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n" + ok(status=404), 5.0)
    records = requests_of(finished(log))
    assert [(r.seq, r.method, r.path, r.status, r.response) for r in records] == [
        (0, "GET", "/a", 200, 3.0), (1, "POST", "/p", 201, 4.0), (2, "HEAD", "/h", 200, 5.0),
        (3, "GET", "/c", 404, 5.0)]
    assert [r.trace_id for r in records] == [TRACE, None, None, None]
    assert records[3].request_id == "abc"
    assert [r.start for r in records] == [2.0, 2.0, 2.0, 2.5]
    assert all(r.outcome == Outcome.RESPONSE and r.end == r.response for r in records)
    assert isinstance(Outcome.RESPONSE, str) and str(Outcome.RESPONSE) == "response"
    assert log.open_requests() == []
    obs.closed(6.0, "completed", 100, 200)
    (conn,) = connections_of(finished(log))
    assert conn == ConnectionObservation("db", 7, "127.0.0.1:5000", 1.0, 6.0, "completed",
                                         100, 200, 4)


def test_204_304_and_until_close_bodies() -> None:
    log, obs = observer()
    obs.client_bytes(get("/a") + get("/b") + get("/c") + get("/d"), 1.0)
    obs.upstream_bytes(b"HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\n"
                       b"Content-Length: 7\r\n\r\n", 2.0)
    # No length, no chunking: the body runs until the connection closes.
    obs.upstream_bytes(b"HTTP/1.0 200 OK\r\n\r\n" + ok(), 3.0)
    obs.closed(4.0, "completed", 0, 0)
    records = requests_of(finished(log))
    assert [(r.status, r.outcome, r.end) for r in records] == [
        (204, "response", 2.0), (304, "response", 2.0), (200, "response", 3.0),
        (None, "closed", 4.0)]


def test_injected_reply_answers_the_request_the_toxic_dropped() -> None:
    log, obs = observer()
    first, second, third = get("/ok"), get("/fail"), get("/after")
    obs.client_bytes(first + second + third, 2.0)
    # The toxic passed the first request and answered the second.
    obs.injected_reply(b"HTTP/1.1 503 Service Unavailable\r\n\r\n", 2.5, len(first))
    obs.upstream_bytes(ok(), 3.0)  # the upstream's answer to the first
    obs.closed(4.0, "toxic_close", len(first), 50)
    records = requests_of(finished(log))
    by_path = {r.path: r for r in records}
    assert (by_path["/fail"].outcome, by_path["/fail"].status, by_path["/fail"].end) == (
        "injected", 503, 2.5)
    assert (by_path["/ok"].outcome, by_path["/ok"].status) == ("response", 200)
    assert (by_path["/after"].outcome, by_path["/after"].end) == ("closed", 4.0)


def test_client_eof_ends_the_waiting_requests() -> None:
    log, obs = observer()
    obs.client_bytes(get("/slow"), 2.0)
    obs.client_eof(3.0)
    obs.upstream_bytes(ok(), 9.0)  # too late: nobody is waiting
    obs.closed(10.0, "completed", 1, 2)
    (request,) = requests_of(finished(log))
    assert (request.outcome, request.response, request.status, request.end) == (
        "closed", None, None, 3.0)


@pytest.mark.parametrize("stream", [
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS client hello
    b"GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n\x81\x85GET / HTTP/1.1\r\n\r\n",
    b"GET /" + b"x" * MAX_HEAD + b" HTTP/1.1\r\n\r\n",  # a head over 64 KiB
])
def test_what_is_not_http_stops_request_recording_only(stream: bytes) -> None:
    log, obs = observer()
    obs.client_bytes(stream, 2.0)
    obs.closed(3.0, "completed", len(stream), 0)
    records = finished(log)
    upgrades = stream.count(b"Upgrade")
    assert len(requests_of(records)) == upgrades  # the upgrade request itself, only
    (conn,) = connections_of(records)
    assert (conn.requests, conn.bytes_up) == (upgrades, len(stream))


def test_the_ring_counts_what_it_drops_and_pages_by_number() -> None:
    log, obs = observer(capacity=3)
    for index in range(5):
        obs.client_bytes(get(f"/{index}"), float(index))
        obs.upstream_bytes(ok(), float(index))
    assert log.dropped == 2
    page, following, dropped = log.records(0, 2)
    assert [(n, r.path) for n, r in page if isinstance(r, RequestObservation)] == [
        (2, "/2"), (3, "/3")]
    assert (following, dropped) == (4, 2)
    page, following, _ = log.records(following, 10)
    assert [n for n, _ in page] == [4] and following == 5
    assert log.records(5, 10)[:2] == ([], 5)
    assert log.records(99, 10)[:2] == ([], 5)  # beyond the end: the next number
    log.capacity = 1
    assert log.dropped == 4 and [n for n, _ in log.records(0, 10)[0]] == [4]


request_records = st.builds(
    RequestObservation, st.text(max_size=5), st.integers(1, 2**40), st.integers(0, 2**40),
    st.text(max_size=5), st.text(max_size=5), st.none() | st.text(max_size=32),
    st.none() | st.text(max_size=5), st.floats(allow_nan=False, allow_infinity=False),
    st.none() | st.floats(allow_nan=False, allow_infinity=False),
    st.none() | st.integers(100, 599),
    st.none() | st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([o.value for o in Outcome]))
connection_records = st.builds(
    ConnectionObservation, st.text(max_size=5), st.integers(1, 2**40), st.text(max_size=9),
    st.floats(allow_nan=False, allow_infinity=False),
    st.none() | st.floats(allow_nan=False, allow_infinity=False),
    st.none() | st.text(max_size=9), st.integers(0, 2**60), st.integers(0, 2**60),
    st.integers(0, 2**40))


@given(request_records | connection_records)
def test_records_round_trip_through_json_exactly(record: Record) -> None:
    data = json.loads(json.dumps(record.to_json()))
    assert data["type"] == ("request" if isinstance(record, RequestObservation)
                            else "connection")
    assert record_from_json(data) == record
    assert type(record).from_json(data) == record


REQUESTS = [
    get("/a", f"traceparent: {traceparent()}", "X-Request-Id: one"),
    b"POST /p HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello world",
    b"PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x=1\r\nabc\r\n0\r\nT: 1\r\n\r\n",
    b"HEAD /h HTTP/1.1\r\n\r\n",
]
RESPONSES = [
    ok(b"fine"),
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 500 Oops\r\nTransfer-Encoding: gzip, chunked\r\n\r\n4\r\nboom\r\n0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n",  # to HEAD: no body
]


def cut(stream: bytes, data: st.DataObject) -> list[bytes]:
    cuts = sorted(data.draw(st.sets(st.integers(1, max(len(stream) - 1, 1)), max_size=10)))
    return [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)
            if stream[a:b]]


def transcript(requests: list[int], client: list[bytes], upstream: list[bytes],
               views: bool) -> list[Record]:
    log, obs = observer()
    for piece in client:
        obs.client_bytes(memoryview(piece) if views else piece, 1.0)
    for piece in upstream:
        obs.upstream_bytes(memoryview(piece) if views else piece, 2.0)
    obs.closed(3.0, "completed", 0, 0)
    assert log.errors == 0
    return finished(log)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, len(REQUESTS) - 1), min_size=1, max_size=6), st.data(),
       st.booleans())
def test_any_split_of_the_bytes_gives_the_same_records(
        requests: list[int], data: st.DataObject, views: bool) -> None:
    client = b"".join(REQUESTS[i] for i in requests)
    upstream = b"".join(RESPONSES[i] for i in requests)
    whole = transcript(requests, [client], [upstream], views=False)
    assert transcript(requests, cut(client, data), cut(upstream, data), views) == whole
    records = requests_of(whole)
    assert [r.path for r in records] == [["/a", "/p", "/c", "/h"][i] for i in requests]
    assert [r.status for r in records] == [[200, 201, 500, 200][i] for i in requests]
    assert all(r.outcome == "response" for r in records)


def test_heads_offsets_and_feed_agree_on_every_split() -> None:
    stream = b"".join(REQUESTS * 2)
    expected = RequestFramer().heads(stream)
    for step in (1, 2, 7, 64):
        framer = RequestFramer()
        found = [h for i in range(0, len(stream), step)
                 for h in framer.heads(memoryview(stream)[i:i + step])]
        assert found == expected
    assert [stream[offset:offset + 4] for offset, _ in expected] == [
        b"GET ", b"POST", b"PUT ", b"HEAD"] * 2
    segments = RequestFramer().feed(stream)
    assert [h for h, _ in segments if h is not None] == [h for _, h in expected]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["client", "upstream", "reply", "eof"]),
                          st.binary(max_size=64) | st.sampled_from(REQUESTS + RESPONSES)),
                max_size=20), st.integers(0, 200))
def test_random_bytes_never_raise(steps: list[tuple[str, bytes]], passed: int) -> None:
    log, obs = observer()
    for at, (kind, data) in enumerate(steps):
        if kind == "client":
            obs.client_bytes(memoryview(data), float(at))
        elif kind == "upstream":
            obs.upstream_bytes(data, float(at))
        elif kind == "reply":
            obs.injected_reply(data, float(at), passed)
        else:
            obs.client_eof(float(at))
    obs.closed(99.0, "completed", 0, 0)
    assert log.errors == 0
    records = finished(log)
    assert isinstance(records[-1], ConnectionObservation) and log.open_requests() == []
    assert all(r.start <= r.end for r in requests_of(records) if r.end is not None)
    framer = ResponseFramer()
    for _, data in steps:
        framer.feed(data)


# ---------------------------------------------------------------------- real sockets


async def http_upstream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answers ``GET /status/N`` with N, ``/hold`` only by closing at EOF, else 200; reads
    request bodies by Content-Length."""
    while True:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return
        lines = head.decode("latin-1").split("\r\n")
        path = lines[0].split(" ")[1]
        length = next((int(line.split(":", 1)[1]) for line in lines
                       if line.lower().startswith("content-length:")), 0)
        await reader.readexactly(length)
        if path == "/hold":
            await reader.read()  # until the proxy passes the client's EOF on
            return
        status = int(path.rsplit("/", 1)[1]) if path.startswith("/status/") else 200
        writer.write(ok(path.encode(), status))
        await writer.drain()


async def read_response(conn: Conn) -> tuple[int, bytes]:
    head = await conn.reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next(int(line.split(":", 1)[1]) for line in lines
                  if line.lower().startswith("content-length:"))
    return int(lines[0].split(" ")[1]), await conn.reader.readexactly(length)


@pytest.fixture
async def upstream() -> AsyncIterator[TcpServer]:
    tcp = await TcpServer(http_upstream).start()
    try:
        yield tcp
    finally:
        await tcp.close()


async def observed(client: ProxyClient, upstream: TcpServer, name: str = "web") -> str:
    info = await client.create_proxy(name, "127.0.0.1:0", upstream.address, observe=True)
    assert info.get("observe") is True
    return info["listen"]


async def wait_for(client: ProxyClient, name: str,
                   done: Callable[[ObservationPage], bool]) -> ObservationPage:
    """The page from 0 once ``done`` holds of it (no time bound but a generous one)."""
    page: ObservationPage | None = None

    async def check() -> bool:
        nonlocal page
        page = await client.observations(name)
        return done(page)

    await eventually(check, timeout=60)
    assert page is not None
    return page


def has_connections(count: int) -> Callable[[ObservationPage], bool]:
    return lambda page: len(connections_of(page.records)) >= count


async def opened(listen: str, conns: list[Conn]) -> Conn:
    conn = await Conn.open(listen)
    conns.append(conn)
    return conn


async def test_keep_alive_and_pipelined_requests_are_recorded_in_order(
        client: ProxyClient, upstream: TcpServer, conns: list[Conn]) -> None:
    listen = await observed(client, upstream)
    conn = await opened(listen, conns)
    traces = [os.urandom(16).hex() for _ in range(5)]
    before = time.monotonic()
    for index in range(3):  # one at a time
        conn.writer.write(get(f"/status/{200 + index}",
                              f"traceparent: {traceparent(traces[index])}",
                              f"X-Request-Id: req-{index}"))
        assert (await read_response(conn))[0] == 200 + index
    # Pipelined: both sent before either answer is read.
    conn.writer.write(get("/status/404", f"traceparent: {traceparent(traces[3])}")
                      + get("/status/500", f"traceparent: {traceparent(traces[4])}"))
    assert [(await read_response(conn))[0] for _ in range(2)] == [404, 500]
    await conn.aclose()
    page = await wait_for(client, "web", has_connections(1))
    after = time.monotonic()
    records = requests_of(page.records)
    assert [(r.conn, r.seq, r.status, r.trace_id, r.outcome) for r in records] == [
        (1, seq, status, trace, "response")
        for seq, (status, trace) in enumerate(zip([200, 201, 202, 404, 500], traces,
                                                  strict=True))]
    assert [r.request_id for r in records] == ["req-0", "req-1", "req-2", None, None]
    assert all(r.method == "GET" and r.path == f"/status/{r.status}" for r in records)
    for record in records:
        assert record.response is not None and record.end is not None
        assert before <= record.start <= record.response == record.end <= after
    starts = [r.start for r in records]
    assert starts == sorted(starts)
    (connection,) = connections_of(page.records)
    assert connection.requests == 5 and connection.reason == "completed"
    assert connection.bytes_up == sum(len(get(f"/status/{s}", f"traceparent: {traceparent(t)}",
                                              *([f"X-Request-Id: req-{i}"] if i < 3 else [])))
                                      for i, (s, t) in enumerate(zip(
                                          [200, 201, 202, 404, 500], traces, strict=True)))
    assert connection.bytes_down == sum(len(ok(f"/status/{s}".encode(), s))
                                        for s in [200, 201, 202, 404, 500])
    assert connection.opened <= records[0].start and records[-1].end is not None
    assert records[-1].end <= connection.closed <= after  # type: ignore[operator]
    host, _, port = connection.client.rpartition(":")
    assert host == "127.0.0.1" and int(port) > 0
    assert page.open == [] and page.dropped == 0 and page.next == 6


async def test_a_large_body_is_counted_not_spliced(client: ProxyClient, upstream: TcpServer,
                                                   conns: list[Conn]) -> None:
    """A body that fills the read buffer would go to splice(2), where no one sees the
    bytes: the request after it must still be framed."""
    listen = await observed(client, upstream)
    conn = await opened(listen, conns)
    body = os.urandom(4 * 1024 * 1024)
    conn.writer.write(f"POST /big HTTP/1.1\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                      + body + get("/status/201"))
    assert [(await read_response(conn))[0] for _ in range(2)] == [200, 201]
    await conn.aclose()
    page = await wait_for(client, "web", has_connections(1))
    assert [(r.method, r.path, r.status) for r in requests_of(page.records)] == [
        ("POST", "/big", 200), ("GET", "/status/201", 201)]


def abort_fail(**numbers: int) -> dict[str, Any]:
    # ProxyClient.add_toxic's hint says float values (its signature is locked); the HTTP
    # toxics' path is a string, which it sends as it is.
    return {"path_prefix": "/fail", **numbers}


async def test_http_abort_is_recorded_as_injected(client: ProxyClient, upstream: TcpServer,
                                                  conns: list[Conn]) -> None:
    listen = await observed(client, upstream)
    await client.add_toxic("web", "http_abort", abort_fail(status=503), stream="upstream")
    conn = await opened(listen, conns)
    conn.writer.write(get("/ok"))
    assert (await read_response(conn))[0] == 200
    conn.writer.write(get("/fail", f"traceparent: {traceparent()}"))
    assert (await read_response(conn))[0] == 503
    page = await wait_for(client, "web", has_connections(1))
    first, second = requests_of(page.records)
    assert (first.path, first.outcome, first.status) == ("/ok", "response", 200)
    assert (second.path, second.outcome, second.status, second.trace_id) == (
        "/fail", "injected", 503, TRACE)
    assert second.start <= second.response == second.end  # type: ignore[operator]
    (connection,) = connections_of(page.records)
    assert connection.reason == "completed" and connection.requests == 2
    assert connection.bytes_up == len(get("/ok"))  # the aborted request never reached it


async def test_http_abort_of_a_pipelined_request_answers_that_one(
        client: ProxyClient, upstream: TcpServer, conns: list[Conn]) -> None:
    listen = await observed(client, upstream)
    await client.add_toxic("web", "http_abort", abort_fail(), stream="upstream")
    conn = await opened(listen, conns)
    conn.writer.write(get("/ok") + get("/fail") + get("/later"))
    page = await wait_for(client, "web", has_connections(1))
    by_path = {r.path: r for r in requests_of(page.records)}
    assert (by_path["/fail"].outcome, by_path["/fail"].status) == ("injected", 503)
    # The first reached the upstream; whether its answer came before the connection
    # ended is a race. The last never got anywhere.
    assert by_path["/ok"].outcome in ("response", "closed")
    assert by_path["/later"].outcome == "closed"


@pytest.mark.parametrize("hold", ["upstream", "latency"])
async def test_a_client_that_gives_up_is_recorded_as_closed(
        client: ProxyClient, upstream: TcpServer, conns: list[Conn], hold: str) -> None:
    listen = await observed(client, upstream)
    path = "/hold"
    if hold == "latency":
        await client.add_toxic("web", "latency", {"latency": 600_000}, stream="upstream")
        path = "/status/200"
    conn = await opened(listen, conns)
    conn.writer.write(get(path, f"traceparent: {traceparent()}"))
    waiting = await wait_for(client, "web", lambda page: bool(page.open))
    (open_request,) = waiting.open
    assert (open_request.outcome, open_request.end, open_request.path) == ("open", None, path)
    assert open_request.trace_id == TRACE
    gave_up = time.monotonic()
    await conn.aclose()
    page = await wait_for(client, "web", lambda page: bool(requests_of(page.records)))
    seen = time.monotonic()
    (request,) = requests_of(page.records)
    assert (request.outcome, request.status, request.response) == ("closed", None, None)
    assert request.start <= gave_up <= request.end <= seen  # type: ignore[operator]
    assert page.open == []
    if hold == "upstream":  # the upstream closes at the client's EOF: the connection ends
        page = await wait_for(client, "web", has_connections(1))
        (connection,) = connections_of(page.records)
        assert request.end <= connection.closed  # type: ignore[operator]


async def test_the_ring_overflow_is_counted(client: ProxyClient, server: ProxyServer,
                                            upstream: TcpServer, conns: list[Conn]) -> None:
    listen = await observed(client, upstream)
    server.registry.get("web").observations.capacity = 3
    conn = await opened(listen, conns)
    for index in range(5):
        conn.writer.write(get(f"/status/{200 + index}"))
        await read_response(conn)
    await conn.aclose()
    page = await wait_for(client, "web", has_connections(1))
    assert page.dropped == 3 and page.next == 6
    assert [r.status for r in requests_of(page.records)] == [203, 204]
    assert len(connections_of(page.records)) == 1


async def test_paging_with_since_and_limit(client: ProxyClient, upstream: TcpServer,
                                           conns: list[Conn]) -> None:
    listen = await observed(client, upstream)
    for _ in range(3):
        conn = await opened(listen, conns)
        conn.writer.write(get("/status/200"))
        await read_response(conn)
        await conn.aclose()
    await wait_for(client, "web", has_connections(3))
    seen: list[Record] = []
    since = 0
    while True:
        page = await client.observations("web", since=since, limit=2)
        if not page.records:
            break
        assert len(page.records) <= 2
        seen += page.records
        since = page.next
    assert since == 6
    assert sorted(r.conn for r in connections_of(seen)) == [1, 2, 3]
    assert sorted(r.conn for r in requests_of(seen)) == [1, 2, 3]


async def test_a_proxy_that_does_not_observe_records_nothing(
        client: ProxyClient, upstream: TcpServer, conns: list[Conn]) -> None:
    info = await client.create_proxy("plain", "127.0.0.1:0", upstream.address)
    assert "observe" not in info  # Toxiproxy's shape, exactly
    conn = await opened(info["listen"], conns)
    conn.writer.write(get("/status/200"))
    await read_response(conn)
    await conn.aclose()
    await eventually(lambda: _no_connections(client, "plain"), timeout=60)
    page = await client.observations("plain")
    assert page == ObservationPage([], 0, 0, [])


async def _no_connections(client: ProxyClient, name: str) -> bool:
    # The proxy's metrics say when the connection has ended.
    del name
    async with aiohttp.ClientSession() as session, \
            session.get(client.api_url + "/metrics") as response:
        return 'faultlab_proxy_connections_active{proxy="plain"} 0.0' in await response.text()


async def test_observe_is_switched_by_update_and_populate(
        client: ProxyClient, upstream: TcpServer, conns: list[Conn]) -> None:
    info = await client.create_proxy("web", "127.0.0.1:0", upstream.address)
    async with aiohttp.ClientSession() as session:
        async def call(method: str, path: str, body: object) -> dict[str, object]:
            async with session.request(method, client.api_url + path, json=body) as response:
                assert response.status in (200, 201), await response.text()
                result = await response.json()
                assert isinstance(result, dict)
                return result

        assert (await call("POST", "/proxies/web", {"observe": True}))["observe"] is True
        conn = await opened(info["listen"], conns)
        conn.writer.write(get("/status/200"))
        await read_response(conn)
        await conn.aclose()
        await wait_for(client, "web", has_connections(1))
        assert "observe" not in await call("PATCH", "/proxies/web", {"observe": False})
        assert "observe" not in await call("PATCH", "/proxies/web", {"enabled": True})
        # /populate keeps a proxy whose address is unchanged, but applies observe.
        entry = {"name": "web", "listen": info["listen"], "upstream": upstream.address}
        populated = await call("POST", "/populate", [{**entry, "observe": True}])
        assert populated["proxies"][0]["observe"] is True  # type: ignore[index]
        populated = await call("POST", "/populate", [entry])  # not given: unchanged
        assert populated["proxies"][0]["observe"] is True  # type: ignore[index]
    # The records taken while it observed are still there.
    assert len(connections_of((await client.observations("web")).records)) == 1


@pytest.mark.parametrize("query", ["since=-1", "since=x", "since=1.5", "limit=0",
                                   "limit=100001", "limit=", "since=%EF%BC%91"])
async def test_bad_numbers_get_toxiproxys_error_body(client: ProxyClient, upstream: TcpServer,
                                                     query: str) -> None:
    await observed(client, upstream)
    async with aiohttp.ClientSession() as session, \
            session.get(f"{client.api_url}/proxies/web/observations?{query}") as response:
        assert response.status == 400
        body = json.loads(await response.text())
        assert body["status"] == 400 and body["error"].startswith("bad query: ")


async def test_the_endpoint_shape_and_its_404(client: ProxyClient, upstream: TcpServer,
                                              conns: list[Conn]) -> None:
    listen = await observed(client, upstream)
    conn = await opened(listen, conns)
    conn.writer.write(get("/status/200"))
    await read_response(conn)
    conn.writer.write(get("/hold"))
    await wait_for(client, "web", lambda page: bool(page.open))
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{client.api_url}/proxies/web/observations") as response:
            assert response.status == 200
            body = await response.json()
        assert set(body) == {"proxy", "next", "dropped", "records", "open"}
        assert (body["proxy"], body["next"], body["dropped"]) == ("web", 1, 0)
        (record,) = body["records"]
        assert record["n"] == 0 and record["type"] == "request"
        assert set(record) == {"n", "type", "proxy", "conn", "seq", "method", "path",
                               "trace_id", "request_id", "start", "response", "status",
                               "end", "outcome"}
        (waiting,) = body["open"]
        assert (waiting["outcome"], waiting["seq"], waiting["end"]) == ("open", 1, None)
        async with session.get(f"{client.api_url}/proxies/nope/observations") as response:
            assert response.status == 404
            assert json.loads(await response.text()) == {"error": "proxy not found",
                                                         "status": 404}
    with pytest.raises(ProxyApiError) as raised:
        await client.observations("nope")
    assert raised.value.status == 404


async def test_connection_records_carry_the_reason(client: ProxyClient, upstream: TcpServer,
                                                   conns: list[Conn]) -> None:
    listen = await observed(client, upstream)
    await client.add_toxic("web", "reset_peer", {"timeout": 0}, stream="upstream")
    conn = await opened(listen, conns)
    conn.writer.write(get("/status/200"))
    with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
        await conn.reader.read()
    page = await wait_for(client, "web", has_connections(1))
    (connection,) = connections_of(page.records)
    assert connection.reason == "toxic_reset"
    assert connection.opened <= connection.closed  # type: ignore[operator]
    for request in requests_of(page.records):
        assert request.outcome == "closed" and request.end <= connection.closed  # type: ignore[operator]

