"""Fixtures for the client tests: real servers (one per session, each test in its own
namespace), the demo KV service per test, and faultlab's proxy per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from faultlab.ports import free_ports
from faultlab.proxy.client import ProxyClient
from faultlab.proxy.process import spawn_proxy_server

from .helpers import Proxy
from .servers import KvProcess, etcd_server, missing, postgres_server, redis_server


def _skip_if_missing(binary: str) -> None:
    reason = missing(binary)
    if reason is not None:
        pytest.skip(reason)


@pytest.fixture(scope="session")
def redis_address() -> Iterator[str]:
    _skip_if_missing("redis-server")
    with redis_server() as address:
        yield address


@pytest.fixture(scope="session")
def postgres_address() -> Iterator[str]:
    _skip_if_missing("postgres")
    with postgres_server() as address:
        yield address


@pytest.fixture(scope="session")
def etcd_address() -> Iterator[str]:
    _skip_if_missing("etcd")
    with etcd_server() as address:
        yield address


@pytest.fixture
async def kv_durable(tmp_path: Path) -> AsyncIterator[KvProcess]:
    kv = KvProcess(tmp_path, lose_unsynced=False)
    await kv.start()
    try:
        yield kv
    finally:
        await kv.stop()


@pytest.fixture
async def proxy(tmp_path: Path) -> AsyncIterator[Proxy]:
    """``await proxy.front(address)`` puts a proxy in front of ``address``; faults by name."""
    handle = await spawn_proxy_server(tmp_path / "proxy.log", seed=7)
    try:
        async with ProxyClient(handle.api_url) as api:
            yield Proxy(api, free_ports)
    finally:
        await handle.stop()
