"""The ``pause`` fault: SIGSTOP a target's processes, SIGCONT at revert.

A pause's lease is kept by a small detached keeper (``sleep LEASE; kill -CONT PIDS``, in its
own session) started *before* the SIGSTOP: if faultlab dies, the keeper still resumes the
processes. A normal revert kills the keeper's whole session (the ``sleep`` too) and sends
SIGCONT itself."""

from __future__ import annotations

import contextlib
import signal
from typing import Any, Literal

from faultlab.faults.base import FaultError
from faultlab.faults.kinds.process import ProcessFault, ProcessSpec
from faultlab.faults.registry import FaultKind
from faultlab.faults.undo import Undo, UndoAction, UndoEnv
from faultlab.hosts import HostError, ProcessGone, ProcessId

__all__ = ["PAUSE"]


class PauseSpec(ProcessSpec):
    """Stop the target's processes (SIGSTOP) for ``duration``, then resume them (SIGCONT)."""

    kind: Literal["pause"]


class PauseFault(ProcessFault):
    async def prepare(self) -> Undo:
        victims = self.resolve()
        pids = " ".join(str(p.pid) for p in victims)
        try:
            keeper = self.target.host.spawn_detached(
                ["sh", "-c", f"sleep {self.lease:.3f}; kill -CONT {pids} 2>/dev/null"])
        except HostError as e:
            raise FaultError(f"cannot start the pause's lease keeper: {e}") from None
        self.undo = Undo(RESUME.name, {"processes": [p.to_json() for p in victims],
                                       "keeper": keeper.to_json()},
                         host=self.target.host.ref())
        return self.undo

    async def inject(self) -> None:
        assert self.undo is not None
        self._signal_all([ProcessId.from_json(p) for p in self.undo.params["processes"]],
                         signal.SIGSTOP)


async def _resume(p: dict[str, Any], env: UndoEnv) -> str:
    if p.get("keeper"):
        with contextlib.suppress(ValueError):  # a damaged record: no keeper to stop
            await env.host.end(ProcessId.from_json(p["keeper"]))
    resumed = []
    for item in p.get("processes", []):
        try:
            env.host.signal(ProcessId.from_json(item), signal.SIGCONT)
            resumed.append(str(item[0]))
        except (ProcessGone, ValueError):
            pass
    return f"resumed {', '.join(resumed) or 'nothing (process gone)'}"


RESUME = UndoAction("resume", _resume)
PAUSE = FaultKind("pause", PauseSpec, PauseFault, (RESUME,))
