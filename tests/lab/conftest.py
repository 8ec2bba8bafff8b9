"""Labs for tests: unique names per test session (a second run on the machine never
collides), removed after each test also when it fails, and checked to be gone."""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from faultlab.lab.control import lab_down, lab_up
from faultlab.lab.net import NETNS_DIR
from faultlab.lab.spec import LabSpec
from faultlab.lab.state import LabState

PREFIX = f"t{os.getpid()}-"
_count = itertools.count()


def lab_name(tag: str = "lab") -> str:
    return f"{PREFIX}{tag}{next(_count)}"


def leftovers() -> list[str]:
    """This session's namespaces still present (should be none between tests)."""
    return sorted(p.name for p in NETNS_DIR.glob(f"fl-{PREFIX}*")) if NETNS_DIR.is_dir() else []


@pytest.fixture
def make_lab() -> Iterator[Callable[..., LabState]]:
    """``make_lab(hosts=3, **spec)`` brings a lab up (in its own event loop) and removes it
    after the test, whatever happens."""
    made: list[str] = []

    def make(hosts: int | dict[str, Any] = 3, **spec: Any) -> LabState:
        name = spec.pop("name", None) or lab_name()
        host_map = hosts if isinstance(hosts, dict) else {f"n{i}": {} for i in
                                                           range(1, hosts + 1)}
        made.append(name)
        return asyncio.run(lab_up(LabSpec(name=name, hosts=host_map, **spec)))

    try:
        yield make
    finally:
        for name in made:
            lab_down(name)
        assert not [n for n in leftovers() if any(n.startswith(f"fl-{m}-") for m in made)]


def in_host(state: LabState, host: str, *argv: str) -> list[str]:
    h = state.host(host)
    assert h is not None
    return ["ip", "netns", "exec", h.netns, *argv]


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
