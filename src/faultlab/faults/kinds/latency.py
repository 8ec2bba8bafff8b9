"""The ``latency`` fault: delays data on a proxy (Toxiproxy's latency toxic)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from faultlab.experiment.types import Millis
from faultlab.faults.kinds.toxic import REMOVE_TOXIC, ToxicFault, ToxicSpec, ms
from faultlab.faults.registry import FaultKind

__all__ = ["LATENCY"]


class LatencySpec(ToxicSpec):
    """Delay every chunk of data by ``delay`` (plus or minus up to ``jitter``)."""

    toxic_type: ClassVar[str] = "latency"
    kind: Literal["latency"]
    delay: Millis = Field(description="Added delay per chunk (whole milliseconds).")
    jitter: Millis = Field(default=0.0, description="Random spread around the delay "
                             "(whole milliseconds).")

    def attributes(self) -> dict[str, int | str]:
        return {"latency": ms(self.delay), "jitter": ms(self.jitter)}


LATENCY = FaultKind("latency", LatencySpec, ToxicFault, (REMOVE_TOXIC,))
