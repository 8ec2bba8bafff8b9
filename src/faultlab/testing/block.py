"""A fault applied for the extent of a ``with`` (or ``async with``) block, and always reverted.

Invariants, in the order the block lives them:

- The fault's undo record exists before it is injected (``prepare()`` makes it), so
  whatever stops the block after that point, the revert knows what to undo.
- Leaving the block reverts the fault: normally, when the block raises, when it is
  cancelled (``async with``) and when the test is interrupted (KeyboardInterrupt, a timeout
  alarm). Applying stops at once when interrupted; reverting does not: it is shielded and
  runs to its end, bounded by ``revert_timeout``; the interruption is raised again after.
- A revert that fails raises :class:`RevertFailed`, whatever else is propagating. The lease
  is the last safety net: the proxy server (a toxic's ttl) or a keeper process reverts the
  fault by itself when it ends, also if the test process was killed.
- A block is used once. The fixture reverts a block still active when its test ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import time
import warnings
from typing import TYPE_CHECKING, Any

from faultlab.faults.base import FaultError

if TYPE_CHECKING:
    from types import TracebackType

    from faultlab.faults import Fault, FaultSpec
    from faultlab.testing.loop import LoopThread
    from faultlab.testing.spec import ResolvedFault, TargetLike

__all__ = ["FaultBlock", "FaultFactory", "RevertFailed"]


class RevertFailed(FaultError):
    """A fault could not be reverted: it may still be active, until its lease ends."""


class _State(enum.Enum):
    NEW = "new"
    ENTERED = "entered"
    DONE = "done"


def _seconds(value: float) -> str:
    from faultlab.experiment.types import dump_duration

    return dump_duration(value)


class FaultBlock:
    """One fault, applied on entering the block and reverted on leaving it.

    ``spec`` is the validated fault (units parsed); ``fault`` the applied
    :class:`~faultlab.faults.Fault` once entered (its ``undo`` record included)."""

    def __init__(self, resolved: ResolvedFault, loop: LoopThread, lease: float) -> None:
        self.spec: FaultSpec = resolved.spec
        self.lease = lease
        self.fault: Fault[Any] | None = None
        self._resolved = resolved
        self._loop = loop
        self._state = _State.NEW
        self._injecting_since: float | None = None

    def __repr__(self) -> str:
        return f"<FaultBlock {self.name} ({self._state.value})>"

    @property
    def name(self) -> str:
        return self.spec.label

    @property
    def active(self) -> bool:
        """Entered and not yet reverted."""
        return self._state is _State.ENTERED

    # --- the two ways to use it -------------------------------------------------------------

    def __enter__(self) -> FaultBlock:
        self._begin()
        try:
            self._loop.run(self._apply(), cancel_on_interrupt=True)
        except BaseException:
            self.revert()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.revert()

    async def __aenter__(self) -> FaultBlock:
        self._begin()
        try:
            await self._apply()
        except BaseException:
            await self.arevert()
            raise
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.arevert()

    # --- revert ------------------------------------------------------------------------------

    def revert(self) -> None:
        """Revert now (idempotent), from synchronous code; shielded from interruptions."""
        if self._state is not _State.DONE:
            self._loop.run(self._revert(), cancel_on_interrupt=False)

    async def arevert(self) -> None:
        """Revert now (idempotent), in the running loop; cancelling the caller does not
        stop the revert: it runs to its end, then the cancellation is raised."""
        if self._state is _State.DONE:
            return
        task = asyncio.get_running_loop().create_task(self._revert())
        cancelled: asyncio.CancelledError | None = None
        while not task.done():
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError as e:
                if not task.done():
                    cancelled = e
            except BaseException:
                if not task.done():
                    raise
                break  # the revert's own error, raised below
        if task.cancelled():
            raise asyncio.CancelledError()
        error = task.exception()
        if error is not None:
            raise error
        if cancelled is not None:
            raise cancelled

    # --- the lifecycle -----------------------------------------------------------------------

    def _begin(self) -> None:
        if self._state is not _State.NEW:
            raise RuntimeError(f"fault block {self.name!r} is used once; ask faultlab_fault "
                               "for another")
        self._state = _State.ENTERED

    async def _apply(self) -> None:
        from faultlab.faults import build_fault

        fault = build_fault(self.spec, self._resolved.ctx)
        self.fault = fault
        try:
            await fault.prepare()
            self._injecting_since = time.monotonic()
            await fault.inject()
        except Exception as e:
            raise FaultError(f"fault '{self.name}' could not be applied: {e}") from e

    async def _revert(self) -> None:
        if self._state is _State.DONE:
            return
        self._state = _State.DONE
        self._warn_if_lease_lapsed()
        fault, timeout = self.fault, self._resolved.ctx.revert_timeout
        try:
            if fault is not None:
                try:
                    await asyncio.wait_for(fault.revert(), timeout)
                except Exception as e:
                    cause = (f"no answer within the revert timeout ({_seconds(timeout)})"
                             if isinstance(e, TimeoutError) else str(e) or type(e).__name__)
                    raise RevertFailed(
                        f"REVERT FAILED for fault '{self.name}': {cause}; the fault may "
                        f"still be active (its lease, {_seconds(self.lease)} from its "
                        "injection, is the last safety net)") from e
                finally:
                    with contextlib.suppress(Exception):
                        await fault.close()
        finally:
            self._resolved.cleanup()

    def _warn_if_lease_lapsed(self) -> None:
        since = self._injecting_since
        if since is None or self.spec.one_off or time.monotonic() - since < self.lease:
            return
        warnings.warn(f"fault '{self.name}' was active longer than its lease "
                      f"({_seconds(self.lease)}): the proxy server or its keeper may have "
                      "reverted it before the block ended (hint: pass a longer lease=)",
                      UserWarning, stacklevel=4)


def _duration(kind: str, what: str, value: str) -> float:
    __tracebackhide__ = True
    from faultlab.testing.spec import FaultSpecError
    from faultlab.units import parse_duration

    try:
        seconds = parse_duration(value)
    except ValueError as e:
        raise FaultSpecError(kind, [f"{what}: {e}"]) from None
    if seconds <= 0:
        raise FaultSpecError(kind, [f"{what}: must be above zero, e.g. 30s"])
    return seconds


class FaultFactory:
    """``faultlab_fault(kind, target, **params)``: a :class:`FaultBlock` for one test.

    ``params`` are the kind's parameters as in an experiment file's fault entry (``delay=
    "200ms"``, ``inject="touch /tmp/x"``); ``lease`` is how long the fault may outlive a
    test process that died without reverting it; ``revert_timeout`` bounds the revert."""

    def __init__(self, loop: LoopThread) -> None:
        self._loop = loop
        self._blocks: list[FaultBlock] = []

    def __call__(self, kind: str, target: TargetLike = None, *, lease: str = "60s",
                 revert_timeout: str = "5s", **params: object) -> FaultBlock:
        __tracebackhide__ = True
        from faultlab.testing.spec import resolve_fault

        seconds = _duration(kind, "lease", lease)
        resolved = resolve_fault(kind, target, params, lease=seconds,
                                 revert_timeout=_duration(kind, "revert_timeout",
                                                          revert_timeout))
        block = FaultBlock(resolved, self._loop, seconds)
        self._blocks.append(block)
        return block

    def close(self) -> list[str]:
        """Revert what is still active (a block entered and never left); returns the
        names of those faults. Every one is tried; the first failure is raised after."""
        left = [b.name for b in self._blocks if b.active]
        first: BaseException | None = None
        for block in self._blocks:
            try:
                block.revert()
            except Exception as e:
                first = first or e
        self._blocks.clear()
        if first is not None:
            raise first
        return left
