"""The ``http_delay`` fault: holds matching HTTP requests before forwarding them."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from faultlab.experiment.types import Millis
from faultlab.faults.kinds.toxic import REMOVE_TOXIC, HttpMatch, ToxicFault, ms
from faultlab.faults.registry import FaultKind

__all__ = ["HTTP_DELAY"]


class HttpDelaySpec(HttpMatch):
    """Hold matching HTTP requests for ``delay`` before forwarding them."""

    toxic_type: ClassVar[str] = "http_delay"
    kind: Literal["http_delay"]
    delay: Millis = Field(description="Time each matching request is held (whole "
                          "milliseconds).")

    def attributes(self) -> dict[str, int | str]:
        return {"delay": ms(self.delay), **self._match()}


HTTP_DELAY = FaultKind("http_delay", HttpDelaySpec, ToxicFault, (REMOVE_TOXIC,))
