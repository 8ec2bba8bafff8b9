"""The ``limit_data`` toxic: let a number of bytes through, then hang up."""

from __future__ import annotations

import random
from dataclasses import dataclass

from faultlab.proxy.toxics.core import (
    Attributes,
    Command,
    Deliver,
    Drop,
    Hangup,
    Toxic,
    int_attribute,
)

__all__ = ["LimitDataAttributes", "LimitDataToxic"]


@dataclass(frozen=True, slots=True)
class LimitDataAttributes(Attributes):
    bytes: int = int_attribute(10**15, "bytes")


class LimitDataToxic(Toxic[LimitDataAttributes]):
    """Delivers the first ``bytes`` bytes of its direction, then closes the connection.

    Invariants: at most ``bytes`` bytes are ever delivered (the chunk that crosses the limit
    is truncated); once the count reaches the limit a :class:`Hangup` follows the last byte
    and everything after it is dropped. ``bytes`` 0 hangs up on the first chunk without
    sending anything. The count is this connection's and survives updates; raising the limit
    after the hang-up changes nothing.
    """

    def __init__(self, attributes: LimitDataAttributes, started_at: float,
                 rng: random.Random) -> None:
        super().__init__(attributes, started_at, rng)
        self._sent = 0
        self._done = False

    def on_chunk(self, data: bytes, at: float) -> list[Command]:
        if self._done:
            return [Drop(len(data), at)]
        piece = data[:max(self.attributes.bytes - self._sent, 0)]
        self._sent += len(piece)
        out: list[Command] = [Deliver(piece, at)] if piece else []
        if self._sent >= self.attributes.bytes:
            self._done = True
            if len(piece) < len(data):
                out.append(Drop(len(data) - len(piece), at))
            out.append(Hangup(at))
        return out

    def update(self, attributes: LimitDataAttributes, now: float) -> list[Command]:
        self.attributes = attributes
        if not self._done and self._sent >= attributes.bytes > 0:
            self._done = True
            return [Hangup(now)]
        return []
