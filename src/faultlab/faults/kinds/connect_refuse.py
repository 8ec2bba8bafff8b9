"""The ``connect_refuse`` fault: resets new connections at once."""

from __future__ import annotations

from typing import ClassVar, Literal

from faultlab.faults.kinds.toxic import REMOVE_TOXIC, ToxicFault, ToxicSpec
from faultlab.faults.registry import FaultKind

__all__ = ["CONNECT_REFUSE"]


class ConnectRefuseSpec(ToxicSpec):
    """Reset new connections at once (open ones keep flowing)."""

    toxic_type: ClassVar[str] = "connect_refuse"
    kind: Literal["connect_refuse"]


CONNECT_REFUSE = FaultKind("connect_refuse", ConnectRefuseSpec, ToxicFault, (REMOVE_TOXIC,))
