"""The ``connect_delay`` fault: holds new connections before dialling the upstream."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator

from faultlab.experiment.types import Duration
from faultlab.faults.kinds.toxic import REMOVE_TOXIC, ToxicFault, ToxicSpec, whole
from faultlab.faults.registry import FaultKind

__all__ = ["CONNECT_DELAY"]

MS = 1e-3


class ConnectDelaySpec(ToxicSpec):
    """Accept new connections but hold them ``delay`` before dialling the upstream."""

    toxic_type: ClassVar[str] = "connect_delay"
    kind: Literal["connect_delay"]
    delay: Duration = Field(description="Time a new connection waits (whole milliseconds).")

    @field_validator("delay")
    @classmethod
    def _ms(cls, v: float) -> float:
        whole(v, MS, "connect_delay", "milliseconds")
        return v

    def attributes(self) -> dict[str, int | str]:
        return {"delay": round(self.delay / MS)}


CONNECT_DELAY = FaultKind("connect_delay", ConnectDelaySpec, ToxicFault, (REMOVE_TOXIC,))
