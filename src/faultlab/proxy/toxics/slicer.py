"""The ``slicer`` toxic: cut chunks into small pieces, optionally spaced in time."""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass

from faultlab.proxy.toxics.core import (
    DAY_MS,
    Attributes,
    Command,
    HoldingToxic,
    int_attribute,
)

__all__ = ["SlicerAttributes", "SlicerToxic"]

MAX_SLICE = 64 * 1024 * 1024


@dataclass(slots=True)
class _Piece:
    arrival: float
    data: bytes | None  # None: the EOF
    due: float


@dataclass(frozen=True, slots=True)
class SlicerAttributes(Attributes):
    # Toxiproxy recurses forever on an average_size of 0 (a stack overflow kills the
    # server) and can panic when the variation reaches the average (#541, PR #770).
    average_size: int = int_attribute(MAX_SLICE, "bytes", minimum=1)
    size_variation: int = int_attribute(MAX_SLICE, "bytes")
    delay: int = int_attribute(DAY_MS * 1000, "µs")


class SlicerToxic(HoldingToxic[SlicerAttributes]):
    """Cuts each chunk into pieces of ``average_size ± size_variation`` bytes (the last one
    may be smaller) and sends them ``delay`` µs apart.

    Invariants: every piece is between 1 and ``average_size + size_variation`` bytes (a
    variation as large as the average or larger draws sizes below 1 byte, which become 1:
    Toxiproxy's README says the variation "should be smaller"), bytes keep their order, and piece
    ``k`` is due at ``max(arrival, due of piece k-1 + delay)``: a piece never leaves before
    its bytes arrived, and consecutive pieces are at least ``delay`` apart. An EOF leaves
    with the last piece. An update re-times the held pieces under the new delay; removal
    hands them back at once.
    """

    def __init__(self, attributes: SlicerAttributes, started_at: float,
                 rng: random.Random) -> None:
        super().__init__(attributes, started_at, rng)
        self._held: deque[_Piece] = deque()
        self._last_due = -math.inf

    def _sizes(self, total: int) -> list[int]:
        average, variation = self.attributes.average_size, self.attributes.size_variation
        sizes: list[int] = []
        while total > average + variation:
            size = max(1, average + self.rng.randint(-variation, variation))
            sizes.append(size)
            total -= size
        if total:
            sizes.append(total)
        return sizes

    def _due(self, arrival: float, eof: bool) -> float:
        gap = 0.0 if eof else self.attributes.delay / 1e6
        return max(arrival, self._last_due + gap)

    def on_chunk(self, data: bytes, at: float) -> list[Command]:
        offset = 0
        for size in self._sizes(len(data)):
            due = self._due(at, eof=False)
            self._last_due = due
            self._held.append(_Piece(at, data[offset:offset + size], due))
            offset += size
        self._held_bytes += len(data)
        return self.on_tick(at)

    def on_eof(self, at: float) -> list[Command]:
        due = self._due(at, eof=True)
        self._last_due = due
        self._held.append(_Piece(at, None, due))
        return self.on_tick(at)

    def deadline(self) -> float | None:
        return self._held[0].due if self._held else None

    def on_tick(self, now: float) -> list[Command]:
        out: list[Command] = []
        while self._held and self._held[0].due <= now:
            piece = self._held.popleft()
            out.append(self._release(piece.data, piece.due))
        return out

    def update(self, attributes: SlicerAttributes, now: float) -> list[Command]:
        self.attributes = attributes
        self._last_due = -math.inf
        for piece in self._held:
            piece.due = max(self._due(piece.arrival, eof=piece.data is None), now)
            self._last_due = piece.due
        return self.on_tick(now)

    def on_remove(self, now: float) -> list[Command]:
        out = [self._release(piece.data, now) for piece in self._held]
        self._held.clear()
        return out
