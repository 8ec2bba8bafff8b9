"""The ``connect_delay`` fault: holds new connections before dialling the upstream."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from faultlab.experiment.types import Millis
from faultlab.faults.kinds.toxic import REMOVE_TOXIC, ToxicFault, ToxicSpec, ms
from faultlab.faults.registry import FaultKind

__all__ = ["CONNECT_DELAY"]


class ConnectDelaySpec(ToxicSpec):
    """Accept new connections but hold them ``delay`` before dialling the upstream."""

    toxic_type: ClassVar[str] = "connect_delay"
    kind: Literal["connect_delay"]
    delay: Millis = Field(description="Time a new connection waits (whole milliseconds).")

    def attributes(self) -> dict[str, int | str]:
        return {"delay": ms(self.delay)}


CONNECT_DELAY = FaultKind("connect_delay", ConnectDelaySpec, ToxicFault, (REMOVE_TOXIC,))
