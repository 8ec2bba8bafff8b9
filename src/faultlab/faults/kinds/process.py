"""Faults on processes: kill, pause/resume, restart; on any host.

A process target names one faultlab started (``service``), or processes found by pid file
or by name on the target's host. Every process is handled by identity (pid + start time):
one whose pid was reused is never signalled.

A pause's lease is kept by a small detached keeper (``sleep LEASE; kill -CONT PIDS``, in its
own session) started *before* the SIGSTOP: if faultlab dies, the keeper still resumes the
processes. A normal revert kills the keeper's whole session (the ``sleep`` too) and sends
SIGCONT itself.
"""

from __future__ import annotations

import contextlib
import signal
from typing import Any, ClassVar, Literal

from pydantic import Field

from faultlab.experiment.types import SignalName
from faultlab.faults.base import Fault, FaultError
from faultlab.faults.registry import FaultKind
from faultlab.faults.spec import FaultSpec
from faultlab.faults.undo import Undo, UndoAction, UndoEnv
from faultlab.hosts import HostError, ProcessGone, ProcessId

__all__ = ["KILL", "PAUSE", "RESTART", "ProcessFault"]


class _ProcessSpec(FaultSpec):
    target_kinds: ClassVar[frozenset[str]] = frozenset({"process"})


class ProcessFault(Fault[Any]):
    def resolve(self) -> list[ProcessId]:
        """Identities of every process the target names, now."""
        proc = self.target.spec.process
        host = self.target.host
        assert proc is not None
        if proc.service is not None:
            services = self.ctx.services
            svc = services.running.get(proc.service) if services else None
            if svc is None or svc.process.returncode is not None or svc.identity is None:
                raise FaultError(f"service '{proc.service}' is not running")
            return [svc.identity]
        if proc.pidfile is not None:
            try:
                text = host.read_text(proc.pidfile).strip()
            except HostError as e:
                raise FaultError(str(e)) from None
            if not text.isdigit():
                raise FaultError(f"pid file {proc.pidfile} does not hold a pid")
            ident = host.identify(int(text))
            if ident is None:
                raise FaultError(f"pid {text} from {proc.pidfile} is not running")
            return [ident]
        assert proc.name is not None
        found = host.find_by_name(proc.name)
        if not found:
            raise FaultError(f"no running process is named '{proc.name}' on host "
                             f"{host.name}")
        return found

    async def check(self) -> list[str]:
        procs = self.resolve() if self.target.spec.process.service is None else []  # type: ignore[union-attr]
        what = ", ".join(str(p.pid) for p in procs) or "a service faultlab starts"
        return [f"{self.target.name}: {what} on host {self.target.host.name}"]

    def _signal_all(self, procs: list[ProcessId], sig: signal.Signals) -> None:
        for proc in procs:
            try:
                self.target.host.signal(proc, sig)
            except (ProcessGone, HostError) as e:
                raise FaultError(str(e)) from None


# --- kill ------------------------------------------------------------------------------

class KillSpec(_ProcessSpec):
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


# --- pause -----------------------------------------------------------------------------

class PauseSpec(_ProcessSpec):
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
        with contextlib.suppress(ProcessGone, ValueError):  # gone: nothing to stop
            env.host.signal(ProcessId.from_json(p["keeper"]), signal.SIGKILL, group=True)
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


# --- restart ---------------------------------------------------------------------------

class RestartSpec(_ProcessSpec):
    """Stop a service faultlab started (with ``signal``); start it again after ``duration``."""

    kind: Literal["restart"]
    signal: SignalName = Field(default="SIGKILL", description="Signal that stops it.")


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
