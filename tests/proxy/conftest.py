from __future__ import annotations

import io
from collections.abc import AsyncIterator

import pytest

from faultlab.proxy.client import ProxyClient
from faultlab.proxy.events import EventLog
from faultlab.proxy.server import ProxyServer

from .helpers import Conn, TcpServer, echo


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
