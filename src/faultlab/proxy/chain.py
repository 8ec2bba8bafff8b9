"""The chain of toxics on one direction of one connection, still without any I/O.

A :class:`Chain` is what the relay talks to: it feeds chunks, EOF and ticks in and gets
:data:`~faultlab.proxy.toxics.Command` lists out. Commands produced by the toxic at position
``i`` pass through the toxics after it; :class:`~faultlab.proxy.toxics.Reset` and
:class:`~faultlab.proxy.toxics.Drop` skip straight to the output.

Toxicity is decided once per connection per toxic, from a hash of (seed, proxy, connection
number, toxic name) and not from a shared generator, so that:

* adding, changing or removing *other* toxics never changes whether this one applies to a
  live connection (Toxiproxy re-rolls on every chain change);
* the decision is reproducible from the seed, whatever order connections were served in;
* changing a toxic's own toxicity moves a fixed threshold over a fixed draw, so raising it
  only adds connections and lowering it only removes some.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any

from faultlab.proxy.model import ToxicSpec
from faultlab.proxy.toxics import Close, Command, Deliver, Toxic

__all__ = ["Chain", "ConnectionSeed"]


@dataclass(frozen=True, slots=True)
class ConnectionSeed:
    """Everything that determines one connection's random draws."""

    seed: int
    proxy: str
    connection: int

    def _hash(self, toxic: str, purpose: str) -> int:
        text = f"{self.seed}\0{self.proxy}\0{self.connection}\0{toxic}\0{purpose}"
        return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")

    def draw(self, toxic: str) -> float:
        """A uniform number in [0, 1); the toxic applies when it is below its toxicity."""
        return self._hash(toxic, "toxicity") / 2.0**64

    def rng(self, toxic: str) -> random.Random:
        """The generator for the toxic's own randomness (latency jitter, slicer sizes)."""
        return random.Random(self._hash(toxic, "rng"))


class _Link:
    __slots__ = ("draw", "spec", "toxic")

    def __init__(self, spec: ToxicSpec, draw: float) -> None:
        self.spec = spec
        self.draw = draw
        self.toxic: Toxic[Any] | None = None  # None: the toxic does not apply (toxicity)


class Chain:
    """The toxics of one direction of one connection, in the order they were added."""

    def __init__(self, seed: ConnectionSeed, specs: Iterable[ToxicSpec], now: float, *,
                 on_activate: Callable[[ToxicSpec], None] | None = None) -> None:
        self._seed = seed
        self._on_activate = on_activate  # counts activations for the metrics
        self._links: list[_Link] = []
        #: True when no toxic that touches data applies (so nothing is held either): the
        #: relay may copy directly. A plain attribute, kept by every change of the links,
        #: because the relay reads it for every chunk (``touches_data`` is per toxic type).
        self.passthrough = True
        for spec in specs:
            self.add(spec, now)

    # ------------------------------------------------------------------ configuration

    def add(self, spec: ToxicSpec, now: float) -> list[Command]:
        link = _Link(spec, self._seed.draw(spec.name))
        self._links.append(link)
        self._activate(link, now)
        self._refresh()
        return []

    def update(self, spec: ToxicSpec, now: float) -> list[Command]:
        index = self._index(spec.name)
        link = self._links[index]
        link.spec = spec
        commands: list[Command] = []
        applies = link.draw < spec.toxicity
        if link.toxic is not None and applies:
            commands = link.toxic.update(spec.attributes, now)
        elif link.toxic is not None:
            commands = link.toxic.on_remove(now)
            link.toxic = None
        else:
            self._activate(link, now)
        self._refresh()
        return self._through(index + 1, commands)

    def remove(self, name: str, now: float) -> list[Command]:
        index = self._index(name)
        link = self._links.pop(index)
        self._refresh()
        commands = link.toxic.on_remove(now) if link.toxic is not None else []
        return self._through(index, commands)

    def _refresh(self) -> None:
        self.passthrough = all(link.toxic is None or not link.toxic.touches_data
                               for link in self._links)

    def _activate(self, link: _Link, now: float) -> None:
        if link.draw < link.spec.toxicity:
            name = link.spec.name
            link.toxic = link.spec.kind.create(link.spec.attributes, now, self._seed.rng(name))
            if self._on_activate is not None:
                self._on_activate(link.spec)

    def _index(self, name: str) -> int:
        for index, link in enumerate(self._links):
            if link.spec.name == name:
                return index
        raise KeyError(name)

    # ---------------------------------------------------------------------------- data

    def feed(self, data: bytes, at: float) -> list[Command]:
        return self._through(0, [Deliver(data, at)])

    def feed_eof(self, at: float) -> list[Command]:
        return self._through(0, [Close(at)])

    def deadline(self) -> float | None:
        deadlines = [d for link in self._links if link.toxic is not None
                     if (d := link.toxic.deadline()) is not None]
        return min(deadlines, default=None)

    def tick(self, now: float) -> list[Command]:
        """Run every toxic whose deadline has come, front to back.

        One pass is enough: a toxic's output only ever moves towards the end of the chain,
        and each toxic emits its held data in order, so the output keeps the byte order.
        """
        out: list[Command] = []
        for index, link in enumerate(self._links):
            toxic = link.toxic
            if toxic is None:
                continue
            due = toxic.deadline()
            if due is not None and due <= now:
                out.extend(self._through(index + 1, toxic.on_tick(now)))
        return out

    def _through(self, start: int, commands: list[Command]) -> list[Command]:
        for link in self._links[start:]:
            toxic = link.toxic
            if toxic is None or not commands:
                continue
            passed: list[Command] = []
            for command in commands:
                if isinstance(command, Deliver):
                    passed.extend(toxic.on_chunk(command.data, command.at))
                elif isinstance(command, Close):
                    passed.extend(toxic.on_eof(command.at))
                else:
                    passed.append(command)
            commands = passed
        return commands

    # --------------------------------------------------------------------------- state

    def connect_delay(self, only: Collection[str] | None = None) -> float:
        """Seconds the applying connect-time toxics (those named in ``only``, if given) want
        before the upstream is dialled."""
        return sum(link.toxic.connect_delay() for link in self._links
                   if link.toxic is not None and (only is None or link.spec.name in only))

    def applying(self) -> set[str]:
        """Names of the toxics that apply to this connection now."""
        return {link.spec.name for link in self._links if link.toxic is not None}

    def refuses_connection(self) -> bool:
        return any(link.toxic.refuses_connection() for link in self._links
                   if link.toxic is not None)

    def held_bytes(self) -> int:
        return sum(link.toxic.held_bytes() for link in self._links if link.toxic is not None)

    def applies(self, name: str) -> bool:
        """Whether the named toxic applies to this connection (its toxicity draw)."""
        return self._links[self._index(name)].toxic is not None

    def __len__(self) -> int:
        return len(self._links)
