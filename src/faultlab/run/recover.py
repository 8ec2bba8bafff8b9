"""``faultlab recover RUN_DIR``: after a crash, revert what the journal shows as active.

Reads the journal, finds every fault whose intent was journaled and whose revert was not,
executes its undo record, stops the services and the proxy server the run started (if the
very same processes are still running), and appends what it did to the journal. Running it
twice is harmless.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from faultlab import procutil
from faultlab.faults.undo import Undo, execute_undo
from faultlab.journal import JOURNAL_NAME, Event, read_journal

__all__ = ["RecoveryReport", "recover"]


@dataclass
class RecoveryReport:
    reverted: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    already_clean: bool = False


def _active_state(events: list[dict[str, Any]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    faults: dict[str, Any] = {}
    processes: list[dict[str, Any]] = []
    for e in events:
        kind = e["event"]
        if kind == Event.FAULT_INTENT.value:
            faults[e["fault"]] = e
        elif kind in (Event.FAULT_REVERTED.value,):
            faults.pop(e["fault"], None)
        elif kind == Event.RECOVERED.value:
            for name in e.get("reverted", []):
                faults.pop(name, None)
        elif kind in (Event.SERVICE_STARTED.value, Event.PROXY_SERVER_STARTED.value):
            processes.append(e)
    return faults, processes


async def recover(run_dir: Path, timeout: float = 5.0) -> RecoveryReport:
    path = run_dir / JOURNAL_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    events = list(read_journal(path))
    faults, processes = _active_state(events)
    report = RecoveryReport()
    for name, intent in faults.items():
        try:
            done = await execute_undo(Undo.from_json(intent["undo"]), None, timeout)
            report.reverted.append(f"{name}: {done}")
        except Exception as e:
            report.failed.append(f"{name}: {type(e).__name__}: {e}")
    # Faults first, then the processes the run started: services, then the proxy server.
    for proc in sorted(processes, key=lambda p: p["event"] == Event.PROXY_SERVER_STARTED.value):
        pid, started = int(proc["pid"]), proc.get("started")
        if procutil.is_alive(pid, started):
            what = proc.get("service") or "proxy server"
            _stop(pid, started)
            report.stopped.append(f"{what} (pid {pid})")
    report.already_clean = not (faults or report.stopped)
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps({"event": Event.RECOVERED.value, "wall": time.time(),
                            "reverted": [n for n in faults if not any(
                                r.startswith(f"{n}:") for r in report.failed)],
                            "details": report.reverted, "failed": report.failed,
                            "stopped": report.stopped}) + "\n")
        f.flush()
        os.fsync(f.fileno())
    return report


def _stop(pid: int, started: int | None) -> None:
    for sig in (signal.SIGCONT, signal.SIGTERM):
        try:
            os.killpg(pid, sig) if os.getpgid(pid) == pid else os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            return
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and procutil.is_alive(pid, started):
        time.sleep(0.05)
    if procutil.is_alive(pid, started):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL) if os.getpgid(pid) == pid else os.kill(
                pid, signal.SIGKILL)


