"""The ``reset`` fault: resets connections (TCP RST) as Toxiproxy's reset_peer."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator

from faultlab.experiment.types import Duration
from faultlab.faults.kinds.toxic import REMOVE_TOXIC, ToxicFault, ToxicSpec, whole
from faultlab.faults.registry import FaultKind

__all__ = ["RESET"]

MS = 1e-3


class ResetSpec(ToxicSpec):
    """Reset the connection (TCP RST) ``after`` its first data, as Toxiproxy's reset_peer."""

    toxic_type: ClassVar[str] = "reset_peer"
    kind: Literal["reset"]
    after: Duration = Field(default=0.0, description="Time from the first data to the reset "
                            "(whole milliseconds).")

    @field_validator("after")
    @classmethod
    def _ms(cls, v: float) -> float:
        whole(v, MS, "reset", "milliseconds")
        return v

    def attributes(self) -> dict[str, int | str]:
        return {"timeout": round(self.after / MS)}


RESET = FaultKind("reset", ResetSpec, ToxicFault, (REMOVE_TOXIC,))
