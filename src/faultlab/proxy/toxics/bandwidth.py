"""The ``bandwidth`` toxic: let bytes through at a fixed rate."""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass
from typing import Any

from faultlab.proxy.toxics.core import Attributes, Close, Command, Deliver, Toxic, int_attribute

__all__ = ["BandwidthAttributes", "BandwidthToxic"]


@dataclass(frozen=True, slots=True)
class BandwidthAttributes(Attributes):
    rate: int = int_attribute(10**9, "KB/s")


class BandwidthToxic(Toxic[BandwidthAttributes]):
    """Lets bytes through at ``rate`` KB/s (1 KB = 1000 bytes); ``rate`` 0 means unlimited.

    The link is modelled as a transmitter that sends one piece of at most 100 ms worth of
    bytes (``rate * 100``) at a time: a piece that becomes available at ``avail`` starts at
    ``max(avail, busy_until)`` and is delivered when it has been transmitted, ``len / rate``
    later. Invariants: bytes keep their order, delivery times never decrease, and over any
    busy period no more than ``rate`` bytes per second leave (idle time is not banked, so
    there are no bursts after a pause). The schedule is computed lazily from ``busy_until``,
    so a rate change applies at once to everything still held.
    """

    def __init__(self, attributes: BandwidthAttributes, started_at: float,
                 rng: random.Random) -> None:
        super().__init__(attributes, started_at, rng)
        # Each entry: [available at, data, offset of the first byte not yet sent].
        self._held: deque[list[Any]] = deque()
        self._held_bytes = 0
        self._eof_at: float | None = None
        self._busy_until = -math.inf

    def _next_piece(self) -> tuple[float, int]:
        """Completion time and size of the next piece; the caller knows one is held."""
        avail, data, offset = self._held[0]
        piece = min(len(data) - offset, self.attributes.rate * 100)
        start = max(avail, self._busy_until)
        return start + piece / (self.attributes.rate * 1000.0), piece

    def on_chunk(self, data: bytes, at: float) -> list[Command]:
        if data:
            self._held.append([at, data, 0])
            self._held_bytes += len(data)
        return self.on_tick(at)

    def on_eof(self, at: float) -> list[Command]:
        self._eof_at = at
        return self.on_tick(at)

    def deadline(self) -> float | None:
        if not self._held or self.attributes.rate == 0:
            return None
        return self._next_piece()[0]

    def on_tick(self, now: float) -> list[Command]:
        out: list[Command] = []
        while self._held:
            if self.attributes.rate == 0:
                avail, data, offset = self._held.popleft()
                when = max(avail, self._busy_until)
                out.append(Deliver(bytes(data[offset:]), when))
                self._held_bytes -= len(data) - offset
                self._busy_until = when
                continue
            done, piece = self._next_piece()
            if done > now:
                break
            entry = self._held[0]
            out.append(Deliver(bytes(entry[1][entry[2]:entry[2] + piece]), done))
            entry[2] += piece
            self._held_bytes -= piece
            self._busy_until = done
            if entry[2] == len(entry[1]):
                self._held.popleft()
        if not self._held and self._eof_at is not None:
            out.append(Close(max(self._eof_at, self._busy_until)))
            self._eof_at = None
        return out

    def update(self, attributes: BandwidthAttributes, now: float) -> list[Command]:
        self.attributes = attributes
        # The piece in flight restarts under the new rate from now, not from the old start.
        if self._held:
            self._busy_until = max(self._busy_until, now)
        return self.on_tick(now)

    def on_remove(self, now: float) -> list[Command]:
        out: list[Command] = [Deliver(bytes(data[offset:]), now)
                              for _, data, offset in self._held]
        self._held.clear()
        self._held_bytes = 0
        if self._eof_at is not None:
            out.append(Close(now))
            self._eof_at = None
        return out

    def held_bytes(self) -> int:
        return self._held_bytes
