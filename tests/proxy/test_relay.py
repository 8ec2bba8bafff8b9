"""The data path with real sockets: bytes, delays, down, resets, half-close, toxicity.

Timing assertions are one-sided (a delay is at least what was asked) or have margins of
seconds, so that a slow machine cannot make them flake.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import io
import os
import socket
import time

import pytest

from faultlab.proxy.client import ProxyClient
from faultlab.proxy.events import EventLog
from faultlab.proxy.listener import Proxy
from faultlab.proxy.model import Stream
from faultlab.proxy.relay import RelayLimits
from faultlab.proxy.server import ProxyServer

from .helpers import Conn, TcpServer, events, eventually, refusing_port, reply_after_eof


async def make_proxy(client: ProxyClient, upstream: str, name: str = "db") -> str:
    return (await client.create_proxy(name, "127.0.0.1:0", upstream))["listen"]


async def open_conn(address: str, conns: list[Conn]) -> Conn:
    conn = await Conn.open(address)
    conns.append(conn)
    return conn


async def test_bytes_pass_intact_both_ways(client: ProxyClient, echo_server: TcpServer,
                                           conns: list[Conn]) -> None:
    listen = await make_proxy(client, echo_server.address)
    conn = await open_conn(listen, conns)
    payload = os.urandom(8 * 1024 * 1024)
    got, _ = await conn.round_trip(payload)
    assert got == payload


async def test_bytes_pass_intact_through_toxics(client: ProxyClient, echo_server: TcpServer,
                                                conns: list[Conn]) -> None:
    listen = await make_proxy(client, echo_server.address)
    for stream in ("upstream", "downstream"):
        await client.add_toxic("db", "noop", {}, stream=stream)
        await client.add_toxic("db", "latency", {"latency": 1, "jitter": 1}, stream=stream,
                               name=f"lat_{stream}")
    conn = await open_conn(listen, conns)
    payload = os.urandom(8 * 1024 * 1024)
    got, _ = await conn.round_trip(payload)
    assert got == payload


async def test_latency_adds_at_least_the_requested_delay(
        client: ProxyClient, echo_server: TcpServer, conns: list[Conn]) -> None:
    listen = await make_proxy(client, echo_server.address)
    await client.add_toxic("db", "latency", {"latency": 300})
    conn = await open_conn(listen, conns)
    _, elapsed = await conn.round_trip(b"ping")
    assert elapsed >= 0.3
    # Upstream too: the delays add up.
    await client.add_toxic("db", "latency", {"latency": 200}, stream="upstream")
    _, elapsed = await conn.round_trip(b"ping")
    assert elapsed >= 0.5


async def test_toxics_apply_to_open_connections_and_removal_releases_held_data(
        client: ProxyClient, echo_server: TcpServer, conns: list[Conn]) -> None:
    listen = await make_proxy(client, echo_server.address)
    conn = await open_conn(listen, conns)
    await conn.round_trip(b"warm")
    await client.add_toxic("db", "latency", {"latency": 30_000})
    conn.writer.write(b"held")
    await conn.writer.drain()
    read = asyncio.create_task(conn.reader.readexactly(4))
    await asyncio.sleep(0.3)
    assert not read.done()  # held by the toxic added to this live connection
    start = time.monotonic()
    await client.remove_toxic("db", "latency_downstream")
    assert await asyncio.wait_for(read, 10) == b"held"
    assert time.monotonic() - start < 10  # not the 30 s it was scheduled for


async def test_bandwidth_limits_throughput(client: ProxyClient, echo_server: TcpServer,
                                           conns: list[Conn]) -> None:
    listen = await make_proxy(client, echo_server.address)
    await client.add_toxic("db", "bandwidth", {"rate": 200})  # 200 KB/s
    conn = await open_conn(listen, conns)
    payload = os.urandom(100_000)
    got, elapsed = await conn.round_trip(payload)
    assert got == payload
    assert elapsed >= 0.45  # 100 kB at 200 kB/s is 0.5 s


async def test_down_refuses_connections_and_up_restores_them(
        client: ProxyClient, echo_server: TcpServer, conns: list[Conn]) -> None:
    listen = await make_proxy(client, echo_server.address)
    existing = await open_conn(listen, conns)
    await existing.round_trip(b"hi")
    await client.set_enabled("db", False)
    # The open connection is closed, and new ones are refused.
    assert await asyncio.wait_for(existing.reader.read(), 5) == b""
    with pytest.raises(ConnectionRefusedError):
        await Conn.open(listen)
    assert (await client.set_enabled("db", True))["listen"] == listen
    conn = await open_conn(listen, conns)
    assert (await conn.round_trip(b"back"))[0] == b"back"


async def test_toxic_lease_lapses_by_itself(client: ProxyClient, echo_server: TcpServer,
                                            conns: list[Conn]) -> None:
    listen = await make_proxy(client, echo_server.address)
    await client.add_toxic("db", "latency", {"latency": 5000}, ttl=0.5)
    conn = await open_conn(listen, conns)
    start = time.monotonic()
    await conn.round_trip(b"x")  # held until the lease ends and the toxic hands it back
    assert 0.4 <= time.monotonic() - start < 4.5
    assert (await client.get_proxy("db"))["toxics"] == []


async def test_down_lease_lapses_by_itself(client: ProxyClient, echo_server: TcpServer,
                                           conns: list[Conn]) -> None:
    listen = await make_proxy(client, echo_server.address)
    down = await client.set_enabled("db", False, ttl=0.5)
    assert down["enabled"] is False
    with pytest.raises(ConnectionRefusedError):
        await Conn.open(listen)

    async def enabled() -> bool:
        return (await client.get_proxy("db"))["enabled"]

    await eventually(enabled)
    conn = await open_conn(listen, conns)
    assert (await conn.round_trip(b"up"))[0] == b"up"
    assert (await client.get_proxy("db"))["ttl_remaining"] is None


async def test_reset_peer_resets_an_open_connection_on_its_next_data(
        client: ProxyClient, echo_server: TcpServer, conns: list[Conn]) -> None:
    listen = await make_proxy(client, echo_server.address)
    conn = await open_conn(listen, conns)
    assert (await conn.round_trip(b"before"))[0] == b"before"
    await client.add_toxic("db", "reset_peer", {"timeout": 100}, stream="upstream")
    conn.writer.write(b"after")  # arms it (and is swallowed)
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(conn.reader.read(), 5)


class _Recorder:
    """A server that greets each client (if asked), then echoes and records what it
    receives until EOF."""

    def __init__(self, *, greet: bool = True) -> None:
        self.received = bytearray()
        self.greet = greet

    async def __call__(self, reader: asyncio.StreamReader,
                       writer: asyncio.StreamWriter) -> None:
        if self.greet:
            writer.write(b"hello\n")
            await writer.drain()
        while data := await reader.read(65536):
            self.received += data
            writer.write(b"echo:" + data)
            await writer.drain()


async def _read_to_end(conn: Conn) -> None:
    while data := await asyncio.wait_for(conn.reader.read(65536), 5):
        raise AssertionError(f"got {data!r} before the reset")


@pytest.mark.parametrize("stream", ["upstream", "downstream"])
async def test_reset_peer_drops_the_first_data_and_resets_timeout_after_it(
        client: ProxyClient, conns: list[Conn], stream: str) -> None:
    """Toxiproxy's TestResetToxicWithTimeout(Downstream), without its timing bound: the
    reset replaces the data that armed it and comes no sooner than ``timeout`` after it."""
    # Upstream: the greeting flows (only data sent upstream arms it). Downstream: no
    # greeting, so the echo of the ping is the first downstream data.
    recorder = _Recorder(greet=stream == "upstream")
    server = await TcpServer(recorder).start()
    try:
        listen = await make_proxy(client, server.address)
        await client.add_toxic("db", "reset_peer", {"timeout": 100}, stream=stream)
        conn = await open_conn(listen, conns)
        if stream == "upstream":
            assert await asyncio.wait_for(conn.reader.readexactly(6), 5) == b"hello\n"
        start = time.monotonic()
        conn.writer.write(b"ping")
        with pytest.raises(ConnectionResetError):
            await _read_to_end(conn)  # not one byte of the armed stream comes first
        assert time.monotonic() - start >= 0.099
        if stream == "upstream":
            assert recorder.received == b""  # the arming chunk never reached the server
    finally:
        await server.close()


async def test_reset_peer_leaves_an_idle_stream_alone(client: ProxyClient,
                                                      conns: list[Conn]) -> None:
    """Toxiproxy's reset_peer waits for data on its stream: a connection that sends none
    upstream is never reset, while downstream keeps flowing."""
    recorder = _Recorder()
    server = await TcpServer(recorder).start()
    try:
        listen = await make_proxy(client, server.address)
        await client.add_toxic("db", "reset_peer", {"timeout": 0}, stream="upstream")
        idle = await open_conn(listen, conns)
        assert await asyncio.wait_for(idle.reader.readexactly(6), 5) == b"hello\n"
        busy = await open_conn(listen, conns)
        assert await asyncio.wait_for(busy.reader.readexactly(6), 5) == b"hello\n"
        busy.writer.write(b"x")
        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(busy.reader.read(), 5)
        # The idle one was not touched: the toxic leaves and it still works both ways.
        await client.remove_toxic("db", "reset_peer_upstream")
        idle.writer.write(b"still here")
        assert await asyncio.wait_for(idle.reader.readexactly(15), 5) == b"echo:still here"
    finally:
        await server.close()


async def test_reset_peer_with_toxicity_zero_never_resets(
        client: ProxyClient, server: ProxyServer, conns: list[Conn]) -> None:
    # The server closes each connection itself after replying: a normal close must stay a
    # FIN (Toxiproxy turns it into an RST when a reset_peer with toxicity 0 exists, #603).
    replier = await TcpServer(reply_after_eof(1000)).start()
    try:
        listen = await make_proxy(client, replier.address)
        await client.add_toxic("db", "reset_peer", {"timeout": 0}, toxicity=0.0)
        for _ in range(10):
            conn = await open_conn(listen, conns)
            conn.writer.write(b"request")
            conn.writer.write_eof()
            reply = await asyncio.wait_for(conn.reader.read(), 5)
            assert len(reply) == 1008
        await asyncio.sleep(0.2)
        assert (await client.get_proxy("db"))["toxics"][0]["toxicity"] == 0.0
    finally:
        await replier.close()


async def test_half_close_passes_through(client: ProxyClient, conns: list[Conn]) -> None:
    replier = await TcpServer(reply_after_eof(100_000)).start()
    try:
        listen = await make_proxy(client, replier.address)
        for toxic in (None, "latency"):
            if toxic:
                await client.add_toxic("db", toxic, {"latency": 50}, stream="upstream")
            conn = await open_conn(listen, conns)
            conn.writer.write(b"q" * 5000)
            conn.writer.write_eof()  # shutdown(SHUT_WR); then wait for the whole reply
            reply = await asyncio.wait_for(conn.reader.read(), 5)
            assert len(reply) == 100_008
            assert int.from_bytes(reply[-8:], "big") == 5000  # the server saw all we sent
    finally:
        await replier.close()


async def test_upstream_down_gives_the_client_eof(client: ProxyClient,
                                                  conns: list[Conn]) -> None:
    with refusing_port() as port:
        listen = await make_proxy(client, f"127.0.0.1:{port}")
        conn = await open_conn(listen, conns)
        assert await asyncio.wait_for(conn.reader.read(), 5) == b""


async def test_toxicity_is_stable_when_other_toxics_change(
        client: ProxyClient, server: ProxyServer, echo_server: TcpServer,
        conns: list[Conn]) -> None:
    listen = await make_proxy(client, echo_server.address)
    await client.add_toxic("db", "latency", {"latency": 1500}, toxicity=0.5, name="maybe")
    opened = [await open_conn(listen, conns) for _ in range(16)]

    async def delayed() -> list[bool]:
        times = await asyncio.gather(*(conn.round_trip(b"?") for conn in opened))
        return [elapsed >= 1.5 for _, elapsed in times]

    proxy = server.registry.get("db")
    spec = proxy.toxic("maybe")
    assert spec is not None
    before = await delayed()
    assert before == [conn.applies(spec) for conn in sorted(proxy.connections,
                                                            key=lambda c: c.number)]
    assert 0 < sum(before) < 16  # toxicity 0.5 really splits them (fixed seed)
    await client.add_toxic("db", "noop", {}, name="other")
    await client.add_toxic("db", "latency", {"latency": 1}, name="third", stream="upstream")
    await client.update_toxic("db", "other", toxicity=0.3)
    await client.remove_toxic("db", "other")
    assert await delayed() == before


async def test_dial_timeout_ends_a_connection_instead_of_hanging(log: io.StringIO) -> None:
    # A listener with a full backlog that never accepts: SYNs to it go unanswered.
    blackhole = socket.socket()
    blackhole.bind(("127.0.0.1", 0))
    blackhole.listen(0)
    fillers = []
    try:
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(blackhole.getsockname())
            fillers.append(filler)
        limits = RelayLimits(connect_timeout=0.3)
        async with ProxyServer(limits=limits, events=EventLog(log)) as server, \
                ProxyClient(server.api_url) as client:
            port = blackhole.getsockname()[1]
            listen = await make_proxy(client, f"127.0.0.1:{port}")
            first = await Conn.open(listen)
            second = await Conn.open(listen)  # accepted although the first is still dialling
            try:
                results = await asyncio.wait_for(
                    asyncio.gather(first.reader.read(), second.reader.read()), 5)
                assert tuple(results) == (b"", b"")
                await asyncio.sleep(0.05)
                failures = [e for e in events(log.getvalue()) if e["event"] == "dial_failed"]
                assert len(failures) == 2
                assert all("timed out after 0.3s" in e["error"] for e in failures)
            finally:
                await first.aclose()
                await second.aclose()
    finally:
        for filler in fillers:
            filler.close()
        blackhole.close()


async def test_garbage_on_the_api_port_does_not_hurt(server: ProxyServer,
                                                     client: ProxyClient) -> None:
    assert server.address is not None
    reader, writer = await asyncio.open_connection(server.address.host, server.address.port)
    writer.write(b"\x00\xff garbage \r\n\r\n" * 100)
    writer.write_eof()
    await asyncio.wait_for(reader.read(), 5)
    writer.close()
    assert await client.version() == "2.12.0"


async def test_a_slow_toxic_pushes_back_on_the_sender_instead_of_buffering() -> None:
    async def discard(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.read(65536):
            pass

    sink = await TcpServer(discard).start()
    limits = RelayLimits(max_buffered=64 * 1024, read_size=16 * 1024)
    try:
        async with ProxyServer(limits=limits, events=EventLog(io.StringIO())) as server, \
                ProxyClient(server.api_url) as client:
            listen = await make_proxy(client, sink.address)
            await client.add_toxic("db", "bandwidth", {"rate": 10}, stream="upstream")
            conn = await Conn.open(listen)
            try:
                total = 20 * 1024 * 1024
                conn.writer.write(b"z" * total)
                await asyncio.sleep(1.0)
                # Most of it is still with the sender: TCP flow control, not proxy memory.
                pushed = total - conn.writer.transport.get_write_buffer_size()
                assert pushed < 12 * 1024 * 1024
                (connection,) = server.registry.get("db").connections
                held = connection.buffered(Stream.UPSTREAM)
                assert 0 < held <= limits.max_buffered + limits.read_size
            finally:
                conn.writer.transport.abort()
    finally:
        await sink.close()


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning",
                            "error::ResourceWarning")
async def test_disabling_closes_connections_in_every_stage(
        client: ProxyClient, echo_server: TcpServer) -> None:
    listen = await make_proxy(client, echo_server.address)
    host, _, port = listen.rpartition(":")
    for _ in range(10):
        # Some of these are still in the backlog, some accepted but not yet running, some
        # dialling and some relaying when the proxy goes down.
        sockets = [socket.create_connection((host, int(port))) for _ in range(10)]
        try:
            await asyncio.sleep(0)
            await client.set_enabled("db", False)
            for sock in sockets:
                sock.settimeout(5)
                with contextlib.suppress(ConnectionResetError):  # an RST is a close too
                    assert sock.recv(1) == b""
        finally:
            for sock in sockets:
                sock.close()
        await client.set_enabled("db", True)
    gc.collect()


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning",
                            "error::ResourceWarning")
async def test_a_connection_stopped_before_its_task_ran_is_still_closed() -> None:
    proxy = Proxy("p", "127.0.0.1:0", "127.0.0.1:9", seed=1, limits=RelayLimits(),
                  events=EventLog(io.StringIO()))
    await proxy.start()
    host, _, port = proxy.listen.rpartition(":")
    client = socket.create_connection((host, int(port)))  # the kernel completes the handshake
    try:
        proxy._accept_ready()  # accept now, without yielding to the loop ...
        assert len(proxy.connections) == 1
        await proxy.stop()  # ... so its task is cancelled before its first step
        client.settimeout(5)
        assert client.recv(1) == b""
    finally:
        client.close()
        await proxy.stop()
