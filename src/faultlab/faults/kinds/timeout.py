"""The ``timeout`` fault: a black hole on a proxy (Toxiproxy's timeout toxic)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator

from faultlab.experiment.types import Duration
from faultlab.faults.kinds.toxic import REMOVE_TOXIC, ToxicFault, ToxicSpec, whole
from faultlab.faults.registry import FaultKind

__all__ = ["TIMEOUT"]

MS = 1e-3


class TimeoutSpec(ToxicSpec):
    """Stop all data (a black hole); close the connection ``after`` (0: hold it forever)."""

    toxic_type: ClassVar[str] = "timeout"
    kind: Literal["timeout"]
    after: Duration = Field(default=0.0, description="Time until the connection is closed; "
                            "0 holds it open without data (whole milliseconds).")

    @field_validator("after")
    @classmethod
    def _ms(cls, v: float) -> float:
        whole(v, MS, "timeout", "milliseconds")
        return v

    def attributes(self) -> dict[str, int | str]:
        return {"timeout": round(self.after / MS)}


TIMEOUT = FaultKind("timeout", TimeoutSpec, ToxicFault, (REMOVE_TOXIC,))
