"""Faults: reversible perturbations with inject / revert, an undo record and a lease.

Fault kinds are plug-ins (:mod:`.registry`): a spec model, a :class:`Fault` class and the
undo actions it journals. The runner, the lease keepers and ``faultlab recover`` all revert
through :func:`execute_undo`.
"""

from faultlab.faults.base import BoundTarget, Fault, FaultContext, FaultError, ProxyEndpoint
from faultlab.faults.registry import FAULT_KINDS, FaultKind
from faultlab.faults.spec import FaultSpec
from faultlab.faults.undo import Undo, UndoAction, UndoEnv, UndoError, execute_undo

__all__ = ["FAULT_KINDS", "BoundTarget", "Fault", "FaultContext", "FaultError", "FaultKind",
           "FaultSpec", "ProxyEndpoint", "Undo", "UndoAction", "UndoEnv", "UndoError",
           "build_fault", "execute_undo"]


def build_fault(spec: FaultSpec, ctx: FaultContext) -> Fault:  # type: ignore[type-arg]
    kind = FAULT_KINDS[spec.kind]
    fault = kind.fault(spec, ctx)
    assert isinstance(fault, Fault)
    return fault
