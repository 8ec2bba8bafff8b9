"""The ``restart`` fault: stop a service faultlab started, start it again at revert."""

from __future__ import annotations

import signal
from typing import Any, ClassVar, Literal

from pydantic import Field

from faultlab.experiment.types import SignalName
from faultlab.faults.base import FaultError
from faultlab.faults.kinds.process import ProcessFault, ProcessSpec
from faultlab.faults.registry import FaultKind
from faultlab.faults.undo import Undo, UndoAction, UndoEnv

__all__ = ["RESTART"]


class RestartSpec(ProcessSpec):
    """Stop a service faultlab started (with ``signal``); start it again after ``duration``."""

    kind: Literal["restart"]
    signal: SignalName = Field(default="SIGKILL", description="Signal that stops it.")
    needs_service: ClassVar[str | None] = "target a process with `service:`, or use kill"


class RestartFault(ProcessFault):
    async def prepare(self) -> Undo:
        proc = self.target.spec.process
        if proc is None or proc.service is None or self.ctx.services is None:
            raise FaultError("restart needs a service that faultlab started")
        self.resolve()
        self.undo = Undo(START_SERVICE.name, {"service": proc.service})
        return self.undo

    async def inject(self) -> None:
        proc = self.target.spec.process
        assert proc is not None and proc.service is not None and self.ctx.services is not None
        await self.ctx.services.kill(proc.service, signal.Signals[self.spec.signal])


async def _start_service(p: dict[str, Any], env: UndoEnv) -> str:
    services = env.services
    if services is None:
        return "service not restarted (recovery stops the whole system instead)"
    if not services.is_running(p["service"]):
        await services.start(p["service"])
        return f"started service {p['service']}"
    return f"service {p['service']} already running"


START_SERVICE = UndoAction("start_service", _start_service)
RESTART = FaultKind("restart", RestartSpec, RestartFault, (START_SERVICE,))
