"""The fault protocol and what faults may use while they run."""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING

from faultlab.experiment.model import FaultSpec, Target
from faultlab.faults.undo import Undo

if TYPE_CHECKING:
    from faultlab.system import Services

__all__ = ["Fault", "FaultContext", "FaultError", "ProxyEndpoint"]


class FaultError(Exception):
    """A fault could not be applied or reverted; the message says why, for people."""


@dataclass(frozen=True)
class ProxyEndpoint:
    """Where a proxy target's faults are set: the control API and the proxy's name there."""

    api_url: str
    proxy: str
    owned: bool  # the proxy server is faultlab's own (started for this run)


@dataclass
class FaultContext:
    services: Services | None
    proxies: dict[str, ProxyEndpoint]  # by target name
    revert_timeout: float
    lease_grace: float
    rng: random.Random


class Fault(ABC):
    """A reversible perturbation of one target.

    Lifecycle: ``prepare()`` resolves the target and returns the undo record, which the
    runner journals durably; then ``inject()``; later ``revert()``, which must be idempotent
    (safe to call twice, after a failed inject, or never injected). ``lease`` is how long
    the fault may stay applied if nobody reverts it: the proxy server or a keeper process
    reverts it by itself after that.
    """

    def __init__(self, spec: FaultSpec, target: Target, ctx: FaultContext) -> None:
        self.spec = spec
        self.target = target
        self.ctx = ctx
        self.undo: Undo | None = None

    @property
    def name(self) -> str:
        return self.spec.label

    @property
    def lease(self) -> float:
        return self.spec.duration + self.ctx.lease_grace

    @abstractmethod
    async def prepare(self) -> Undo: ...

    @abstractmethod
    async def inject(self) -> None: ...

    async def revert(self) -> None:
        from faultlab.faults.undo import execute_undo

        if self.undo is not None:
            await execute_undo(self.undo, self.ctx.services, self.ctx.revert_timeout)

    def describe(self) -> dict[str, object]:
        """The fault's parameters for journals and reports (units as in the file)."""
        return self.spec.model_dump(mode="json", exclude_none=True)
