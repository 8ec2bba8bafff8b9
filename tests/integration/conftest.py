"""Shared helpers for tests that run faultlab as a real process against real processes."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from faultlab.hosts import ProcessId, local_host
from faultlab.ports import free_ports


def is_alive(pid: int, started: int | None) -> bool:
    """The very process (pid and start time) still runs (a zombie does not)."""
    ident = local_host().identify(pid)
    return ident is not None and (started is None or ident == ProcessId(pid, started))


def is_stopped(pid: int) -> bool:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return raw[raw.rindex(")") + 2:].split()[0] in ("T", "t")


def free_port() -> int:
    return free_ports(1)[0]


def journal(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "journal.jsonl"
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        with contextlib.suppress(json.JSONDecodeError):
            out.append(json.loads(line))
    return out


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def faultlab(*args: str) -> list[str]:
    return [sys.executable, "-m", "faultlab", *args]


def started_pids(run_dir: Path) -> list[tuple[int, int | None]]:
    return [(int(e["pid"]), e.get("started")) for e in journal(run_dir)
            if e["event"] in ("service_started", "proxy_server_started")]


def kill_leftovers(run_dir: Path) -> None:
    """Last-resort cleanup so a failing test never leaves processes behind."""
    for pid, started in started_pids(run_dir):
        if is_alive(pid, started):
            try:
                os.kill(pid, signal.SIGCONT)
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


@pytest.fixture
def run_dirs(tmp_path: Path) -> Iterator[list[Path]]:
    dirs: list[Path] = []
    yield dirs
    for d in dirs:
        kill_leftovers(d)


def run_faultlab(args: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(faultlab(*args), capture_output=True, text=True, timeout=timeout,
                          check=False)
