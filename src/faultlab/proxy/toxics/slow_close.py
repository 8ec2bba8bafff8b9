"""The ``slow_close`` toxic: pass data on, but hold the close for a while."""

from __future__ import annotations

import random
from dataclasses import dataclass

from faultlab.proxy.toxics.core import DAY_MS, Attributes, Close, Command, Toxic, int_attribute

__all__ = ["SlowCloseAttributes", "SlowCloseToxic"]


@dataclass(frozen=True, slots=True)
class SlowCloseAttributes(Attributes):
    delay: int = int_attribute(DAY_MS, "ms")


class SlowCloseToxic(Toxic[SlowCloseAttributes]):
    """Delivers data at once; an EOF leaves ``delay`` ms after it arrived.

    Invariants: data is never held (nothing follows an EOF), so only the EOF is; an update
    re-times it from its arrival (never into the past), removal releases it at once.
    """

    def __init__(self, attributes: SlowCloseAttributes, started_at: float,
                 rng: random.Random) -> None:
        super().__init__(attributes, started_at, rng)
        self._eof_at: float | None = None

    def on_eof(self, at: float) -> list[Command]:
        self._eof_at = at
        return self.on_tick(at)

    def deadline(self) -> float | None:
        if self._eof_at is None:
            return None
        return self._eof_at + self.attributes.delay / 1000.0

    def on_tick(self, now: float) -> list[Command]:
        due = self.deadline()
        if due is None or due > now:
            return []
        self._eof_at = None
        return [Close(due)]

    def update(self, attributes: SlowCloseAttributes, now: float) -> list[Command]:
        self.attributes = attributes
        due = self.deadline()
        if due is not None and due <= now:
            self._eof_at = None
            return [Close(now)]
        return []

    def on_remove(self, now: float) -> list[Command]:
        if self._eof_at is None:
            return []
        self._eof_at = None
        return [Close(now)]
