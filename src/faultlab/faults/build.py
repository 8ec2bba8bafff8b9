"""From a fault's spec to the object that applies it."""

from __future__ import annotations

from faultlab.experiment.model import (
    BandwidthFault,
    DownFault,
    FaultSpec,
    KillFault,
    LatencyFault,
    PauseFault,
    ResetFault,
    RestartFault,
    Target,
)
from faultlab.faults.base import Fault, FaultContext
from faultlab.faults.network import DownProxyFault, ToxicFault
from faultlab.faults.process import KillProcessFault, PauseProcessFault, RestartServiceFault

__all__ = ["build_fault"]

_CLASSES: dict[type, type[Fault]] = {
    LatencyFault: ToxicFault,
    BandwidthFault: ToxicFault,
    ResetFault: ToxicFault,
    DownFault: DownProxyFault,
    KillFault: KillProcessFault,
    PauseFault: PauseProcessFault,
    RestartFault: RestartServiceFault,
}


def build_fault(spec: FaultSpec, target: Target, ctx: FaultContext) -> Fault:
    return _CLASSES[type(spec)](spec, target, ctx)
