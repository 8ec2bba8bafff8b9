"""Fixtures that own real processes and proxies, and reap them even when a test fails."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .helpers import DemoSystem, start_system
from .procs import ProcessGroup
from .slowproxy import SLOW_DATA_DELAY, Proxies


@pytest.fixture
def processes() -> Iterator[ProcessGroup]:
    """Every service process a test starts; all reaped at teardown, pass or fail."""
    group = ProcessGroup()
    try:
        yield group
    finally:
        group.stop_all()


@pytest.fixture
def proxies() -> Iterator[Proxies]:
    """Every slow proxy a test starts; stopped at teardown (after the processes)."""
    pool = Proxies()
    try:
        yield pool
    finally:
        pool.stop_all()


@pytest.fixture
def system(processes: ProcessGroup) -> DemoSystem:
    """Data, plus naive and resilient inventory + storefront, all healthy."""
    return start_system(processes)


@pytest.fixture
def slow_data_system(proxies: Proxies, processes: ProcessGroup) -> DemoSystem:
    """Like ``system``, but inventories reach data through a proxy adding 800 ms."""
    return start_system(processes, data_route=proxies.route(SLOW_DATA_DELAY))
