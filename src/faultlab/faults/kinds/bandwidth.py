"""The ``bandwidth`` fault: limits a proxy's throughput (Toxiproxy's bandwidth toxic)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator

from faultlab.experiment.types import ByteRate
from faultlab.faults.kinds.toxic import REMOVE_TOXIC, ToxicFault, ToxicSpec, whole
from faultlab.faults.registry import FaultKind

__all__ = ["BANDWIDTH"]


class BandwidthSpec(ToxicSpec):
    """Limit the throughput to ``rate``."""

    toxic_type: ClassVar[str] = "bandwidth"
    kind: Literal["bandwidth"]
    rate: ByteRate = Field(description="Bytes per second, in whole KB/s (1KB = 1000 bytes), "
                           "at least 1KB/s.")

    @field_validator("rate")
    @classmethod
    def _kb(cls, v: float) -> float:
        if whole(v, 1000, "KB/s", f"{v:g}B/s", "KB/s") < 1:
            raise ValueError("the proxy's smallest bandwidth is 1KB/s; write e.g. 1KB/s")
        return v

    def attributes(self) -> dict[str, int | str]:
        return {"rate": round(self.rate / 1000)}


BANDWIDTH = FaultKind("bandwidth", BandwidthSpec, ToxicFault, (REMOVE_TOXIC,))
