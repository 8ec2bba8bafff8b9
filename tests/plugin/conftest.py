"""Fixtures of the plug-in's tests: pytest's ``pytester`` and small real servers.

``pytest_plugins = ["pytester"]`` is refused in a conftest below the rootdir (it would
apply to the whole suite), so the plug-in is registered when this conftest is: its
``pytester`` fixture is then available here and nowhere else needs it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .servers import EchoServer, StatusServer

#: the ini file of every project the tests make (pytest-asyncio in auto mode)
INI = "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.import_plugin("pytester")


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A small project for ``pytester`` to run, with its ini file."""
    pytester.makeini(INI)
    return pytester


@pytest.fixture
def echo_server() -> Iterator[EchoServer]:
    with EchoServer() as server:
        yield server


@pytest.fixture
def unavailable_server() -> Iterator[StatusServer]:
    """An HTTP server on 127.0.0.1 that answers every request with 503."""
    with StatusServer(503) as server:
        yield server
