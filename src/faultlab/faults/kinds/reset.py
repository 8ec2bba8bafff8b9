"""The ``reset`` fault: resets connections (TCP RST) as Toxiproxy's reset_peer."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from faultlab.experiment.types import Millis
from faultlab.faults.kinds.toxic import REMOVE_TOXIC, ToxicFault, ToxicSpec, ms
from faultlab.faults.registry import FaultKind

__all__ = ["RESET"]


class ResetSpec(ToxicSpec):
    """Reset the connection (TCP RST) ``after`` its first data, as Toxiproxy's reset_peer."""

    toxic_type: ClassVar[str] = "reset_peer"
    kind: Literal["reset"]
    after: Millis = Field(default=0.0, description="Time from the first data to the reset "
                          "(whole milliseconds).")

    def attributes(self) -> dict[str, int | str]:
        return {"timeout": ms(self.after)}


RESET = FaultKind("reset", ResetSpec, ToxicFault, (REMOVE_TOXIC,))
