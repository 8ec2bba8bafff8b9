"""Fixtures that own real processes and proxies, and reap them even when a test fails."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .helpers import DemoSystem, start_system
from .procs import ProcessGroup
from .slowproxy import SlowProxy

#: The latency fault of the demo's first scenario.
SLOW_DATA_DELAY = 0.8


@pytest.fixture
def processes() -> Iterator[ProcessGroup]:
    """Every service process a test starts; all reaped at teardown, pass or fail."""
    group = ProcessGroup()
    try:
        yield group
    finally:
        group.stop_all()


@pytest.fixture
def system(processes: ProcessGroup) -> DemoSystem:
    """Data, plus naive and resilient inventory + storefront, all healthy."""
    return start_system(processes)


@pytest.fixture
def slow_proxies() -> Iterator[list[SlowProxy]]:
    """Every slow proxy a test started; stopped at teardown (after the processes)."""
    proxies: list[SlowProxy] = []
    yield proxies
    for proxy in proxies:
        proxy.stop()


@pytest.fixture
def slow_data_system(slow_proxies: list[SlowProxy], processes: ProcessGroup) -> DemoSystem:
    """Like ``system``, but inventories reach data through a proxy adding 800 ms."""

    def route(data_port: int) -> str:
        proxy = SlowProxy(data_port, SLOW_DATA_DELAY).start()
        slow_proxies.append(proxy)
        return proxy.url

    return start_system(processes, data_route=route)
