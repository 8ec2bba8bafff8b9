"""Checks for the whole suite: nothing a test made in the kernel outlives the session.

Every lab, network namespace, faultlab interface (``fl...``) and faultlab nftables table
on this machine at the end of the session that was not there at its start is reported as
an error (and removed, so the machine is clean for the next run), whether the test that
made it passed or failed. Objects present before the session (another run's) are left
alone.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

LABS = Path("/run/faultlab/labs")
NETNS = Path("/run/netns")


def _names(folder: Path, prefix: str = "") -> set[str]:
    if not folder.is_dir():
        return set()
    return {p.name for p in folder.iterdir() if p.name.startswith(prefix)
            and not p.name.startswith(".")}


def _root_tables() -> set[str]:
    if shutil.which("nft") is None or os.geteuid() != 0:
        return set()
    out = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True,
                         timeout=30).stdout
    return {line.strip() for line in out.splitlines() if "faultlab" in line}


def _objects() -> dict[str, set[str]]:
    return {"lab": _names(LABS), "netns": _names(NETNS),
            "interface": _names(Path("/sys/class/net"), "fl"), "nft table": _root_tables()}


@pytest.fixture(scope="session", autouse=True)
def nothing_left_in_the_kernel() -> Iterator[None]:
    before = _objects()
    yield
    left = {kind: sorted(names - before[kind]) for kind, names in _objects().items()}
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
