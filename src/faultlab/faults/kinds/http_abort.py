"""The ``http_abort`` fault: answers matching HTTP requests in the proxy's name."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator

from faultlab.experiment.types import Ratio
from faultlab.faults.kinds.toxic import REMOVE_TOXIC, HttpMatch, ToxicFault, whole
from faultlab.faults.registry import FaultKind

__all__ = ["HTTP_ABORT"]


def _percent(share: float) -> int:
    return whole(share, 0.01, "percent", f"{share * 100:g}%", "%")


class HttpAbortSpec(HttpMatch):
    """Answer matching HTTP requests with ``status`` in the proxy's name (never forwarded).

    ``toxicity`` picks connections once; ``requests`` picks each request, so a share of a
    keep-alive client's requests fails however long its connections live.
    """

    toxic_type: ClassVar[str] = "http_abort"
    kind: Literal["http_abort"]
    status: int = Field(default=503, ge=100, le=599, description="HTTP status answered.")
    requests: Ratio = Field(default=1.0, description="Share of matching requests answered "
                            "(each drawn independently); the rest pass.")

    @field_validator("requests")
    @classmethod
    def _whole_percent(cls, v: float) -> float:
        if v < 0.01:
            raise ValueError(f"{v * 100:g}% is below the proxy's smallest share of "
                             "requests, 1%; write e.g. 1%")
        _percent(v)
        return v

    def attributes(self) -> dict[str, int | str]:
        return {"status": self.status, **self._match(), "percent": _percent(self.requests)}


HTTP_ABORT = FaultKind("http_abort", HttpAbortSpec, ToxicFault, (REMOVE_TOXIC,))
