"""The system under test: services faultlab starts, checks for readiness, restarts and stops.

Each service runs in its own session (process group): the terminal's Ctrl-C reaches faultlab
only, so faultlab decides the order of shutdown (faults reverted first, then services
stopped), and stopping a service stops whatever it spawned. Output goes through faultlab's
redactor to ``RUN_DIR/logs/<service>.log`` (secrets faultlab passed to a service never reach
its log). Every service carries the run's marker in its environment, and its intent is
journaled before the spawn, so recovery finds it whatever the moment of a crash.

Readiness is proven for the process faultlab started: a service whose ready check answers
before it was even started (something else holds its address) is refused, and a service
that exits is never ready.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path
from urllib.parse import urlsplit

import msgspec

from faultlab.clock import Clock
from faultlab.experiment.services import ReadyCheck, ServiceSpec
from faultlab.experiment.targets import LOCAL_HOST
from faultlab.hosts import Host, ProcessId, local_host
from faultlab.journal import Event, Journal, Redactor

__all__ = ["RunningService", "ServiceError", "Services", "stop_process_group"]


class ServiceError(Exception):
    """A service could not be started or did not become ready."""


class RunningService(msgspec.Struct):
    name: str
    process: asyncio.subprocess.Process
    identity: ProcessId | None  # pid + start time, to recognise the process later
    pump: asyncio.Task[None] | None = None  # copies its output, redacted, to its log

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def started(self) -> int | None:
        return self.identity.started if self.identity else None


class Services:
    def __init__(self, specs: dict[str, ServiceSpec], run_dir: Path, journal: Journal,
                 clock: Clock, redactor: Redactor | None = None, marker: str = "",
                 faketime: frozenset[str] = frozenset()) -> None:
        self.specs = specs
        self.run_dir = run_dir
        self.logs = run_dir / "logs"
        self.faketime = faketime  # started under libfaketime (clock faults target them)
        self.journal = journal
        self.clock = clock
        self.redactor = redactor or Redactor()
        self.marker = marker
        self.running: dict[str, RunningService] = {}
        #: hosts services may run on besides local (lab hosts), set by the runner
        self.hosts: dict[str, Host] = {}

    async def start_all(self) -> None:
        for name in self.specs:
            await self.start(name)

    async def start(self, name: str) -> RunningService:
        from faultlab.run.setup import MARKER_ENV

        spec = self.specs[name]
        if spec.ready is not None and spec.ready.command is None:
            squatter, seen = await probe_ready(spec.ready)
            if squatter:
                raise ServiceError(
                    f"service '{name}': its ready check already answers ({seen}) before it "
                    f"started: another process holds {spec.ready.http or spec.ready.tcp} "
                    "(stop it, or give the service another port)")
        self.logs.mkdir(parents=True, exist_ok=True)
        host = self.hosts.get(spec.host) if spec.host != LOCAL_HOST else None
        if spec.host != LOCAL_HOST and host is None:
            raise ServiceError(f"service '{name}': host '{spec.host}' is not known")
        argv = host.exec_argv(spec.command) if host is not None else list(spec.command)
        env = {**os.environ, **(host.exec_env() if host is not None else {}),
               "FAULTLAB_RUN_DIR": str(self.run_dir), **spec.env, MARKER_ENV: self.marker}
        if name in self.faketime:
            env.update(self._clock_env(name, env))
        self.journal.write(Event.SERVICE_STARTING, durable=True, service=name,
                           marker=self.marker)
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, cwd=spec.cwd, env=env,
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT, start_new_session=True)
        except OSError as e:
            raise ServiceError(f"service '{name}': cannot run {spec.command[0]!r}: "
                               f"{e.strerror}") from None
        old = self.running.get(name)
        if old is not None:  # a restart: the previous process's output must be done
            await self._end_pump(old)
        svc = RunningService(name, proc, local_host().identify(proc.pid))
        assert proc.stdout is not None
        svc.pump = asyncio.create_task(self._pump(proc.stdout, self.logs / f"{name}.log"))
        self.running[name] = svc
        self.journal.write(Event.SERVICE_STARTED, durable=True, service=name, pid=proc.pid,
                           started=svc.started, marker=self.marker)
        if spec.ready is not None:
            await self._wait_ready(svc, spec.ready)
        return svc

    def clock_file(self, name: str) -> Path | None:
        """The control file of a service started under libfaketime (None for the others)."""
        from faultlab.faketime import control_file

        return control_file(self.run_dir, name) if name in self.faketime else None

    def _clock_env(self, name: str, env: dict[str, str]) -> dict[str, str]:
        """libfaketime's environment; the control file reads +0 at the first start (a
        restart keeps what a clock fault wrote)."""
        from faultlab.faketime import ZERO, FaketimeError, service_env, write_offset

        path = self.clock_file(name)
        assert path is not None
        try:
            extra = service_env(path, env.get("LD_PRELOAD"))
        except FaketimeError as e:
            raise ServiceError(f"service '{name}' (a clock fault targets it): {e}") from None
        if name not in self.running or not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            write_offset(path, ZERO)
        env.pop("FAKETIME", None)  # it would take precedence over the control file
        return extra

    async def _pump(self, stream: asyncio.StreamReader, path: Path) -> None:
        """Copy a service's output to its log, line by line, through the redactor."""
        with open(path, "ab", buffering=0) as log:
            while True:
                try:
                    line = await stream.readline()
                except ValueError:  # a line longer than the stream's limit
                    line = await stream.read(1 << 16)
                except (ConnectionError, OSError):
                    return
                if not line:
                    return
                text = self.redactor.text(line.decode("utf-8", "replace"))
                log.write(text.encode("utf-8"))

    async def _wait_ready(self, svc: RunningService, check: ReadyCheck) -> None:
        deadline = self.clock.now() + check.timeout
        last = "no answer yet"
        while True:
            if svc.process.returncode is not None:
                raise ServiceError(f"service '{svc.name}' exited with code "
                                   f"{svc.process.returncode} before it was ready "
                                   f"(see {self.logs / (svc.name + '.log')})")
            ok, last = await probe_ready(check)
            if ok and svc.process.returncode is None:
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
            await self._end_pump(svc)  # its output has ended with it
        self.journal.write(Event.SERVICE_STOPPED, service=name, pid=svc.pid,
                           signal=sig.name, returncode=svc.process.returncode)

    def is_running(self, name: str) -> bool:
        svc = self.running.get(name)
        return svc is not None and svc.process.returncode is None

    async def stop_all(self, hurry: bool = False) -> list[str]:
        """Stop every service, last started first; never raises. Returns what is still
        running afterwards (measured), which should be nothing."""
        left = []
        for name in reversed(list(self.running)):
            svc = self.running[name]
            timeout = 1.0 if hurry else self.specs[name].stop_timeout
            if svc.process.returncode is None:
                with contextlib.suppress(Exception):
                    await stop_process_group(svc.process, timeout)
                self.journal.write(Event.SERVICE_STOPPED, service=name, pid=svc.pid,
                                   signal="SIGTERM", returncode=svc.process.returncode)
            await self._end_pump(svc)
            if svc.process.returncode is None:
                left.append(name)
        return left

    async def _end_pump(self, svc: RunningService) -> None:
        """The pump ends at EOF; a grandchild holding the pipe open must not hold us up."""
        if svc.pump is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(svc.pump), 1.0)
        except (TimeoutError, asyncio.CancelledError):
            svc.pump.cancel()
            with contextlib.suppress(BaseException):
                await svc.pump


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
