"""Checks for the whole suite: nothing a test made in the kernel outlives the session.

Tests name their labs with this process's pid (``t<pid>-...``, ``nf<pid>x...``,
``ex<pid>-...``), so a second test run on the machine never collides with this one. At the
end of the session every lab and network namespace whose name holds this pid is reported as
an error (and removed, so the machine is clean for the next run), whether the test that made
it passed or failed; so is every faultlab interface (``fl...``) that appeared during the
session and belongs to no lab any more. Another run's labs are never touched.

Under pytest-xdist (``make test`` runs ``pytest -n auto``) every test that makes kernel
objects (labs, namespaces, nft tables, time namespaces: tests/lab, tests/lab_netfaults,
tests/examples, tests/faults_clock) is in one group, so they run one at a time in one worker,
as in a serial run; the other workers run the rest. Each worker checks its own labs and
namespaces (named with its pid); the interfaces, which carry no pid, are checked once, by
the controller, after every worker has finished.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

LABS = Path("/run/faultlab/labs")
NETNS = Path("/run/netns")
OURS = re.compile(rf"(?<!\d){os.getpid()}(?!\d)")
KERNEL = ("lab", "lab_netfaults", "examples", "faults_clock")  # test folders that make them
WORKER = os.environ.get("PYTEST_XDIST_WORKER") is not None


def _names(folder: Path, prefix: str = "") -> set[str]:
    if not folder.is_dir():
        return set()
    return {p.name for p in folder.iterdir() if p.name.startswith(prefix)
            and not p.name.startswith(".")}


def _interfaces_of_labs() -> set[str]:
    from faultlab.lab.state import read_state

    names: set[str] = set()
    for lab in _names(LABS):
        with contextlib.suppress(ValueError):
            state = read_state(lab)
            if state is not None:
                names |= {state.bridge, *(h.veth for h in state.hosts)}
    return names


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    tests = Path(__file__).parent
    for item in items:
        parts = item.path.relative_to(tests).parts if item.path.is_relative_to(tests) else ()
        if parts and parts[0] in KERNEL:
            item.add_marker(pytest.mark.xdist_group("kernel"))


def _orphan_interfaces(before: set[str]) -> list[str]:
    return sorted(_names(Path("/sys/class/net"), "fl") - before - _interfaces_of_labs())


_AT_START: list[set[str]] = []


def pytest_sessionstart(session: pytest.Session) -> None:
    if not WORKER:  # a serial run, or xdist's controller
        _AT_START.append(_names(Path("/sys/class/net"), "fl"))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """xdist's controller: the interfaces, once every worker is done."""
    if WORKER or not getattr(session.config.option, "numprocesses", None) or not _AT_START:
        return
    left = _orphan_interfaces(_AT_START[0])
    if left:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line("the suite left kernel objects behind: interface: "
                                + ", ".join(left), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session", autouse=True)
def nothing_left_in_the_kernel(request: pytest.FixtureRequest) -> Iterator[None]:
    interfaces = _names(Path("/sys/class/net"), "fl")
    yield
    distributed = WORKER or bool(getattr(request.config.option, "numprocesses", None))
    left = {
        "lab": sorted(n for n in _names(LABS) if OURS.search(n)),
        "netns": sorted(n for n in _names(NETNS) if OURS.search(n)),
        "interface": [] if distributed else _orphan_interfaces(interfaces),
    }
    left = {kind: names for kind, names in left.items() if names}
    if not left:
        return
    from faultlab.lab.control import lab_down

    for name in left.get("lab", []):
        with contextlib.suppress(Exception):  # reported below; the namespaces go next
            lab_down(name)
    for ns in left.get("netns", []):
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)
    pytest.fail("the suite left kernel objects behind: " + "; ".join(
        f"{kind}: {', '.join(names)}" for kind, names in left.items()))
