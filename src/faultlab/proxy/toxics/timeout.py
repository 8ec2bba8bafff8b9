"""The ``timeout`` toxic: a black hole that hangs up at a real deadline."""

from __future__ import annotations

import random
from dataclasses import dataclass

from faultlab.proxy.toxics.core import (
    DAY_MS,
    Attributes,
    Close,
    Command,
    Drop,
    Hangup,
    Toxic,
    int_attribute,
)

__all__ = ["TimeoutAttributes", "TimeoutToxic"]


@dataclass(frozen=True, slots=True)
class TimeoutAttributes(Attributes):
    timeout: int = int_attribute(DAY_MS, "ms")


class TimeoutToxic(Toxic[TimeoutAttributes]):
    """Drops every byte; closes the whole connection ``timeout`` ms after the toxic applied.

    The deadline is ``started_at + timeout``: the moment the toxic began on this connection
    (connection accepted, toxic added, or toxicity raised so that it applies) plus the
    timeout, **whatever traffic flows meanwhile**. Toxiproxy re-arms its timer on every
    chunk, so a chatty client is never cut off; here a sender cannot postpone the deadline.
    An update moves the deadline to ``started_at + new timeout`` (at once if that has
    passed). ``timeout`` 0 never closes: data vanishes for as long as the toxic stays.

    An EOF is passed on (a FIN), as any close is. Removing the toxic hangs up a connection
    from which it dropped bytes, because the receiver's stream now has a hole (as
    Toxiproxy, PR #168); a connection that lost nothing carries on.
    """

    def __init__(self, attributes: TimeoutAttributes, started_at: float,
                 rng: random.Random) -> None:
        super().__init__(attributes, started_at, rng)
        self._dropped = 0
        self._done = False

    def on_chunk(self, data: bytes, at: float) -> list[Command]:
        self._dropped += len(data)
        return [Drop(len(data), at), *self.on_tick(at)]

    def on_eof(self, at: float) -> list[Command]:
        return [*self.on_tick(at), Close(at)]

    def deadline(self) -> float | None:
        if self._done or self.attributes.timeout == 0:
            return None
        return self.started_at + self.attributes.timeout / 1000.0

    def on_tick(self, now: float) -> list[Command]:
        due = self.deadline()
        if due is None or due > now:
            return []
        self._done = True
        return [Hangup(now)]

    def update(self, attributes: TimeoutAttributes, now: float) -> list[Command]:
        self.attributes = attributes
        return self.on_tick(now)

    def on_remove(self, now: float) -> list[Command]:
        if self._dropped and not self._done:
            self._done = True
            return [Hangup(now)]
        return []
