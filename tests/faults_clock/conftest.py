"""Shared pieces of the clock-fault tests: an experiment with one service under libfaketime
(tests/faults_clock/clock_service.py, answering each connection with its wall clock), a
real ``faultlab run`` of it, and clean-up of everything it may leave (the run, its services
and the clock keepers), also when a test fails."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from faultlab.faketime import FaketimeError, find_library
from faultlab.hosts import ProcessId, local_host
from faultlab.ports import free_ports

SERVICE = Path(__file__).with_name("clock_service.py")

EXPERIMENT = """
name: clock
system:
  services:
    svc:
      command: [{python}, {service}, "{port}"]
      ready: {{tcp: "127.0.0.1:{port}"}}
targets:
  svc:
    process: {{service: svc}}
faults:
{faults}
revert: {{lease_grace: {grace}}}
"""

#: a fault that keeps the run going until the test creates the file (so what follows the
#: clock fault's revert can be observed, however slowly the machine runs)
GATE = ("  - {{name: gate, kind: command, timeout: 120s, inject: [sh, -c, "
        "'while [ ! -e {path} ]; do sleep 0.05; done']}}")


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """A generous bound: it only stops a test that would otherwise hang."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.02)


class ClockLab:
    """One experiment and its run, for one test."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.port = free_ports(1)[0]
        self.run_dir = tmp / "run"
        self.gate = tmp / "gate-open"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def control(self) -> Path:
        return self.run_dir / "clock" / "svc.faketime"

    def experiment(self, *faults: str, grace: str = "1s", gate: bool = False) -> Path:
        lines = list(faults) + ([GATE.format(path=self.gate)] if gate else [])
        path = self.tmp / "exp.yaml"
        path.write_text(EXPERIMENT.format(python=sys.executable, service=SERVICE,
                                          port=self.port, faults="\n".join(lines),
                                          grace=grace))
        return path

    def faultlab(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "faultlab", *args], capture_output=True,
                              text=True, timeout=timeout, check=False)

    def start(self, exp: Path) -> subprocess.Popen[bytes]:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "faultlab", "run", str(exp), "--run-dir",
             str(self.run_dir), "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        return self.proc

    def journal(self) -> list[dict[str, Any]]:
        path = self.run_dir / "journal.jsonl"
        out = []
        if path.exists():
            for line in path.read_text().splitlines():
                with contextlib.suppress(json.JSONDecodeError):
                    out.append(json.loads(line))
        return out

    def seen(self, event: str, fault: str | None = None) -> bool:
        return any(e["event"] == event and (fault is None or e.get("fault") == fault)
                   for e in self.journal())

    def wait_event(self, event: str, fault: str | None = None) -> None:
        def ready() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise AssertionError(f"faultlab exited {self.proc.returncode}: {err}")
            return self.seen(event, fault)
        wait_for(ready, f"{event} {fault or ''}")

    def offset(self) -> float | None:
        """The service's clock minus ours (this process runs without libfaketime), or None
        when it does not answer."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), 5) as s:
                data = s.recv(64)
        except OSError:
            return None
        return float(data) - time.time() if data else None

    def wait_offset(self, expected: float, tolerance: float = 5.0) -> None:
        def near() -> bool:
            off = self.offset()
            return off is not None and abs(off - expected) < tolerance
        wait_for(near, f"the service's clock to be off by {expected:+g}s")

    wait_for = staticmethod(wait_for)

    def alive(self, procs: list[ProcessId]) -> list[ProcessId]:
        return [p for p in procs if local_host().is_alive(p)]

    def services(self) -> list[ProcessId]:
        return [ProcessId(int(e["pid"]), int(e["started"])) for e in self.journal()
                if e["event"] == "service_started" and e.get("started")]

    def keepers(self) -> list[ProcessId]:
        return [ProcessId.from_json(e["undo"]["params"]["keeper"]) for e in self.journal()
                if e["event"] == "fault_intent" and e["undo"]["action"] == "reset_clock"]

    def cleanup(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for proc in self.alive(self.services() + self.keepers()):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[ClockLab]:
    try:
        find_library()
    except FaketimeError as e:
        pytest.skip(str(e))
    clock_lab = ClockLab(tmp_path)
    try:
        yield clock_lab
    finally:
        clock_lab.gate.touch()
        clock_lab.cleanup()
