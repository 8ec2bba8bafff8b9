"""Proxy faults at the HTTP and connect level: http_abort, http_delay, connect_delay,
connect_refuse (faultlab's proxy only; Toxiproxy has no such toxics)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator

from faultlab.experiment.types import Duration
from faultlab.faults.kinds.toxic import REMOVE_TOXIC, Stream, ToxicFault, ToxicSpec, whole
from faultlab.faults.registry import FaultKind

__all__ = ["CONNECT_DELAY", "CONNECT_REFUSE", "HTTP_ABORT", "HTTP_DELAY"]

MS = 1e-3


class _HttpMatch(ToxicSpec):
    stream: Stream = Field(default=Stream.UPSTREAM, description="HTTP faults read "
                           "requests, which flow upstream.")
    method: str = Field(default="", max_length=32, pattern=r"^[A-Za-z]*$",
                        description="Only requests with this method (empty: any).")
    path_prefix: str = Field(default="", max_length=2048, pattern=r"^(/[^\s]*)?$",
                             description="Only requests whose path starts with this "
                             "(empty: any).")

    def _match(self) -> dict[str, str]:
        return {"method": self.method.upper(), "path_prefix": self.path_prefix}


class HttpAbortSpec(_HttpMatch):
    """Answer matching HTTP requests with ``status`` in the proxy's name (never forwarded)."""

    toxic_type: ClassVar[str] = "http_abort"
    kind: Literal["http_abort"]
    status: int = Field(default=503, ge=100, le=599, description="HTTP status answered.")

    def attributes(self) -> dict[str, int | str]:
        return {"status": self.status, **self._match()}


class HttpDelaySpec(_HttpMatch):
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


class ConnectDelaySpec(ToxicSpec):
    """Accept new connections but hold them ``delay`` before dialling the upstream."""

    toxic_type: ClassVar[str] = "connect_delay"
    kind: Literal["connect_delay"]
    delay: Duration = Field(description="Time a new connection waits (whole milliseconds).")

    @field_validator("delay")
    @classmethod
    def _ms(cls, v: float) -> float:
        whole(v, MS, "connect_delay", "milliseconds")
        return v

    def attributes(self) -> dict[str, int | str]:
        return {"delay": round(self.delay / MS)}


class ConnectRefuseSpec(ToxicSpec):
    """Reset new connections at once (open ones keep flowing)."""

    toxic_type: ClassVar[str] = "connect_refuse"
    kind: Literal["connect_refuse"]


def _kind(name: str, spec: type[ToxicSpec]) -> FaultKind:
    return FaultKind(name, spec, ToxicFault, (REMOVE_TOXIC,))


HTTP_ABORT = _kind("http_abort", HttpAbortSpec)
HTTP_DELAY = _kind("http_delay", HttpDelaySpec)
CONNECT_DELAY = _kind("connect_delay", ConnectDelaySpec)
CONNECT_REFUSE = _kind("connect_refuse", ConnectRefuseSpec)
