"""The ``reset_peer`` toxic: on the first data, swallow it and reset the connection."""

from __future__ import annotations

import random
from dataclasses import dataclass

from faultlab.proxy.toxics.core import (
    DAY_MS,
    Attributes,
    Command,
    Drop,
    Reset,
    Toxic,
    int_attribute,
)

__all__ = ["ResetPeerAttributes", "ResetPeerToxic"]


@dataclass(frozen=True, slots=True)
class ResetPeerAttributes(Attributes):
    timeout: int = int_attribute(DAY_MS, "ms")


class ResetPeerToxic(Toxic[ResetPeerAttributes]):
    """Toxiproxy's semantics: the first chunk (or EOF) on its stream arms it; that chunk and
    everything after it on the stream is dropped, and the connection is reset (RST both
    ways) ``timeout`` ms after that first data arrived. A connection that sends nothing on
    the stream is never reset; the other direction flows meanwhile.

    Invariants: nothing is ever delivered after the arming chunk; the reset fires once, at
    ``armed_at + timeout`` (at once for 0). An update re-times it from ``armed_at`` (at once
    if that moment has passed), where Toxiproxy waits for new data and, while asleep, blocks
    the API call. Removing an armed toxic resets the connection now, since its stream lost
    data (Toxiproxy's sleeping toxic resets it anyway). Unlike Toxiproxy, the RST comes from
    the reset itself, so a toxic that does not apply (toxicity) never turns normal closes
    into resets (#603), and connections open before it was added get an RST, not a FIN.
    """

    def __init__(self, attributes: ResetPeerAttributes, started_at: float,
                 rng: random.Random) -> None:
        super().__init__(attributes, started_at, rng)
        self._armed_at: float | None = None
        self._fired = False

    def on_chunk(self, data: bytes, at: float) -> list[Command]:
        if self._armed_at is None:
            self._armed_at = at
        return [Drop(len(data), at), *self.on_tick(at)]

    def on_eof(self, at: float) -> list[Command]:
        if self._armed_at is None:
            self._armed_at = at
        return self.on_tick(at)  # the EOF is swallowed too: the reset is what comes next

    def deadline(self) -> float | None:
        if self._fired or self._armed_at is None:
            return None
        return self._armed_at + self.attributes.timeout / 1000.0

    def on_tick(self, now: float) -> list[Command]:
        due = self.deadline()
        if due is None or due > now:
            return []
        self._fired = True
        return [Reset(now)]

    def update(self, attributes: ResetPeerAttributes, now: float) -> list[Command]:
        self.attributes = attributes
        return self.on_tick(now)

    def on_remove(self, now: float) -> list[Command]:
        if self._armed_at is None or self._fired:
            return []
        self._fired = True
        return [Reset(now)]
