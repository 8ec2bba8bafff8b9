"""The ``http_abort`` fault: answers matching HTTP requests in the proxy's name."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from faultlab.faults.kinds.toxic import REMOVE_TOXIC, HttpMatch, ToxicFault
from faultlab.faults.registry import FaultKind

__all__ = ["HTTP_ABORT"]


class HttpAbortSpec(HttpMatch):
    """Answer matching HTTP requests with ``status`` in the proxy's name (never forwarded)."""

    toxic_type: ClassVar[str] = "http_abort"
    kind: Literal["http_abort"]
    status: int = Field(default=503, ge=100, le=599, description="HTTP status answered.")

    def attributes(self) -> dict[str, int | str]:
        return {"status": self.status, **self._match()}


HTTP_ABORT = FaultKind("http_abort", HttpAbortSpec, ToxicFault, (REMOVE_TOXIC,))
