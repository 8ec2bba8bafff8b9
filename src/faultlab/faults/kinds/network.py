"""Proxy faults on the bytes of a connection: latency, bandwidth, reset, timeout,
slow_close, slicer, limit_data (Toxiproxy's toxics, with parameters in file units)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator

from faultlab.experiment.types import ByteRate, Duration
from faultlab.faults.kinds.toxic import REMOVE_TOXIC, ToxicFault, ToxicSpec, whole
from faultlab.faults.registry import FaultKind

__all__ = ["BANDWIDTH", "LATENCY", "LIMIT_DATA", "RESET", "SLICER", "SLOW_CLOSE", "TIMEOUT"]

MS = 1e-3


class LatencySpec(ToxicSpec):
    """Delay every chunk of data by ``delay`` (plus or minus up to ``jitter``)."""

    toxic_type: ClassVar[str] = "latency"
    kind: Literal["latency"]
    delay: Duration = Field(description="Added delay per chunk (whole milliseconds).")
    jitter: Duration = Field(default=0.0, description="Random spread around the delay "
                             "(whole milliseconds).")

    @field_validator("delay", "jitter")
    @classmethod
    def _ms(cls, v: float) -> float:
        whole(v, MS, "latency", "milliseconds")
        return v

    def attributes(self) -> dict[str, int | str]:
        return {"latency": round(self.delay / MS), "jitter": round(self.jitter / MS)}


class BandwidthSpec(ToxicSpec):
    """Limit the throughput to ``rate``."""

    toxic_type: ClassVar[str] = "bandwidth"
    kind: Literal["bandwidth"]
    rate: ByteRate = Field(description="Bytes per second, in whole KB/s (1KB = 1000 bytes), "
                           "at least 1KB/s.")

    @field_validator("rate")
    @classmethod
    def _kb(cls, v: float) -> float:
        if whole(v, 1000, "bandwidth", "KB/s (1000 bytes per second)") < 1:
            raise ValueError("the proxy's smallest bandwidth is 1KB/s; write e.g. 1KB/s")
        return v

    def attributes(self) -> dict[str, int | str]:
        return {"rate": round(self.rate / 1000)}


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


class SlowCloseSpec(ToxicSpec):
    """Delay the close of the connection by ``delay``."""

    toxic_type: ClassVar[str] = "slow_close"
    kind: Literal["slow_close"]
    delay: Duration = Field(description="Time the close is held back (whole milliseconds).")

    @field_validator("delay")
    @classmethod
    def _ms(cls, v: float) -> float:
        whole(v, MS, "slow_close", "milliseconds")
        return v

    def attributes(self) -> dict[str, int | str]:
        return {"delay": round(self.delay / MS)}


class SlicerSpec(ToxicSpec):
    """Cut data into small pieces of about ``average_size`` bytes, ``delay`` apart."""

    toxic_type: ClassVar[str] = "slicer"
    kind: Literal["slicer"]
    average_size: int = Field(ge=1, le=1 << 20, description="Average piece size in bytes.")
    size_variation: int = Field(default=0, ge=0, le=1 << 20, description="Spread of the piece "
                                "size in bytes (below average_size).")
    delay: Duration = Field(default=0.0, description="Gap between pieces (whole "
                            "microseconds).")

    @field_validator("delay")
    @classmethod
    def _us(cls, v: float) -> float:
        whole(v, 1e-6, "slicer delay", "microseconds")
        return v

    @field_validator("size_variation")
    @classmethod
    def _variation(cls, v: int, info: object) -> int:
        average = getattr(info, "data", {}).get("average_size")
        if average is not None and v >= average:
            raise ValueError("size_variation must be below average_size; e.g. "
                             f"size_variation: {max(average // 2, 0)}")
        return v

    def attributes(self) -> dict[str, int | str]:
        return {"average_size": self.average_size, "size_variation": self.size_variation,
                "delay": round(self.delay / 1e-6)}


class LimitDataSpec(ToxicSpec):
    """Close the connection once ``bytes`` bytes have passed."""

    toxic_type: ClassVar[str] = "limit_data"
    kind: Literal["limit_data"]
    bytes: int = Field(ge=1, le=10**15, description="Bytes let through before the close.")

    def attributes(self) -> dict[str, int | str]:
        return {"bytes": self.bytes}


def _kind(name: str, spec: type[ToxicSpec]) -> FaultKind:
    return FaultKind(name, spec, ToxicFault, (REMOVE_TOXIC,))


LATENCY = _kind("latency", LatencySpec)
BANDWIDTH = _kind("bandwidth", BandwidthSpec)
RESET = _kind("reset", ResetSpec)
TIMEOUT = _kind("timeout", TimeoutSpec)
SLOW_CLOSE = _kind("slow_close", SlowCloseSpec)
SLICER = _kind("slicer", SlicerSpec)
LIMIT_DATA = _kind("limit_data", LimitDataSpec)
