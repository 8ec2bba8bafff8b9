"""The fault protocol and what faults may use while they run."""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import msgspec

from faultlab.errors import FaultlabError
from faultlab.faults.spec import FaultSpec
from faultlab.faults.undo import Undo, execute_undo

if TYPE_CHECKING:
    from faultlab.experiment.model import Target
    from faultlab.hosts import Host
    from faultlab.system import Services

__all__ = ["BoundTarget", "Fault", "FaultContext", "FaultError", "NotApplied", "ProxyEndpoint"]


class FaultError(FaultlabError):
    """A fault could not be applied or reverted; the message says why, for people."""


class NotApplied(FaultError):
    """The inject certainly changed nothing (e.g. no connection to the proxy server was
    made): there is nothing to revert."""


class ProxyEndpoint(msgspec.Struct, frozen=True):
    """Where a proxy target's faults are set: the control API and the proxy's name there."""

    api_url: str
    proxy: str
    owned: bool  # the proxy server is faultlab's own (started for this run)
    instance: str | None = None  # the server's instance id, checked before any undo
    token: str | None = None  # API token of an external server


class BoundTarget(msgspec.Struct, frozen=True):
    """A target as a fault sees it: its name, its spec, and the host it lives on."""

    name: str
    spec: Target
    host: Host


class FaultContext(msgspec.Struct):
    targets: dict[str, BoundTarget]
    services: Services | None
    proxies: dict[str, ProxyEndpoint]  # by target name
    revert_timeout: float
    lease_grace: float
    rng: random.Random
    extra: dict[str, Any] = msgspec.field(default_factory=dict)  # for plug-ins


S = TypeVar("S", bound=FaultSpec)


class Fault(ABC, Generic[S]):
    """A reversible perturbation of one or more targets.

    Lifecycle: ``prepare()`` resolves the targets and returns the undo record, which the
    runner journals durably; then ``inject()``; later ``revert()``, which must be idempotent
    (safe to call twice, after a failed inject, or never injected). ``lease`` is how long
    the fault may stay applied if nobody reverts it: the proxy server or a keeper process
    reverts it by itself after that.
    """

    #: whether prepare() may be called in a dry run (it must then touch nothing)
    dry_run_safe: ClassVar[bool] = True

    def __init__(self, spec: S, ctx: FaultContext) -> None:
        self.spec = spec
        self.ctx = ctx
        self.targets = [ctx.targets[name] for name in spec.target_names]
        self.undo: Undo | None = None

    @property
    def target(self) -> BoundTarget:
        if not self.targets:
            raise FaultError(f"fault '{self.name}' has no target")
        return self.targets[0]

    @property
    def name(self) -> str:
        return self.spec.label

    @property
    def lease(self) -> float:
        return self.spec.duration + self.ctx.lease_grace

    async def check(self) -> list[str]:
        """For a dry run: what this fault would act on, touching nothing; raises FaultError
        when a target does not resolve."""
        return [f"{t.name} on host {t.host.name}" for t in self.targets]

    @abstractmethod
    async def prepare(self) -> Undo: ...

    @abstractmethod
    async def inject(self) -> None: ...

    async def revert(self) -> None:
        if self.undo is not None:
            await execute_undo(self.undo, self.ctx.revert_timeout, services=self.ctx.services)

    def applied(self) -> str:
        """After prepare(): what exactly it acts on, for people, when the spec does not say
        it alone (a partition's cut drawn from the seed, the processes a name matched)."""
        return ""

    async def close(self) -> None:
        """Release what the fault holds after its revert (a keeper process, a connection)."""
