"""The ``slow_close`` fault: delays the close of connections (Toxiproxy's slow_close)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator

from faultlab.experiment.types import Duration
from faultlab.faults.kinds.toxic import REMOVE_TOXIC, ToxicFault, ToxicSpec, whole
from faultlab.faults.registry import FaultKind

__all__ = ["SLOW_CLOSE"]

MS = 1e-3


class SlowCloseSpec(ToxicSpec):
    """Delay the close of the connection by ``delay``."""

    toxic_type: ClassVar[str] = "slow_close"
    kind: Literal["slow_close"]
    delay: Duration = Field(description="Time the close is held back (whole milliseconds).")

    @field_validator("delay")
    @classmethod
    def _ms(cls, v: float) -> float:
        whole(v, MS, "slow_close", "milliseconds")
        return v

    def attributes(self) -> dict[str, int | str]:
        return {"delay": round(self.delay / MS)}


SLOW_CLOSE = FaultKind("slow_close", SlowCloseSpec, ToxicFault, (REMOVE_TOXIC,))
