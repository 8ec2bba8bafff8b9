"""The relay's callback fast path, with real sockets, on both loops (uvloop is the server's).

While no data toxic applies and nothing is queued, a direction is relayed from readiness
callbacks (``_Pipe._watch``) and hands back to its reader task for sends that block, chunks
for the chain, full reads and EOF. These tests cross those hand-overs: toxics that come and
go mid-stream, half-close, slow readers, resets, observed connections and a failing
observer. No timing bounds: waits are for conditions, with generous time-outs.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import os
import random
import socket
import struct
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from faultlab.proxy import splice
from faultlab.proxy.client import ProxyClient
from faultlab.proxy.events import EventLog
from faultlab.proxy.model import Stream
from faultlab.proxy.observe import ConnectionObserver
from faultlab.proxy.relay import RelayLimits
from faultlab.proxy.server import ProxyServer

from .helpers import Conn, Handler, TcpServer, echo, eventually, reply_after_eof
from .test_observe import connections_of, get, http_upstream, read_response, requests_of

LoopFactory = Callable[[], asyncio.AbstractEventLoop]
LOOPS: dict[str, LoopFactory] = {"asyncio": asyncio.new_event_loop}
with contextlib.suppress(ImportError):
    import uvloop

    LOOPS["uvloop"] = uvloop.new_event_loop


@pytest.fixture(params=sorted(LOOPS))
def run(request: pytest.FixtureRequest) -> Callable[[Coroutine[Any, Any, None]], None]:
    """Run a test's scenario to the end in a fresh loop of the parameter's kind."""

    def runner(scenario: Coroutine[Any, Any, None]) -> None:
        with asyncio.Runner(loop_factory=LOOPS[request.param]) as loop_runner:
            loop_runner.run(asyncio.wait_for(scenario, 60))  # a hang fails

    return runner


class Lab:
    """A proxy server, a client of its API, an upstream server and the client connections."""

    def __init__(self, server: ProxyServer, api: ProxyClient, upstream: TcpServer) -> None:
        self.server = server
        self.api = api
        self.upstream = upstream
        self.conns: list[Conn] = []

    async def proxy(self, name: str = "db", *, observe: bool = False) -> str:
        info = await self.api.create_proxy(name, "127.0.0.1:0", self.upstream.address,
                                           observe=observe)
        return info["listen"]

    async def connect(self, listen: str) -> Conn:
        conn = await Conn.open(listen)
        self.conns.append(conn)
        return conn


@contextlib.asynccontextmanager
async def lab(handler: Handler, limits: RelayLimits | None = None,
              log: io.StringIO | None = None) -> Any:
    upstream = await TcpServer(handler).start()
    try:
        async with ProxyServer(limits=limits or RelayLimits(), seed=7,
                               events=EventLog(log or io.StringIO())) as server, \
                ProxyClient(server.api_url) as api:
            the_lab = Lab(server, api, upstream)
            try:
                yield the_lab
            finally:
                for conn in the_lab.conns:
                    conn.writer.transport.abort()
    finally:
        await upstream.close()


def stream_bytes(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


@pytest.mark.parametrize("zero_copy", [True, False])
def test_order_holds_while_toxics_come_and_go(run: Callable[..., None],
                                              zero_copy: bool) -> None:
    """Bytes sent while data toxics are added and removed (so each direction switches
    between the callbacks, the chain and splice) come back whole and in order."""

    async def scenario() -> None:
        limits = RelayLimits(read_size=64 * 1024, zero_copy=zero_copy)
        async with lab(echo, limits) as the_lab:
            listen = await the_lab.proxy()
            conn = await the_lab.connect(listen)
            sizes = random.Random(1)
            chunks = [stream_bytes(i, sizes.choice([1, 100, 1500, 70_000, 300_000]))
                      for i in range(400)]
            payload = b"".join(chunks)
            sending = True

            async def send() -> None:
                nonlocal sending
                for chunk in chunks:
                    conn.writer.write(chunk)
                    await conn.writer.drain()
                    await asyncio.sleep(0)
                sending = False

            async def toggle() -> None:
                count = 0
                while sending:
                    count += 1
                    stream = ("upstream", "downstream")[count % 2]
                    kind = ("latency", "noop", "slicer")[count % 3]
                    attributes = {"latency": {"latency": 1, "jitter": 1}, "noop": {},
                                  "slicer": {"average_size": 500, "size_variation": 200,
                                             "delay": 0}}[kind]
                    await the_lab.api.add_toxic("db", kind, attributes, stream=stream,
                                                name="t")
                    await asyncio.sleep(0.002 * (count % 4))
                    await the_lab.api.remove_toxic("db", "t")
                    await asyncio.sleep(0.002 * (count % 3))

            received = asyncio.create_task(conn.reader.readexactly(len(payload)))
            await asyncio.gather(send(), toggle())
            assert await received == payload

    run(scenario())


@pytest.mark.parametrize("stream", ["upstream", "downstream"])
def test_a_toxic_added_to_a_chatty_connection_sees_the_next_chunk(
        run: Callable[..., None], stream: str) -> None:
    """A connection relayed from the callbacks (small round trips, nothing queued) gives
    the chunks read after a toxic was added to that toxic: here limit_data, which lets 150
    bytes through in its direction and then closes the connection."""
    received: list[int] = []

    async def counting_echo(reader: asyncio.StreamReader,
                            writer: asyncio.StreamWriter) -> None:
        total = 0
        try:
            while data := await reader.read(65536):
                total += len(data)
                writer.write(data)
                await writer.drain()
        finally:
            received.append(total)

    async def scenario() -> None:
        async with lab(counting_echo) as the_lab:
            conn = await the_lab.connect(await the_lab.proxy())
            for _ in range(5):
                got, _ = await conn.round_trip(b"a" * 100)
                assert got == b"a" * 100
            await the_lab.api.add_toxic("db", "limit_data", {"bytes": 150}, stream=stream)
            for _ in range(3):
                conn.writer.write(b"b" * 100)
                await conn.writer.drain()
            answer = b""
            with contextlib.suppress(ConnectionError):  # upstream: the echo may be cut off
                answer = await conn.reader.read()
            await eventually(lambda: _holds(bool(received)), timeout=30)
            if stream == "upstream":
                assert received == [500 + 150]
            else:
                assert answer == b"b" * 150

    run(scenario())


def test_half_close_from_the_client_on_the_fast_path(run: Callable[..., None]) -> None:
    async def scenario() -> None:
        async with lab(reply_after_eof(3 * 1024 * 1024)) as the_lab:
            conn = await the_lab.connect(await the_lab.proxy())
            for size in (1, 100, 5000):  # chatty first, so the callbacks carry it
                conn.writer.write(b"q" * size)
                await conn.writer.drain()
                await asyncio.sleep(0.01)
            conn.writer.write_eof()
            answer = await conn.reader.read()
            assert answer[:-8] == bytes(i % 251 for i in range(3 * 1024 * 1024))
            assert int.from_bytes(answer[-8:], "big") == 5101

    run(scenario())


def test_half_close_from_the_upstream_keeps_the_other_direction(
        run: Callable[..., None]) -> None:
    counted: list[int] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"hello")
        writer.write_eof()
        counted.append(len(await reader.read()))

    async def scenario() -> None:
        async with lab(handler) as the_lab:
            conn = await the_lab.connect(await the_lab.proxy())
            assert await conn.reader.read() == b"hello"  # then EOF
            for _ in range(50):  # the upstream direction still flows
                conn.writer.write(b"m" * 100)
                await conn.writer.drain()
            conn.writer.write_eof()
            await eventually(lambda: _holds(bool(counted)), timeout=30)
            assert counted == [5000]

    run(scenario())


async def _holds(value: bool) -> bool:
    return value


@pytest.mark.parametrize("zero_copy", [True, False])
def test_a_slow_reader_pushes_back_on_the_fast_path(run: Callable[..., None],
                                                    zero_copy: bool) -> None:
    """With no toxic, the proxy holds at most one read (or one kernel pipe when it
    splices) of a direction whose reader does not read; all arrives once it does."""
    total = 24 * 1024 * 1024
    start_reading = asyncio.Event()
    digests: list[str] = []

    async def reluctant(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await start_reading.wait()
        digest = hashlib.sha256()
        while data := await reader.read(65536):
            digest.update(data)
        digests.append(digest.hexdigest())

    async def scenario() -> None:
        start_reading.clear()
        limits = RelayLimits(read_size=16 * 1024, max_buffered=64 * 1024,
                             zero_copy=zero_copy)
        holds_at_most = (splice.PIPE_SIZE if zero_copy and splice.AVAILABLE else 0) \
            + limits.read_size
        async with lab(reluctant, limits) as the_lab:
            conn = await the_lab.connect(await the_lab.proxy())
            conn.writer.write(b"p" * 100)  # a small chunk first: the callbacks take it
            await asyncio.sleep(0.05)
            payload = os.urandom(total)
            conn.writer.write(payload)
            await asyncio.sleep(1.0)
            up = the_lab.server.registry.get("db").stats.directions[Stream.UPSTREAM]
            assert 0 <= up.received - up.sent <= holds_at_most
            assert conn.writer.transport.get_write_buffer_size() > 0  # pushed back
            start_reading.set()
            await conn.writer.drain()
            conn.writer.write_eof()
            await eventually(lambda: _holds(bool(digests)), timeout=60)
            assert digests == [hashlib.sha256(b"p" * 100 + payload).hexdigest()]

    run(scenario())


def test_a_client_that_does_not_read_pushes_back_on_the_upstream(
        run: Callable[..., None]) -> None:
    total = 24 * 1024 * 1024
    payload = os.urandom(total)
    sent_all = asyncio.Event()

    async def source(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readexactly(1)
        writer.write(payload)
        await writer.drain()
        sent_all.set()
        writer.write_eof()
        await reader.read()

    async def scenario() -> None:
        sent_all.clear()
        limits = RelayLimits(read_size=16 * 1024, max_buffered=64 * 1024, zero_copy=False)
        async with lab(source, limits) as the_lab:
            conn = await the_lab.connect(await the_lab.proxy())
            conn.writer.write(b"!")
            await asyncio.sleep(1.0)
            down = the_lab.server.registry.get("db").stats.directions[Stream.DOWNSTREAM]
            assert 0 <= down.received - down.sent <= limits.read_size
            assert not sent_all.is_set()
            assert await conn.reader.read() == payload

    run(scenario())


def _abort_with_rst(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def test_an_upstream_reset_reaches_the_client_as_a_reset(run: Callable[..., None]) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(3):
            writer.write(await reader.readexactly(100))
            await writer.drain()
        _abort_with_rst(writer)

    async def scenario() -> None:
        async with lab(handler) as the_lab:
            conn = await the_lab.connect(await the_lab.proxy())
            for _ in range(3):
                got, _ = await conn.round_trip(b"r" * 100)
                assert got == b"r" * 100
            with pytest.raises(ConnectionResetError):
                await conn.reader.read()
            stats = the_lab.server.registry.get("db").stats
            await eventually(lambda: _holds(stats.closed["upstream_error"] == 1), timeout=30)

    run(scenario())


def test_a_client_reset_reaches_the_upstream_as_a_reset(run: Callable[..., None]) -> None:
    seen: list[str] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionResetError as exc:
            seen.append(type(exc).__name__)
            raise
        seen.append("eof")

    async def scenario() -> None:
        async with lab(handler) as the_lab:
            conn = await the_lab.connect(await the_lab.proxy())
            for _ in range(3):
                await conn.round_trip(b"c" * 100)
            _abort_with_rst(conn.writer)
            await eventually(lambda: _holds(bool(seen)), timeout=30)
            assert seen == ["ConnectionResetError"]
            stats = the_lab.server.registry.get("db").stats
            await eventually(lambda: _holds(stats.closed["client_error"] == 1), timeout=30)

    run(scenario())


STATUSES = [200, 201, 202, 404, 500] * 4  # statuses whose answers have bodies


def test_an_observed_connection_sees_every_chunk(run: Callable[..., None]) -> None:
    async def scenario() -> None:
        async with lab(http_upstream) as the_lab:
            listen = await the_lab.proxy("web", observe=True)
            conn = await the_lab.connect(listen)
            sent = 0
            received = 0
            for index, code in enumerate(STATUSES):
                request = get(f"/status/{code}", f"X-Request-Id: r{index}")
                if index % 2:  # one byte per chunk: each arrives on its own
                    for byte in range(len(request)):
                        conn.writer.write(request[byte:byte + 1])
                        await conn.writer.drain()
                        await asyncio.sleep(0)
                else:
                    conn.writer.write(request)
                sent += len(request)
                status, body = await read_response(conn)
                assert status == code
                received += len(body)
            conn.writer.write_eof()
            assert await conn.reader.read() == b""

            async def recorded() -> bool:
                return bool(connections_of((await the_lab.api.observations("web")).records))

            await eventually(recorded, timeout=30)
            records = (await the_lab.api.observations("web")).records
            assert [(r.seq, r.status, r.request_id, r.outcome) for r in requests_of(records)] \
                == [(i, code, f"r{i}", "response") for i, code in enumerate(STATUSES)]
            (connection,) = connections_of(records)
            assert connection.bytes_up == sent and connection.requests == 20
            assert connection.bytes_down > received

    run(scenario())


def test_an_observer_that_fails_ends_the_connection_as_an_internal_error(
        run: Callable[..., None], monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: ConnectionObserver, data: memoryview, at: float) -> None:
        raise RuntimeError("observer bug")

    monkeypatch.setattr(ConnectionObserver, "client_bytes", broken)
    log = io.StringIO()

    async def scenario() -> None:
        async with lab(echo, log=log) as the_lab:
            conn = await the_lab.connect(await the_lab.proxy("web", observe=True))
            conn.writer.write(b"GET / HTTP/1.1\r\n\r\n")
            with contextlib.suppress(ConnectionResetError):
                assert await conn.reader.read() == b""
            stats = the_lab.server.registry.get("web").stats
            await eventually(lambda: _holds(stats.closed["internal_error"] == 1), timeout=30)

    run(scenario())
    assert "observer bug" in log.getvalue()


def test_both_sockets_of_a_connection_have_nodelay(run: Callable[..., None]) -> None:
    """No Nagle delay of the proxy's own: a small answer is not held back for an ACK."""

    async def scenario() -> None:
        async with lab(echo) as the_lab:
            conn = await the_lab.connect(await the_lab.proxy())
            await conn.round_trip(b"n")
            (connection,) = the_lab.server.registry.get("db").connections
            for sock in (connection._client, connection._upstream):
                assert sock is not None
                assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0

    run(scenario())



def test_a_toxicity_raised_on_a_chatty_connection_takes_it_off_the_fast_path(
        run: Callable[..., None]) -> None:
    """A toxic that did not apply (toxicity 0) and is made to apply by an update gets the
    chunks read after the update: limit_data lets 150 bytes through from then on."""

    async def scenario() -> None:
        async with lab(echo) as the_lab:
            conn = await the_lab.connect(await the_lab.proxy())
            await the_lab.api.add_toxic("db", "limit_data", {"bytes": 150}, toxicity=0.0,
                                        name="cut")
            for _ in range(5):  # 500 bytes each way: it does not apply
                assert (await conn.round_trip(b"a" * 100))[0] == b"a" * 100
            await the_lab.api.update_toxic("db", "cut", toxicity=1.0)
            assert (await conn.round_trip(b"b" * 100))[0] == b"b" * 100
            conn.writer.write(b"c" * 100)
            await conn.writer.drain()
            assert await conn.reader.read() == b"c" * 50

    run(scenario())


def test_the_callbacks_feed_the_chain_in_order_through_half_close_and_push_back(
        run: Callable[..., None]) -> None:
    """With a data toxic on both directions the callbacks feed every chunk to the chain
    (handing back only for full reads and for space): a chatty start, a large request
    with a small ``max_buffered``, the client's half-close, then a large answer."""

    async def scenario() -> None:
        limits = RelayLimits(read_size=16 * 1024, max_buffered=32 * 1024)
        async with lab(reply_after_eof(3 * 1024 * 1024), limits) as the_lab:
            listen = await the_lab.proxy()
            for stream in ("upstream", "downstream"):
                await the_lab.api.add_toxic("db", "noop", {}, stream=stream)
            conn = await the_lab.connect(listen)
            request = stream_bytes(3, 2 * 1024 * 1024)
            for size in (1, 100, 5000):  # chatty first: the callbacks carry it
                conn.writer.write(request[:size])
                await conn.writer.drain()
                await asyncio.sleep(0.01)
            conn.writer.write(request)
            await conn.writer.drain()
            conn.writer.write_eof()
            answer = await conn.reader.read()
            assert answer[:-8] == bytes(i % 251 for i in range(3 * 1024 * 1024))
            assert int.from_bytes(answer[-8:], "big") == 5101 + len(request)

    run(scenario())


def test_held_bytes_released_by_a_toxic_let_a_waiting_reader_go_on(
        run: Callable[..., None]) -> None:
    """Bytes a latency toxic releases are sent at once by the writer's tick, never queued:
    the reader, waiting because the toxic holds more than ``max_buffered``, must still be
    let go on (the answer arrives whole instead of stalling)."""

    async def scenario() -> None:
        limits = RelayLimits(read_size=16 * 1024, max_buffered=32 * 1024)
        async with lab(reply_after_eof(4 * 1024 * 1024), limits) as the_lab:
            listen = await the_lab.proxy()
            await the_lab.api.add_toxic("db", "latency", {"latency": 5, "jitter": 0})
            conn = await the_lab.connect(listen)
            conn.writer.write(b"q" * 10)
            conn.writer.write_eof()
            answer = await conn.reader.read()
            assert answer[:-8] == bytes(i % 251 for i in range(4 * 1024 * 1024))
            assert int.from_bytes(answer[-8:], "big") == 10

    run(scenario())
