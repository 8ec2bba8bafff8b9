"""The host interface: every process, file and network operation a fault, its undo and
``faultlab recover`` perform goes through a :class:`Host`.

A host is where a target lives: this machine today (:mod:`.local`); network-namespace lab
hosts and SSH hosts implement the same interface. A host knows how to describe itself as a
JSON *reference* (``{"kind": "local", "name": "local"}``); undo records carry that reference,
so recovery after a crash rebuilds the host and replays the undo where it belongs.

Identity: a pid alone is not a process (pids are reused). Processes are named by
:class:`ProcessId` (pid + start time); a host signals a process only if both still match,
and refuses to signal one whose start time it does not know.
"""

from __future__ import annotations

import signal
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import msgspec
from pydantic import BaseModel

__all__ = ["CommandResult", "Host", "HostError", "HostKind", "ProcessGone", "ProcessId"]


class HostError(Exception):
    """A host operation failed (the host is unreachable, a command cannot start)."""


class ProcessGone(HostError):
    """The process no longer exists, or its pid now belongs to another process."""


class ProcessId(msgspec.Struct, frozen=True):
    """A process as an identity: its pid and its start time (clock ticks since boot)."""

    pid: int
    started: int

    def to_json(self) -> list[int]:
        return [self.pid, self.started]

    @classmethod
    def from_json(cls, value: Any) -> ProcessId:
        """From ``[pid, started]``; raises ValueError for anything else (incl. no start time)."""
        if (not isinstance(value, list | tuple) or len(value) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0
                           for v in value)):
            raise ValueError(f"not a process identity [pid, start time]: {value!r}")
        return cls(int(value[0]), int(value[1]))


class CommandResult(msgspec.Struct, frozen=True):
    returncode: int
    stdout: str
    stderr: str

    def tail(self, limit: int = 300) -> str:
        """The end of stderr (or stdout), on one line, for error messages."""
        text = (self.stderr.strip() or self.stdout.strip()).replace("\n", " | ")
        return text[-limit:]


class Host(ABC):
    """Where targets live. Implementations are cheap to build; they hold no connection that
    outlives :meth:`close`."""

    kind: ClassVar[str]

    def __init__(self, name: str) -> None:
        self.name = name

    def ref(self) -> dict[str, Any]:
        """A JSON reference from which :func:`faultlab.hosts.host_from_ref` rebuilds this host."""
        return {"kind": self.kind, "name": self.name}

    # --- commands and processes ----------------------------------------------------------

    def exec_argv(self, argv: Sequence[str]) -> list[str]:
        """The command that, run on this machine, runs ``argv`` on this host (services)."""
        return list(argv)

    def exec_env(self) -> dict[str, str]:
        """Environment every process started on this host gets (a lab's name map)."""
        return {}

    @abstractmethod
    async def run(self, argv: Sequence[str], *, timeout: float,
                  env: Mapping[str, str] | None = None, cwd: str | None = None
                  ) -> CommandResult:
        """Run a command to completion; on timeout kill its process group and raise HostError."""

    @abstractmethod
    def spawn_detached(self, argv: Sequence[str]) -> ProcessId:
        """Start a process in its own session that outlives faultlab (lease keepers)."""

    @abstractmethod
    def identify(self, pid: int) -> ProcessId | None:
        """The identity of the process now running as ``pid``, None if there is none."""

    @abstractmethod
    def signal(self, proc: ProcessId, sig: signal.Signals, *, group: bool = False) -> None:
        """Signal ``proc`` (its whole process group with ``group``) if it is still the same
        process; raises ProcessGone otherwise."""

    @abstractmethod
    def find_by_name(self, name: str) -> list[ProcessId]:
        """Processes whose command name or argv[0] basename is ``name``."""

    @abstractmethod
    def read_text(self, path: str, limit: int = 1 << 20) -> str:
        """A small text file on the host (pid files); raises HostError."""

    @abstractmethod
    def processes_with_env(self, key: str, value: str) -> list[ProcessId]:
        """Processes whose environment holds ``key=value`` (faultlab marks what it starts)."""

    def is_alive(self, proc: ProcessId) -> bool:
        return self.identify(proc.pid) == proc

    async def end(self, proc: ProcessId, *, group: bool = True, timeout: float = 2.0) -> bool:
        """SIGKILL ``proc`` (its process group) and wait until it is gone (a signal is
        delivered asynchronously: "reverted" must mean the process no longer runs). Returns
        False if it still ran after ``timeout``; a process already gone is fine."""
        import asyncio

        try:
            self.signal(proc, signal.SIGKILL, group=group)
        except ProcessGone:
            return True
        deadline = asyncio.get_running_loop().time() + timeout
        while self.is_alive(proc):
            if asyncio.get_running_loop().time() >= deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    async def close(self) -> None:  # noqa: B027 - most hosts hold nothing
        """Release connections (none for the local host)."""


class HostKind(msgspec.Struct, frozen=True):
    """A registered host kind: its spec model (the ``hosts:`` entry) and how to build it."""

    name: str
    spec: type[BaseModel]
    build: Any  # Callable[[str, spec], Host]; Any so that each kind keeps its own spec type

    def host(self, name: str, spec: BaseModel) -> Host:
        host = self.build(name, spec)
        assert isinstance(host, Host)
        return host
