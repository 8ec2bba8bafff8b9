from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Callable, Mapping

import pytest

from faultlab.proxy.client import ProxyClient
from faultlab.proxy.events import EventLog
from faultlab.proxy.server import ProxyServer

from .helpers import Conn, TcpServer, echo

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


@pytest.fixture
def log() -> io.StringIO:
    return io.StringIO()


@pytest.fixture
async def server(log: io.StringIO) -> AsyncIterator[ProxyServer]:
    async with ProxyServer(events=EventLog(log), seed=1234) as proxy_server:
        yield proxy_server


@pytest.fixture
async def client(server: ProxyServer) -> AsyncIterator[ProxyClient]:
    async with ProxyClient(server.api_url) as proxy_client:
        yield proxy_client


@pytest.fixture
async def echo_server() -> AsyncIterator[TcpServer]:
    tcp = await TcpServer(echo).start()
    try:
        yield tcp
    finally:
        await tcp.close()


@pytest.fixture
async def conns() -> AsyncIterator[list[Conn]]:
    """Append every client connection here; all are closed after the test."""
    opened: list[Conn] = []
    yield opened
    for conn in opened:
        await conn.aclose()


def pytest_asyncio_loop_factories(config: pytest.Config,
                                  item: pytest.Item) -> Mapping[str, LoopFactory]:
    """The data-path tests run on both loops: uvloop is what the server process uses."""
    factories: dict[str, LoopFactory] = {"asyncio": asyncio.new_event_loop}
    if item.path.name != "test_relay.py":
        return factories
    try:
        import uvloop
    except ImportError:
        return factories
    factories["uvloop"] = uvloop.new_event_loop
    return factories
