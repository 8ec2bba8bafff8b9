"""The base of faults on processes (kill, pause, restart), on any host.

A process target names one faultlab started (``service``), or processes found by pid file
or by name on the target's host. Every process is handled by identity (pid + start time):
one whose pid was reused is never signalled.
"""

from __future__ import annotations

import signal
from typing import Any, ClassVar

from faultlab.faults.base import Fault, FaultError
from faultlab.faults.spec import FaultSpec
from faultlab.hosts import HostError, ProcessGone, ProcessId

__all__ = ["ProcessFault", "ProcessSpec"]


class ProcessSpec(FaultSpec):
    target_kinds: ClassVar[frozenset[str]] = frozenset({"process"})


class ProcessFault(Fault[Any]):
    resolved: list[ProcessId] | None = None

    def applied(self) -> str:
        found = self.resolved or []
        return f"pid {', '.join(str(p.pid) for p in found)}" if found else ""

    def resolve(self) -> list[ProcessId]:
        """Identities of every process the target names, now (kept for :meth:`applied`)."""
        self.resolved = self._resolve()
        return self.resolved

    def _resolve(self) -> list[ProcessId]:
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
        if proc.pid is not None:
            ident = host.identify(proc.pid)
            if ident is None:
                raise FaultError(f"pid {proc.pid} is not running on host {host.name}")
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
