"""The ``command`` fault: an inject command and a revert command, run on a host.

The way Chaos Toolkit users write an action and its rollback, with faultlab's guarantees:
the revert is journaled (as an undo record) before the inject runs, every command has a
timeout (its process group is killed past it), and the lease is kept by a detached keeper
that runs the revert command by itself if faultlab is gone when the lease lapses. The revert
command should therefore be idempotent (it may run twice: by the keeper and by recover).
"""

from __future__ import annotations

import contextlib
import shlex
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from faultlab.experiment.types import Command, Duration, FilePath
from faultlab.faults.base import Fault, FaultError
from faultlab.faults.registry import FaultKind
from faultlab.faults.spec import FaultSpec
from faultlab.faults.undo import Undo, UndoAction, UndoEnv
from faultlab.hosts import Host, HostError, ProcessId

__all__ = ["COMMAND"]


class CommandSpec(FaultSpec):
    """Run ``inject`` on the target host; run ``revert`` after ``duration`` (and on every
    revert path: SIGINT, abort, recover, the lease keeper)."""

    target_kinds: ClassVar[frozenset[str]] = frozenset({"host"})
    default_target: ClassVar[str | None] = "local"
    exclusive: ClassVar[bool] = False  # commands on one host may overlap
    kind: Literal["command"]
    inject: Command = Field(description="The command that applies the fault (a string split "
                            "like a shell would, or a list).")
    revert: Command | None = Field(default=None, description="The command that puts it back; "
                                   "none for a one-off action.")
    timeout: Duration = Field(default=30.0, description="Time each command may take before "
                              "its process group is killed.")
    cwd: FilePath | None = Field(default=None, description="Working directory of both "
                                 "commands.")

    @property
    def one_off(self) -> bool:
        return self.revert is None

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, v: float) -> float:
        if v <= 0:
            raise ValueError("a command's timeout must be above zero; write e.g. 30s")
        return v


async def _run(host: Host, argv: list[str], timeout: float, cwd: str | None, what: str) -> str:
    try:
        result = await host.run(argv, timeout=timeout, cwd=cwd)
    except HostError as e:
        raise FaultError(f"{what} command: {e}") from None
    if result.returncode != 0:
        raise FaultError(f"{what} command {shlex.join(argv)!r} exited {result.returncode}"
                         + (f": {result.tail()}" if result.tail() else ""))
    return f"ran {what} command {shlex.join(argv)!r}"


class CommandFault(Fault[CommandSpec]):
    async def check(self) -> list[str]:
        import shutil

        for argv in (self.spec.inject, self.spec.revert):
            if argv and self.target.host.kind == "local" and "/" not in argv[0] and (
                    shutil.which(argv[0]) is None):
                raise FaultError(f"command {argv[0]!r} is not on the PATH")
        return [f"command on host {self.target.host.name}"]

    async def prepare(self) -> Undo:
        spec = self.spec
        if spec.revert is None:
            self.undo = Undo("nothing", {"reason": "the command has no revert"})
            return self.undo
        revert = list(spec.revert)
        keeper: ProcessId | None = None
        if spec.duration > 0:
            line = (f"sleep {self.lease:.3f}; exec timeout -s KILL {spec.timeout:.3f} "
                    + shlex.join(revert))
            if spec.cwd:
                line = f"cd {shlex.quote(spec.cwd)} && {line}"
            try:
                keeper = self.target.host.spawn_detached(["sh", "-c", line])
            except HostError as e:
                raise FaultError(f"cannot start the command's lease keeper: {e}") from None
        self.undo = Undo(RUN_COMMAND.name, {
            "argv": revert, "timeout": spec.timeout, "cwd": spec.cwd,
            "keeper": keeper.to_json() if keeper else None}, host=self.target.host.ref())
        return self.undo

    async def inject(self) -> None:
        await _run(self.target.host, list(self.spec.inject), self.spec.timeout, self.spec.cwd,
                   "inject")


async def _revert(p: dict[str, Any], env: UndoEnv) -> str:
    argv = p.get("argv")
    if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
        raise FaultError("the undo record's command is damaged")
    done = await _run(env.host, argv, float(p.get("timeout", 30.0)), p.get("cwd"), "revert")
    # Only now: if the revert failed, the keeper still runs it again when the lease ends.
    if p.get("keeper"):
        with contextlib.suppress(ValueError):  # a damaged record: no keeper to stop
            await env.host.end(ProcessId.from_json(p["keeper"]))
    return done


RUN_COMMAND = UndoAction("run_command", _revert)
COMMAND = FaultKind("command", CommandSpec, CommandFault, (RUN_COMMAND,))
