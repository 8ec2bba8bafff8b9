"""The ``slow_close`` fault: delays the close of connections (Toxiproxy's slow_close)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from faultlab.experiment.types import Millis
from faultlab.faults.kinds.toxic import REMOVE_TOXIC, ToxicFault, ToxicSpec, ms
from faultlab.faults.registry import FaultKind

__all__ = ["SLOW_CLOSE"]


class SlowCloseSpec(ToxicSpec):
    """Delay the close of the connection by ``delay``."""

    toxic_type: ClassVar[str] = "slow_close"
    kind: Literal["slow_close"]
    delay: Millis = Field(description="Time the close is held back (whole milliseconds).")

    def attributes(self) -> dict[str, int | str]:
        return {"delay": ms(self.delay)}


SLOW_CLOSE = FaultKind("slow_close", SlowCloseSpec, ToxicFault, (REMOVE_TOXIC,))
