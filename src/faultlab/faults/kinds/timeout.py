"""The ``timeout`` fault: a black hole on a proxy (Toxiproxy's timeout toxic)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from faultlab.experiment.types import Millis
from faultlab.faults.kinds.toxic import REMOVE_TOXIC, ToxicFault, ToxicSpec, ms
from faultlab.faults.registry import FaultKind

__all__ = ["TIMEOUT"]


class TimeoutSpec(ToxicSpec):
    """Stop all data (a black hole); close the connection ``after`` (0: hold it forever)."""

    toxic_type: ClassVar[str] = "timeout"
    kind: Literal["timeout"]
    after: Millis = Field(default=0.0, description="Time until the connection is closed; "
                          "0 holds it open without data (whole milliseconds).")

    def attributes(self) -> dict[str, int | str]:
        return {"timeout": ms(self.after)}


TIMEOUT = FaultKind("timeout", TimeoutSpec, ToxicFault, (REMOVE_TOXIC,))
