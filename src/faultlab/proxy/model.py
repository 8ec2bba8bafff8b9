"""Typed values shared by the relay, the registry and the control API."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from faultlab.proxy.toxics import TOXIC_TYPES, Attributes, ToxicType

__all__ = ["ApiError", "Stream", "ToxicSpec"]


class Stream(enum.Enum):
    """A direction of a proxied connection, named as in Toxiproxy."""

    UPSTREAM = "upstream"  # client -> server
    DOWNSTREAM = "downstream"  # server -> client

    @classmethod
    def parse(cls, text: object) -> Stream:
        """Case-insensitive, as Toxiproxy; but stored lower-case (Toxiproxy echoes the case)."""
        if isinstance(text, str):
            for stream in cls:
                if stream.value == text.lower():
                    return stream
        raise ApiError(400, "stream was invalid, can be either upstream or downstream")


@dataclass(frozen=True, slots=True)
class ToxicSpec:
    """A toxic as configured on a proxy; each connection builds its own state from it."""

    name: str
    type: str
    stream: Stream
    toxicity: float
    attributes: Attributes

    @property
    def kind(self) -> ToxicType[Any]:
        return TOXIC_TYPES[self.type]


class ApiError(Exception):
    """A request the API refuses: an HTTP status and the message of Toxiproxy's error body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message
