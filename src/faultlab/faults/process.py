"""Faults on local processes: kill, pause/resume, restart.

A pause's lease is kept by a tiny detached keeper process (``sleep LEASE; kill -CONT PID``)
started *before* the SIGSTOP: if faultlab dies, the keeper still resumes the process. A
normal revert kills the keeper and sends SIGCONT itself.
"""

from __future__ import annotations

import signal
import subprocess

from faultlab import procutil
from faultlab.experiment.model import KillFault, RestartFault
from faultlab.faults.base import Fault, FaultError
from faultlab.faults.undo import Undo, UndoKind

__all__ = ["KillProcessFault", "PauseProcessFault", "RestartServiceFault"]


class _ProcessFault(Fault):
    def resolve(self) -> list[tuple[int, int | None]]:
        """(pid, start time) of every process the target names, now."""
        proc = self.target.process
        assert proc is not None
        if proc.service is not None:
            services = self.ctx.services
            svc = services.running.get(proc.service) if services else None
            if svc is None or svc.process.returncode is not None:
                raise FaultError(f"service '{proc.service}' is not running")
            return [(svc.pid, svc.started)]
        if proc.pidfile is not None:
            try:
                pid = procutil.read_pidfile(proc.pidfile)
            except procutil.ProcessGone as e:
                raise FaultError(str(e)) from None
            started = procutil.start_time(pid)
            if started is None:
                raise FaultError(f"pid {pid} from {proc.pidfile} is not running")
            return [(pid, started)]
        assert proc.name is not None
        pids = procutil.find_by_name(proc.name)
        if not pids:
            raise FaultError(f"no running process is named '{proc.name}'")
        return [(pid, procutil.start_time(pid)) for pid in pids]


class KillProcessFault(_ProcessFault):
    async def prepare(self) -> Undo:
        self.victims = self.resolve()
        self.undo = Undo(UndoKind.NOTHING, {"reason": "a killed process is not restarted "
                                            "(use a restart fault for that)"})
        return self.undo

    async def inject(self) -> None:
        assert isinstance(self.spec, KillFault)
        sig = signal.Signals[self.spec.signal]
        proc = self.target.process
        assert proc is not None
        if proc.service is not None and self.ctx.services is not None:
            await self.ctx.services.kill(proc.service, sig)
            return
        for pid, started in self.victims:
            try:
                procutil.send_signal(pid, sig, started)
            except procutil.ProcessGone as e:
                raise FaultError(str(e)) from None


class PauseProcessFault(_ProcessFault):
    async def prepare(self) -> Undo:
        victims = self.resolve()
        pids = " ".join(str(pid) for pid, _ in victims)
        keeper = subprocess.Popen(
            ["sh", "-c", f"sleep {self.lease:.3f}; kill -CONT {pids} 2>/dev/null"],
            start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        self._keeper = keeper
        self.undo = Undo(UndoKind.RESUME, {
            "processes": [[pid, started] for pid, started in victims],
            "keeper": [keeper.pid, procutil.start_time(keeper.pid)]})
        return self.undo

    async def inject(self) -> None:
        assert self.undo is not None
        for pid, started in self.undo.params["processes"]:
            try:
                procutil.send_signal(pid, signal.SIGSTOP, started)
            except procutil.ProcessGone as e:
                raise FaultError(str(e)) from None

    async def revert(self) -> None:
        await super().revert()
        keeper = getattr(self, "_keeper", None)
        if keeper is not None and keeper.poll() is None:
            keeper.kill()
        if keeper is not None:
            keeper.wait()


class RestartServiceFault(_ProcessFault):
    """Stop a service faultlab started (with ``signal``), start it again at revert."""

    async def prepare(self) -> Undo:
        proc = self.target.process
        if proc is None or proc.service is None or self.ctx.services is None:
            raise FaultError("restart needs a service that faultlab started")
        self.resolve()
        self.undo = Undo(UndoKind.START_SERVICE, {"service": proc.service})
        return self.undo

    async def inject(self) -> None:
        assert isinstance(self.spec, RestartFault) and self.ctx.services is not None
        proc = self.target.process
        assert proc is not None and proc.service is not None
        await self.ctx.services.kill(proc.service, signal.Signals[self.spec.signal])
