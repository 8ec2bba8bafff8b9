"""Checks for the whole suite: nothing a test made in the kernel outlives the session.

Tests name their labs with this process's pid (``t<pid>-...``, ``nf<pid>x...``,
``ex<pid>-...``), so a second test run on the machine never collides with this one. At the
end of the session every lab and network namespace whose name holds this pid is reported as
an error (and removed, so the machine is clean for the next run), whether the test that made
it passed or failed; so is every faultlab interface (``fl...``) that appeared during the
session and belongs to no lab any more. Another run's labs are never touched.
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


@pytest.fixture(scope="session", autouse=True)
def nothing_left_in_the_kernel() -> Iterator[None]:
    interfaces = _names(Path("/sys/class/net"), "fl")
    yield
    left = {
        "lab": sorted(n for n in _names(LABS) if OURS.search(n)),
        "netns": sorted(n for n in _names(NETNS) if OURS.search(n)),
        "interface": sorted(_names(Path("/sys/class/net"), "fl") - interfaces
                            - _interfaces_of_labs()),
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
