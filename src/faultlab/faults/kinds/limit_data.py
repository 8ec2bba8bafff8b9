"""The ``limit_data`` fault: closes connections after some bytes (Toxiproxy's limit_data)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from faultlab.faults.kinds.toxic import REMOVE_TOXIC, ToxicFault, ToxicSpec
from faultlab.faults.registry import FaultKind

__all__ = ["LIMIT_DATA"]


class LimitDataSpec(ToxicSpec):
    """Close the connection once ``bytes`` bytes have passed."""

    toxic_type: ClassVar[str] = "limit_data"
    kind: Literal["limit_data"]
    bytes: int = Field(ge=1, le=10**15, description="Bytes let through before the close.")

    def attributes(self) -> dict[str, int | str]:
        return {"bytes": self.bytes}


LIMIT_DATA = FaultKind("limit_data", LimitDataSpec, ToxicFault, (REMOVE_TOXIC,))
