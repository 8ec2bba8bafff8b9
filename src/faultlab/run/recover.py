"""``faultlab recover RUN_DIR``: after a crash, revert what the journal shows as active.

Reads the journal (any damage: torn lines, wrong types, garbage, a truncated file; each bad
line is skipped and reported, never a traceback), finds every fault whose intent was
journaled and whose revert (or a closing event) was not, executes its undo record on the
host it names, then stops the processes the run started: services and the proxy server,
each only if it is **provably** the same process (pid + start time as journaled, or the
run's marker in its environment: an intent journaled before a spawn whose pid never reached
the journal is found that way). What it did is appended through the journal and its
redactor. Running it twice is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from faultlab import events
from faultlab.clock import MonotonicClock
from faultlab.errors import FaultlabError
from faultlab.events import parse_event
from faultlab.faults.undo import Undo, UndoError, execute_undo
from faultlab.hosts import Host, ProcessGone, ProcessId, local_host
from faultlab.journal import JOURNAL_NAME, Event, Journal, Redactor, UnresolvedSecret
from faultlab.run.setup import MARKER_ENV

__all__ = ["RecoveryReport", "RunStillGoing", "recover"]


@dataclass
class RecoveryReport:
    reverted: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # damaged lines, unverifiable processes
    already_clean: bool = False


class RunStillGoing(FaultlabError):
    """The run whose journal this is still runs: it reverts everything itself."""


@dataclass
class _State:
    runner: ProcessId | None = None
    faults: dict[str, dict[str, Any]] = field(default_factory=dict)
    processes: list[dict[str, Any]] = field(default_factory=list)
    markers: set[str] = field(default_factory=set)
    labs: dict[str, str] = field(default_factory=dict)  # lab made by the run -> its marker
    damaged: list[str] = field(default_factory=list)


def _read(path: Path) -> _State:
    state = _State()
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            try:
                e = json.loads(line)
            except ValueError:
                if line.strip():
                    state.damaged.append(f"line {n}: not JSON (skipped)")
                continue
            if not isinstance(e, dict) or not isinstance(e.get("event"), str):
                state.damaged.append(f"line {n}: not a journal event (skipped)")
                continue
            try:
                _apply(state, e)
            except (KeyError, TypeError, ValueError, AttributeError, ValidationError):
                state.damaged.append(f"line {n}: a damaged '{e['event']}' event (skipped)")
    return state


def _apply(state: _State, e: dict[str, Any]) -> None:
    parsed = parse_event(e)
    if parsed is None:
        return
    kind, ev = parsed
    if isinstance(ev, events.RunStarted) and ev.pid and ev.started:
        state.runner = ProcessId(ev.pid, ev.started)
    elif isinstance(ev, events.FaultIntent):
        state.faults[ev.fault] = e
    elif kind in (Event.FAULT_REVERTED, Event.FAULT_CLOSED):
        state.faults.pop(str(e["fault"]), None)
    elif isinstance(ev, events.Recovered):
        for name in ev.reverted:
            state.faults.pop(name, None)
    elif isinstance(ev, events.Spawned):
        state.processes.append(e)
    elif isinstance(ev, events.LabStarting):
        state.labs[ev.lab] = ev.marker
    elif isinstance(ev, events.LabDown) and ev.error is None:
        state.labs.pop(ev.lab, None)
    marker = getattr(ev, "marker", None)
    if isinstance(marker, str) and marker:
        state.markers.add(marker)


async def recover(run_dir: Path, timeout: float = 5.0) -> RecoveryReport:
    path = run_dir / JOURNAL_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    state = _read(path)
    if state.runner is not None and local_host().is_alive(state.runner):
        raise RunStillGoing(f"{run_dir}: the run is still going (faultlab pid "
                            f"{state.runner.pid}), and reverts everything itself when it ends; "
                            "stop it with Ctrl-C or SIGTERM (SIGKILL only if that fails), "
                            "then recover")
    report = RecoveryReport(skipped=list(state.damaged))
    reverted = []
    for name, intent in state.faults.items():
        try:
            done = await execute_undo(Undo.from_json(intent["undo"]), timeout, recovering=True)
            report.reverted.append(f"{name}: {done}")
            reverted.append(name)
        except (UndoError, UnresolvedSecret) as e:
            report.failed.append(f"{name}: {e}")
        except Exception as e:
            report.failed.append(f"{name}: {type(e).__name__}: {e}" if str(e)
                                 else f"{name}: {type(e).__name__}")
    await _stop_processes(state, report)
    await _remove_labs(state, report)
    report.already_clean = not (state.faults or report.stopped)
    clock = MonotonicClock()
    journal = Journal(path, clock, clock.now(), Redactor())
    try:
        journal.write(Event.RECOVERED, durable=True, reverted=reverted,
                      details=report.reverted, failed=report.failed, stopped=report.stopped,
                      skipped=report.skipped)
    finally:
        journal.close()
    return report


async def _stop_processes(state: _State, report: RecoveryReport) -> None:
    """Services first (last started first), then the proxy server; each by identity."""
    host = local_host()
    seen: set[ProcessId] = set()
    ordered = sorted(state.processes,
                     key=lambda p: p["event"] == Event.PROXY_SERVER_STARTED.value)
    for proc in ordered:
        what = str(proc.get("service") or "proxy server")
        try:
            ident = ProcessId.from_json([proc.get("pid"), proc.get("started")])
        except ValueError:
            report.skipped.append(f"{what} (pid {proc.get('pid')}): no start time in the "
                                  "journal, so its identity cannot be verified; not signalled")
            continue
        if host.is_alive(ident):
            seen.add(ident)
            await _stop(host, ident)
            report.stopped.append(f"{what} (pid {ident.pid})")
    for marker in sorted(state.markers):
        for ident in host.processes_with_env(MARKER_ENV, marker):
            if ident not in seen:
                seen.add(ident)
                await _stop(host, ident)
                report.stopped.append(f"process {ident.pid} started by the run "
                                      "(found by its marker)")


async def _remove_labs(state: _State, report: RecoveryReport) -> None:
    """The run's own labs (after their processes: removal ends what is left inside). A lab
    of that name owned by another run, or by nobody, is not the run's and is left alone."""
    from faultlab.lab.control import LabError, lab_down
    from faultlab.lab.state import read_state

    for name, marker in state.labs.items():
        try:
            lab = read_state(name)
        except ValueError as e:
            report.skipped.append(f"lab {name}: {e}; remove it with `faultlab lab down {name}`")
            continue
        if lab is None:
            continue
        if lab.owner != marker:
            report.skipped.append(f"lab {name} is not this run's (another run or `faultlab "
                                  "lab up` made it since); left as it is")
            continue
        try:
            report.stopped.append(await asyncio.to_thread(lab_down, name))
        except LabError as e:
            report.failed.append(str(e))


async def _stop(host: Host, proc: ProcessId) -> None:
    for sig in (signal.SIGCONT, signal.SIGTERM):
        try:
            host.signal(proc, sig, group=True)
        except ProcessGone:
            return
    for _ in range(100):
        if not host.is_alive(proc):
            return
        await asyncio.sleep(0.05)
    with contextlib.suppress(ProcessGone):
        host.signal(proc, signal.SIGKILL, group=True)
