"""The fixtures as a user's project uses them, run by ``pytester``: a real echo server on
127.0.0.1 behind a proxy on the session's proxy server, a latency fault for a block, in
sync and async tests. The proxy API is asked for its toxics inside and after each block."""

from __future__ import annotations

import pytest

USER_TESTS = '''
import asyncio
import json
import socket
import socketserver
import threading
import time
import urllib.request

import pytest


def toxics(proxy):
    url = f"{proxy.server.api_url}/proxies/{proxy.name}"
    with urllib.request.urlopen(url) as response:
        return json.load(response)["toxics"]


class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        while data := self.request.recv(65536):
            self.request.sendall(data)


@pytest.fixture
def threaded_upstream():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    yield server.server_address
    server.shutdown()
    server.server_close()
    thread.join()


async def echo(reader, writer):
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()


@pytest.fixture
async def upstream():
    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[:2]
    server.close()
    await server.wait_closed()


def sync_round_trip(proxy):
    with socket.create_connection((proxy.host, proxy.port)) as conn:
        start = time.monotonic()
        conn.sendall(b"ping")
        assert conn.recv(4) == b"ping"
        return time.monotonic() - start


async def round_trip(proxy):
    reader, writer = await asyncio.open_connection(proxy.host, proxy.port)
    start = time.monotonic()
    writer.write(b"ping")
    await writer.drain()
    assert await reader.readexactly(4) == b"ping"
    elapsed = time.monotonic() - start
    writer.close()
    await writer.wait_closed()
    return elapsed


def test_sync_block(threaded_upstream, faultlab_proxy, faultlab_fault):
    proxy = faultlab_proxy(threaded_upstream)
    assert toxics(proxy) == []
    with faultlab_fault("latency", target=proxy, delay="200ms") as block:
        [toxic] = toxics(proxy)
        assert toxic["name"] == f"faultlab-{block.name}"
        assert toxic["type"] == "latency" and toxic["attributes"]["latency"] == 200
        assert sync_round_trip(proxy) >= 0.2
    assert toxics(proxy) == []
    assert sync_round_trip(proxy) >= 0  # still forwarding


def test_sync_block_that_raises(threaded_upstream, faultlab_proxy, faultlab_fault):
    proxy = faultlab_proxy(threaded_upstream)
    with pytest.raises(RuntimeError, match="boom"):
        with faultlab_fault("latency", target=proxy, delay="200ms"):
            assert len(toxics(proxy)) == 1
            raise RuntimeError("boom")
    assert toxics(proxy) == []


async def test_async_block(upstream, faultlab_proxy, faultlab_fault):
    proxy = faultlab_proxy(upstream)
    async with faultlab_fault("latency", target=proxy, delay="200ms"):
        [toxic] = toxics(proxy)
        assert toxic["attributes"]["latency"] == 200
        assert await round_trip(proxy) >= 0.2
    assert toxics(proxy) == []


async def test_async_block_that_raises(upstream, faultlab_proxy, faultlab_fault,
                                       faultlab_proxy_server):
    proxy = faultlab_proxy(upstream)
    assert proxy.server == faultlab_proxy_server
    with pytest.raises(RuntimeError, match="boom"):
        async with faultlab_fault("latency", target=proxy, delay="200ms"):
            assert len(toxics(proxy)) == 1
            raise RuntimeError("boom")
    assert toxics(proxy) == []
'''


def test_fixtures_apply_a_latency_toxic_for_the_block_only(project: pytest.Pytester) -> None:
    project.makepyfile(test_user=USER_TESTS)

    result = project.runpytest("-v")

    result.assert_outcomes(passed=4)


def test_a_block_left_active_is_reverted_and_errors_at_teardown(
        project: pytest.Pytester) -> None:
    state = project.path / "state"
    project.makepyfile(test_leak=f"""
        def test_leak(faultlab_fault):
            block = faultlab_fault("command", inject=["touch", "{state}"],
                                   revert=["rm", "{state}"])
            block.__enter__()
            assert block.active
    """)

    result = project.runpytest()

    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines([
        "*ERROR at teardown of test_leak*",
        "faults still active when the test ended (a block entered and never left): "
        "command-local; they have been reverted",
    ])
    assert not state.exists()
