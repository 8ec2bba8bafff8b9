"""faultlab's pytest plug-in (entry point ``pytest11``: ``faultlab``; docs/pytest.md).

Fixtures for integration tests (``faultlab_proxy_server``, ``faultlab_proxy``,
``faultlab_fault``) and experiment files collected as tests. Importing it costs little:
pydantic, aiohttp and the runner are imported when a fixture or an experiment needs them,
so a session that uses neither does not pay for them.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from faultlab.testing.collect import RUNS_DIR, VARIABLES, ExperimentFile
from faultlab.testing.loop import LoopThread
from faultlab.testing.proxies import ProxyFactory, ProxyServer, start_server

if TYPE_CHECKING:
    from faultlab.testing.block import FaultFactory

__all__ = ["faultlab_fault", "faultlab_proxy", "faultlab_proxy_server"]

DEFAULT_FILES = ["*.faultlab.yaml"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("faultlab", "faultlab experiments and faults")
    group.addoption("--faultlab-runs-dir", metavar="DIR", default=None,
                    help="write each experiment's run directory under DIR (default: "
                         "pytest's temporary directory)")
    group.addoption("--faultlab-var", metavar="NAME=VALUE", action="append", default=[],
                    help="set an experiment variable, as `faultlab run --var` (repeatable)")
    parser.addini("faultlab_files", type="args", default=DEFAULT_FILES,
                  help="glob patterns of experiment files collected as tests, matched "
                       "against file names (default: *.faultlab.yaml)")
    parser.addini("faultlab_runs_dir", type="string", default="",
                  help="as --faultlab-runs-dir; relative to the ini file's directory")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "faultlab: an experiment file run as a test")
    variables = {}
    for item in config.getoption("faultlab_var") or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise pytest.UsageError(f"--faultlab-var {item!r}: write NAME=VALUE")
        variables[name] = value
    config.stash[VARIABLES] = variables
    option = config.getoption("faultlab_runs_dir")
    ini = str(config.getini("faultlab_runs_dir"))
    runs_dir: Path | None = None
    if option:
        runs_dir = config.invocation_params.dir / option
    elif ini:
        runs_dir = (config.inipath.parent if config.inipath else config.rootpath) / ini
    config.stash[RUNS_DIR] = runs_dir


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> ExperimentFile | None:
    patterns: list[str] = parent.config.getini("faultlab_files")
    if any(fnmatch.fnmatch(file_path.name, p) for p in patterns):
        file: ExperimentFile = ExperimentFile.from_parent(parent, path=file_path)
        return file
    return None


@pytest.fixture(scope="session")
def _faultlab_loop() -> Iterator[LoopThread]:
    loop = LoopThread()
    loop.start()
    try:
        yield loop
    finally:
        loop.stop()


@pytest.fixture(scope="session")
def faultlab_proxy_server(_faultlab_loop: LoopThread,
                          tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyServer]:
    """faultlab's proxy server, spawned for the session and stopped at its end."""
    log = tmp_path_factory.mktemp("faultlab-proxy-server") / "proxy.log"
    server, handle = _faultlab_loop.run(start_server(log), cancel_on_interrupt=True)
    try:
        yield server
    finally:
        _faultlab_loop.run(handle.stop(), cancel_on_interrupt=False)


@pytest.fixture
def faultlab_proxy(faultlab_proxy_server: ProxyServer,
                   _faultlab_loop: LoopThread) -> Iterator[ProxyFactory]:
    """``faultlab_proxy(upstream, listen="127.0.0.1:0", name=None) -> Proxy``; every proxy
    made is removed when the test ends."""
    factory = ProxyFactory(faultlab_proxy_server, _faultlab_loop)
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture
def faultlab_fault(_faultlab_loop: LoopThread) -> Iterator[FaultFactory]:
    """``with faultlab_fault(kind, target, **params):`` (or ``async with``) applies one fault
    of any registered kind for the block and reverts it when the block ends, however it
    ends."""
    from faultlab.testing.block import FaultFactory

    factory = FaultFactory(_faultlab_loop)
    yield factory
    left = factory.close()
    if left:
        pytest.fail(f"faults still active when the test ended (a block entered and never "
                    f"left): {', '.join(left)}; they have been reverted", pytrace=False)
