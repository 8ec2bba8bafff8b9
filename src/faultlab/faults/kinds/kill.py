"""The ``kill`` fault: a signal sent once to a target's processes (nothing to revert)."""

from __future__ import annotations

import signal
from typing import ClassVar, Literal

from pydantic import Field

from faultlab.experiment.types import SignalName
from faultlab.faults.kinds.process import ProcessFault, ProcessSpec
from faultlab.faults.registry import FaultKind
from faultlab.faults.undo import Undo

__all__ = ["KILL"]


class KillSpec(ProcessSpec):
    """Send ``signal`` to the target's processes once (nothing to revert)."""

    instantaneous: ClassVar[bool] = True
    kind: Literal["kill"]
    signal: SignalName = Field(default="SIGKILL", description="Signal sent, e.g. SIGKILL, "
                               "SIGTERM.")


class KillFault(ProcessFault):
    async def prepare(self) -> Undo:
        self.victims = self.resolve()
        self.undo = Undo("nothing", {"reason": "a killed process is not restarted (use a "
                                     "restart fault for that)"})
        return self.undo

    async def inject(self) -> None:
        sig = signal.Signals[self.spec.signal]
        proc = self.target.spec.process
        if proc is not None and proc.service is not None and self.ctx.services is not None:
            await self.ctx.services.kill(proc.service, sig)
            return
        self._signal_all(self.victims, sig)


KILL = FaultKind("kill", KillSpec, KillFault)
