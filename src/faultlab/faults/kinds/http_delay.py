"""The ``http_delay`` fault: holds matching HTTP requests before forwarding them."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator

from faultlab.experiment.types import Duration
from faultlab.faults.kinds.toxic import REMOVE_TOXIC, HttpMatch, ToxicFault, whole
from faultlab.faults.registry import FaultKind

__all__ = ["HTTP_DELAY"]

MS = 1e-3


class HttpDelaySpec(HttpMatch):
    """Hold matching HTTP requests for ``delay`` before forwarding them."""

    toxic_type: ClassVar[str] = "http_delay"
    kind: Literal["http_delay"]
    delay: Duration = Field(description="Time each matching request is held (whole "
                            "milliseconds).")

    @field_validator("delay")
    @classmethod
    def _ms(cls, v: float) -> float:
        whole(v, MS, "http_delay", "milliseconds")
        return v

    def attributes(self) -> dict[str, int | str]:
        return {"delay": round(self.delay / MS), **self._match()}


HTTP_DELAY = FaultKind("http_delay", HttpDelaySpec, ToxicFault, (REMOVE_TOXIC,))
