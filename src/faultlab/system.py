"""The system under test: services faultlab starts, checks for readiness, restarts and stops.

Each service runs in its own session (process group): the terminal's Ctrl-C reaches faultlab
only, so faultlab decides the order of shutdown (faults reverted first, then services
stopped), and stopping a service stops whatever it spawned. Output goes to
``RUN_DIR/logs/<service>.log``.
"""

from __future__ import annotations

import asyncio
import os
import signal
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from faultlab import procutil
from faultlab.clock import Clock
from faultlab.experiment.model import ReadyCheck, ServiceSpec
from faultlab.journal import Event, Journal

__all__ = ["RunningService", "ServiceError", "Services", "stop_process_group"]


class ServiceError(Exception):
    """A service could not be started or did not become ready."""


@dataclass
class RunningService:
    name: str
    process: asyncio.subprocess.Process
    started: int | None  # /proc start time, to recognise the process later

    @property
    def pid(self) -> int:
        return self.process.pid


class Services:
    def __init__(self, specs: dict[str, ServiceSpec], run_dir: Path, journal: Journal,
                 clock: Clock) -> None:
        self.specs = specs
        self.logs = run_dir / "logs"
        self.journal = journal
        self.clock = clock
        self.running: dict[str, RunningService] = {}

    async def start_all(self) -> None:
        for name in self.specs:
            await self.start(name)

    async def start(self, name: str) -> RunningService:
        spec = self.specs[name]
        self.logs.mkdir(parents=True, exist_ok=True)
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 (owned by the child)
        try:
            proc = await asyncio.create_subprocess_exec(
                *spec.command, cwd=spec.cwd, env={**os.environ, **spec.env},
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True)
        except OSError as e:
            raise ServiceError(f"service '{name}': cannot run {spec.command[0]!r}: "
                               f"{e.strerror}") from None
        finally:
            log.close()
        svc = RunningService(name, proc, procutil.start_time(proc.pid))
        self.running[name] = svc
        self.journal.write(Event.SERVICE_STARTED, durable=True, service=name, pid=proc.pid,
                           started=svc.started)
        if spec.ready is not None:
            await self._wait_ready(svc, spec.ready)
        return svc

    async def _wait_ready(self, svc: RunningService, check: ReadyCheck) -> None:
        deadline = self.clock.now() + check.timeout
        last = "no answer yet"
        while True:
            if svc.process.returncode is not None:
                raise ServiceError(f"service '{svc.name}' exited with code "
                                   f"{svc.process.returncode} before it was ready "
                                   f"(see {self.logs / (svc.name + '.log')})")
            ok, last = await probe_ready(check)
            if ok:
                return
            if self.clock.now() >= deadline:
                raise ServiceError(f"service '{svc.name}' was not ready within "
                                   f"{check.timeout:g}s: {last} "
                                   f"(see {self.logs / (svc.name + '.log')})")
            await self.clock.sleep_until(min(deadline, self.clock.now() + check.interval))

    async def kill(self, name: str, sig: signal.Signals) -> None:
        """Send ``sig`` to the service's process group and reap it (for restart faults)."""
        svc = self.running.get(name)
        if svc is None or svc.process.returncode is not None:
            return
        with _suppress_gone():
            os.killpg(svc.pid, sig)
        if sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
            try:
                await asyncio.wait_for(svc.process.wait(), self.specs[name].stop_timeout)
            except TimeoutError:
                with _suppress_gone():
                    os.killpg(svc.pid, signal.SIGKILL)
                await svc.process.wait()
        self.journal.write(Event.SERVICE_STOPPED, service=name, pid=svc.pid,
                           signal=sig.name, returncode=svc.process.returncode)

    def is_running(self, name: str) -> bool:
        svc = self.running.get(name)
        return svc is not None and svc.process.returncode is None

    async def stop_all(self) -> None:
        """Stop every service, last started first; never raises."""
        for name in reversed(list(self.running)):
            svc = self.running[name]
            if svc.process.returncode is None:
                await stop_process_group(svc.process, self.specs[name].stop_timeout)
                self.journal.write(Event.SERVICE_STOPPED, service=name, pid=svc.pid,
                                   signal="SIGTERM", returncode=svc.process.returncode)


async def stop_process_group(proc: asyncio.subprocess.Process, timeout: float) -> None:
    # A paused service would never handle SIGTERM: continue it first.
    for sig in (signal.SIGCONT, signal.SIGTERM):
        with _suppress_gone():
            os.killpg(proc.pid, sig)
    try:
        await asyncio.wait_for(proc.wait(), timeout)
    except TimeoutError:
        with _suppress_gone():
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()


class _suppress_gone:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return isinstance(exc[1], ProcessLookupError | PermissionError)


async def probe_ready(check: ReadyCheck) -> tuple[bool, str]:
    """One readiness probe; returns (ready, what was seen). Never raises for a down service."""
    try:
        if check.http is not None:
            return await asyncio.wait_for(_http_ok(check.http), 2.0)
        if check.tcp is not None:
            host, port = check.tcp.rsplit(":", 1)
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(host.strip("[]"), int(port)), 2.0)
            writer.close()
            return True, "connected"
        assert check.command is not None
        proc = await asyncio.create_subprocess_exec(
            *check.command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        code = await proc.wait()
        return code == 0, f"command exited with {code}"
    except (OSError, TimeoutError) as e:
        return False, str(e) or type(e).__name__


async def _http_ok(url: str) -> tuple[bool, str]:
    """A minimal HTTP/1.0 GET, so readiness checks need no HTTP client library."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host = parts.hostname or "127.0.0.1"
    reader, writer = await asyncio.open_connection(host, port, ssl=parts.scheme == "https")
    try:
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        writer.write(f"GET {path} HTTP/1.0\r\nHost: {parts.netloc}\r\n\r\n".encode())
        await writer.drain()
        status_line = await reader.readline()
    finally:
        writer.close()
    fields = status_line.split()
    if len(fields) >= 2 and fields[1].isdigit():
        code = int(fields[1])
        return 200 <= code < 400, f"HTTP {code}"
    return False, "no HTTP status line"
