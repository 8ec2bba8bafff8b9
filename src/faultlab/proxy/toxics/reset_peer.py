"""The ``reset_peer`` toxic: reset the connection after a timeout."""

from __future__ import annotations

import random
from dataclasses import dataclass

from faultlab.proxy.toxics.core import (
    DAY_MS,
    Attributes,
    Command,
    Reset,
    Toxic,
    int_attribute,
)

__all__ = ["ResetPeerAttributes", "ResetPeerToxic"]


@dataclass(frozen=True, slots=True)
class ResetPeerAttributes(Attributes):
    timeout: int = int_attribute(DAY_MS, "ms")


class ResetPeerToxic(Toxic[ResetPeerAttributes]):
    """Resets the connection ``timeout`` ms after the toxic became active on it.

    Data passes untouched until then. Unlike Toxiproxy the clock starts when the toxic
    starts on *this* connection, so connections already open when it is added are reset
    too, and the reset is a command (the relay sets SO_LINGER 0 only then), so a toxic that
    does not apply (toxicity) never turns normal closes into resets. The reset fires once.
    """

    def __init__(self, attributes: ResetPeerAttributes, started_at: float,
                 rng: random.Random) -> None:
        super().__init__(attributes, started_at, rng)
        self._fired = False

    def deadline(self) -> float | None:
        if self._fired:
            return None
        return self.started_at + self.attributes.timeout / 1000.0

    def on_tick(self, now: float) -> list[Command]:
        due = self.deadline()
        if due is None or due > now:
            return []
        self._fired = True
        return [Reset(now)]
