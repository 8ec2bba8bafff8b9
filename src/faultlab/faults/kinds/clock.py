"""Clock faults (``clock_skew``, ``clock_bump``, ``clock_strobe``) on services faultlab
starts, through libfaketime (see :mod:`faultlab.faketime` and docs/clock.md).

A service a clock fault targets is started with libfaketime preloaded and a control file of
its own; a fault rewrites that file. Every kind starts a detached keeper in ``prepare()``
(before its undo record is journaled): ``hold`` resets the file to +0 when the lease lapses,
``strobe`` flips it until then and resets it; both work when faultlab is gone. The revert
(runner, signal, ``faultlab recover``) ends the keeper by identity, then writes +0: it may
run twice.

The control file is written by this process, not through the target's host: services are
always started on this machine (see :mod:`faultlab.system`), and so is their file.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from faultlab.experiment.types import Duration, SignedDuration
from faultlab.faketime import FaketimeError, find_library, keeper_argv, offset_text, write_offset
from faultlab.faults.base import FaultError
from faultlab.faults.kinds.process import ProcessFault, ProcessSpec
from faultlab.faults.registry import FaultKind
from faultlab.faults.undo import Undo, UndoAction, UndoEnv
from faultlab.hosts import HostError, ProcessId
from faultlab.units import format_duration

__all__ = ["CLOCK_BUMP", "CLOCK_SKEW", "CLOCK_STROBE"]

#: libfaketime re-reads a control file once per second of the real clock (see faketime.py)
MIN_PERIOD = 1.0


def _exact_offset(value: float, what: str) -> float:
    if value == 0:
        raise ValueError(f"a {what} of 0 changes no clock; write e.g. -30s or +2m")
    try:
        offset_text(value)
    except FaketimeError as e:
        raise ValueError(str(e)) from None
    return value


class ClockSpec(ProcessSpec):
    #: the targeted services are started under libfaketime (the runner asks the spec)
    needs_faketime: ClassVar[bool] = True
    needs_service: ClassVar[str | None] = (
        "target a process with `service:`: only a service faultlab starts runs under "
        "libfaketime")

    def shift(self) -> float:
        """The clock's offset while the fault is applied (a strobe's every other period)."""
        raise NotImplementedError


class ClockSkewSpec(ClockSpec):
    """Run a service's wall clock ``offset`` ahead (+) or behind (-) for ``duration``."""

    kind: Literal["clock_skew"]
    offset: SignedDuration = Field(description="How far the service's clock is off, e.g. "
                                   "-30s (behind) or +2m (ahead).")

    @field_validator("offset")
    @classmethod
    def _offset(cls, v: float) -> float:
        return _exact_offset(v, "clock offset")

    def shift(self) -> float:
        return self.offset


class ClockBumpSpec(ClockSpec):
    """Jepsen's bump: the service's clock jumps by ``delta`` and stays jumped for
    ``duration``, then jumps back."""

    kind: Literal["clock_bump"]
    delta: SignedDuration = Field(description="The jump, e.g. +5m or -10s.")

    @field_validator("delta")
    @classmethod
    def _delta(cls, v: float) -> float:
        return _exact_offset(v, "clock bump")

    def shift(self) -> float:
        return self.delta


class ClockStrobeSpec(ClockSpec):
    """Jepsen's strobe: the service's clock flips between +0 and ``delta`` every ``period``
    for ``duration``."""

    kind: Literal["clock_strobe"]
    delta: SignedDuration = Field(description="The offset of every other period, e.g. +1h.")
    period: Duration = Field(description="How long each state lasts; 1s or more (the "
                             "service re-reads its clock's control file once a second).")

    @field_validator("delta")
    @classmethod
    def _delta(cls, v: float) -> float:
        return _exact_offset(v, "clock strobe delta")

    @field_validator("period")
    @classmethod
    def _period(cls, v: float) -> float:
        if v < MIN_PERIOD:
            raise ValueError(f"a strobe period of {format_duration(v)} is below 1s: a service "
                             "under libfaketime re-reads its clock once a second and would "
                             "miss flips; write period: 1s or more")
        return v

    def shift(self) -> float:
        return self.delta


class ClockFault(ProcessFault):
    """The common part: find the service's control file, start the keeper, write offsets."""

    def service(self) -> str:
        proc = self.target.spec.process
        if proc is None or proc.service is None:
            raise FaultError(f"a {self.spec.kind} fault needs a service faultlab starts "
                             f"(target '{self.target.name}' names a running process): "
                             "libfaketime is preloaded into a service when it starts; "
                             "target a process with `service:`")
        return proc.service

    def control(self) -> Path:
        name = self.service()
        services = self.ctx.services
        path = services.clock_file(name) if services is not None else None
        if path is None:
            raise FaultError(f"service '{name}' was not started under libfaketime")
        return path

    async def check(self) -> list[str]:
        name = self.service()
        try:
            find_library()
        except FaketimeError as e:
            raise FaultError(str(e)) from None
        return [f"{self.target.name}: the clock of service '{name}' (started under "
                f"libfaketime), offset {offset_text(self.spec.shift())}"]

    def _keeper(self, path: Path) -> list[str]:
        return keeper_argv(path, self.lease)

    async def prepare(self) -> Undo:
        path = self.control()
        self.resolve()  # the service runs
        try:
            keeper = self.target.host.spawn_detached(self._keeper(path))
        except HostError as e:
            raise FaultError(f"cannot start the clock's lease keeper: {e}") from None
        self.undo = Undo(RESET_CLOCK.name, {"file": str(path), "keeper": keeper.to_json()},
                         host=self.target.host.ref())
        return self.undo

    async def inject(self) -> None:
        assert self.undo is not None
        try:
            write_offset(Path(self.undo.params["file"]), offset_text(self.spec.shift()))
        except OSError as e:
            raise FaultError(f"cannot write the clock's control file: {e}") from None


class ClockStrobeFault(ClockFault):
    def _keeper(self, path: Path) -> list[str]:
        return keeper_argv(path, self.lease, offset_text(self.spec.shift()),
                           self.spec.period)


async def _reset(p: dict[str, Any], env: UndoEnv) -> str:
    # The keeper first: a strobe must not flip the clock again after the reset.
    if p.get("keeper"):
        with contextlib.suppress(ValueError):  # a damaged record: no keeper to stop
            if not await env.host.end(ProcessId.from_json(p["keeper"])):
                raise FaultError("the clock's keeper did not stop")
    file = p.get("file")
    if not isinstance(file, str) or not file:
        raise FaultError("the undo record's control file is damaged")
    path = Path(file)
    if not path.parent.is_dir():
        return f"clock control file {path} is gone (nothing reads it)"
    write_offset(path, "+0")
    return f"reset the clock of {path.stem} to +0"


RESET_CLOCK = UndoAction("reset_clock", _reset)
CLOCK_SKEW = FaultKind("clock_skew", ClockSkewSpec, ClockFault, (RESET_CLOCK,))
CLOCK_BUMP = FaultKind("clock_bump", ClockBumpSpec, ClockFault, (RESET_CLOCK,))
CLOCK_STROBE = FaultKind("clock_strobe", ClockStrobeSpec, ClockStrobeFault, (RESET_CLOCK,))
