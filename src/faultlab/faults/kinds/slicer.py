"""The ``slicer`` fault: cuts data into small delayed pieces (Toxiproxy's slicer)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator

from faultlab.experiment.types import Micros
from faultlab.faults.kinds.toxic import REMOVE_TOXIC, ToxicFault, ToxicSpec
from faultlab.faults.registry import FaultKind

__all__ = ["SLICER"]


class SlicerSpec(ToxicSpec):
    """Cut data into small pieces of about ``average_size`` bytes, ``delay`` apart."""

    toxic_type: ClassVar[str] = "slicer"
    kind: Literal["slicer"]
    average_size: int = Field(ge=1, le=1 << 20, description="Average piece size in bytes.")
    size_variation: int = Field(default=0, ge=0, le=1 << 20, description="Spread of the piece "
                                "size in bytes (below average_size).")
    delay: Micros = Field(default=0.0, description="Gap between pieces (whole "
                          "microseconds).")

    @field_validator("size_variation")
    @classmethod
    def _variation(cls, v: int, info: object) -> int:
        average = getattr(info, "data", {}).get("average_size")
        if average is not None and v >= average:
            raise ValueError("size_variation must be below average_size; e.g. "
                             f"size_variation: {max(average // 2, 0)}")
        return v

    def attributes(self) -> dict[str, int | str]:
        return {"average_size": self.average_size, "size_variation": self.size_variation,
                "delay": round(self.delay / 1e-6)}


SLICER = FaultKind("slicer", SlicerSpec, ToxicFault, (REMOVE_TOXIC,))
