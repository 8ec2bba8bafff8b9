"""This machine as a host: processes through /proc and signals, commands as subprocesses."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

from pydantic import Field

from faultlab.experiment.types import Strict
from faultlab.hosts.base import CommandResult, Host, HostError, HostKind, ProcessGone, ProcessId

__all__ = ["LOCAL", "LocalHost", "LocalHostSpec", "start_time"]


class LocalHostSpec(Strict):
    """The machine faultlab runs on (the implicit host ``local``)."""

    kind: Literal["local"] = Field(default="local", description="This machine.")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    return raw[raw.rindex(")") + 2:].split()


def start_time(pid: int) -> int | None:
    """Start time in clock ticks since boot (field 22 of /proc/pid/stat); None if gone or a
    zombie (a zombie is not a process anyone can act on)."""
    fields = _stat_fields(pid)
    if not fields or fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


class LocalHost(Host):
    kind = "local"

    async def run(self, argv: Sequence[str], *, timeout: float,
                  env: Mapping[str, str] | None = None, cwd: str | None = None
                  ) -> CommandResult:
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, cwd=cwd, env={**os.environ, **(env or {})},
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, start_new_session=True)
        except OSError as e:
            raise HostError(f"cannot run {argv[0]!r}: {e.strerror}") from None
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout)
        except BaseException as e:  # timeout or cancellation: never leave the command running
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(Exception):
                await asyncio.shield(proc.wait())
            if isinstance(e, TimeoutError):
                raise HostError(f"{argv[0]!r} did not finish within {timeout:g}s (killed)"
                                ) from None
            raise
        return CommandResult(proc.returncode if proc.returncode is not None else -1,
                             out.decode(errors="replace"), err.decode(errors="replace"))

    def spawn_detached(self, argv: Sequence[str]) -> ProcessId:
        try:
            proc = subprocess.Popen(list(argv), start_new_session=True,
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
        except OSError as e:
            raise HostError(f"cannot run {argv[0]!r}: {e.strerror}") from None
        started = start_time(proc.pid)
        if started is None:
            raise HostError(f"{argv[0]!r} exited at once")
        # Not waited for: it outlives this process by design; the zombie (if it ends first)
        # is reaped when we exit.
        proc.returncode = 0  # keep Popen.__del__ from warning about a running child
        return ProcessId(proc.pid, started)

    def identify(self, pid: int) -> ProcessId | None:
        started = start_time(pid)
        return ProcessId(pid, started) if started is not None else None

    def signal(self, proc: ProcessId, sig: signal.Signals, *, group: bool = False) -> None:
        if self.identify(proc.pid) != proc:
            raise ProcessGone(f"process {proc.pid} is gone (or its pid was reused)")
        try:
            if group and os.getpgid(proc.pid) == proc.pid:
                os.killpg(proc.pid, sig)
            else:
                os.kill(proc.pid, sig)
        except ProcessLookupError:
            raise ProcessGone(f"process {proc.pid} is gone") from None
        except PermissionError:
            raise HostError(f"not allowed to signal process {proc.pid}") from None

    def find_by_name(self, name: str) -> list[ProcessId]:
        found = []
        me = os.getpid()
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == me:
                continue
            try:
                comm = Path(f"/proc/{entry}/comm").read_text().strip()
                argv0 = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0", 1)[0]
            except OSError:
                continue
            if comm == name or os.path.basename(argv0.decode(errors="replace")) == name:
                ident = self.identify(int(entry))
                if ident is not None:
                    found.append(ident)
        return sorted(found, key=lambda p: p.pid)

    def read_text(self, path: str, limit: int = 1 << 20) -> str:
        try:
            with open(path, "rb") as f:
                return f.read(limit).decode(errors="replace")
        except OSError as e:
            raise HostError(f"cannot read {path}: {e.strerror}") from None
        except ValueError as e:  # NUL in the path
            raise HostError(f"cannot read {path!r}: {e}") from None

    def processes_with_env(self, key: str, value: str) -> list[ProcessId]:
        needle = f"{key}={value}".encode()
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                environ = Path(f"/proc/{entry}/environ").read_bytes()
            except OSError:
                continue
            if needle in environ.split(b"\0"):
                ident = self.identify(int(entry))
                if ident is not None:
                    found.append(ident)
        return sorted(found, key=lambda p: p.pid)


def _build(name: str, spec: LocalHostSpec) -> LocalHost:
    return LocalHost(name)


LOCAL = HostKind("local", LocalHostSpec, _build)
