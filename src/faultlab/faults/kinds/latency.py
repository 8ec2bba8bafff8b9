"""The ``latency`` fault: delays data on a proxy (Toxiproxy's latency toxic)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator

from faultlab.experiment.types import Duration
from faultlab.faults.kinds.toxic import REMOVE_TOXIC, ToxicFault, ToxicSpec, whole
from faultlab.faults.registry import FaultKind

__all__ = ["LATENCY"]

MS = 1e-3


class LatencySpec(ToxicSpec):
    """Delay every chunk of data by ``delay`` (plus or minus up to ``jitter``)."""

    toxic_type: ClassVar[str] = "latency"
    kind: Literal["latency"]
    delay: Duration = Field(description="Added delay per chunk (whole milliseconds).")
    jitter: Duration = Field(default=0.0, description="Random spread around the delay "
                             "(whole milliseconds).")

    @field_validator("delay", "jitter")
    @classmethod
    def _ms(cls, v: float) -> float:
        whole(v, MS, "latency", "milliseconds")
        return v

    def attributes(self) -> dict[str, int | str]:
        return {"latency": round(self.delay / MS), "jitter": round(self.jitter / MS)}


LATENCY = FaultKind("latency", LatencySpec, ToxicFault, (REMOVE_TOXIC,))
