"""The ``latency`` toxic: hold each chunk for latency ± jitter."""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass
from typing import Any

from faultlab.proxy.toxics.core import (
    DAY_MS,
    Attributes,
    Command,
    HoldingToxic,
    int_attribute,
)

__all__ = ["LatencyAttributes", "LatencyToxic"]


@dataclass(frozen=True, slots=True)
class LatencyAttributes(Attributes):
    latency: int = int_attribute(DAY_MS, "ms")
    jitter: int = int_attribute(DAY_MS, "ms")


class LatencyToxic(HoldingToxic[LatencyAttributes]):
    """Holds each chunk until ``arrival + latency + U(-jitter, +jitter)`` (ms).

    Invariants: chunks are never split, merged or reordered: a chunk whose own delay is
    shorter waits behind the one before it, so its due time is
    ``max(arrival + delay, previous due)``. Delays count from *arrival*, so they do not add
    up across back-to-back chunks and the sender's throughput is preserved. A negative delay
    (jitter larger than latency) means no delay. EOF is held like a chunk of latency without
    jitter. An update re-times what is held from each chunk's arrival and its own jitter
    draw; removal hands everything back at once.
    """

    def __init__(self, attributes: LatencyAttributes, started_at: float,
                 rng: random.Random) -> None:
        super().__init__(attributes, started_at, rng)
        # Each entry: [arrival, jitter draw (ms), data or None for EOF, due time].
        self._held: deque[list[Any]] = deque()
        self._last_due = -math.inf

    def _due(self, arrival: float, jitter_ms: float) -> float:
        delay_ms = max(self.attributes.latency + jitter_ms, 0.0)
        return max(arrival + delay_ms / 1000.0, self._last_due)

    def _hold(self, arrival: float, data: bytes | None) -> list[Command]:
        jitter = self.attributes.jitter
        draw = self.rng.uniform(-jitter, jitter) if (jitter and data is not None) else 0.0
        due = self._due(arrival, draw)
        self._last_due = due
        self._held.append([arrival, draw, data, due])
        if data is not None:
            self._held_bytes += len(data)
        # `arrival` is also a lower bound on the current time, so release what is due.
        return self.on_tick(arrival)

    def on_chunk(self, data: bytes, at: float) -> list[Command]:
        return self._hold(at, data)

    def on_eof(self, at: float) -> list[Command]:
        return self._hold(at, None)

    def deadline(self) -> float | None:
        return self._held[0][3] if self._held else None

    def on_tick(self, now: float) -> list[Command]:
        out: list[Command] = []
        while self._held and self._held[0][3] <= now:
            _, _, data, due = self._held.popleft()
            out.append(self._release(data, due))
        return out

    def update(self, attributes: LatencyAttributes, now: float) -> list[Command]:
        self.attributes = attributes
        self._last_due = -math.inf
        for entry in self._held:
            # An entry already due under the new latency leaves now, not in the past.
            entry[3] = max(self._due(entry[0], entry[1]), now)
            self._last_due = entry[3]
        return self.on_tick(now)

    def on_remove(self, now: float) -> list[Command]:
        out = [self._release(data, now) for _, _, data, _ in self._held]
        self._held.clear()
        return out
