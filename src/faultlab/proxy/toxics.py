"""The sans-IO toxic core: events in, commands out, no sockets and no clocks.

A *toxic* is the state of one fault on one direction of one connection. The relay feeds it
events and carries out the commands it returns:

====================  ===========================================================
event (method)        meaning
====================  ===========================================================
``on_chunk(data, at)`` bytes that may be delivered from time ``at`` on
``on_eof(at)``         the sending side closed its write half at ``at``
``on_tick(now)``       the time ``deadline()`` asked for has come
``update(attrs, now)`` the toxic's attributes were changed through the API
``on_remove(now)``     the toxic is leaving the chain: hand back whatever it holds
====================  ===========================================================

Commands (:data:`Command`): :class:`Deliver` bytes, :class:`Close` the direction (a FIN),
:class:`Reset` the whole connection (an RST) and :class:`Drop` bytes on the floor.

Rules every toxic keeps, which the relay and the chain rely on:

* **No commands from the future.** A command's time is never later than the time of the
  event that produced it (``at`` for chunks and EOF, ``now`` for ticks, updates and
  removal). A toxic that delays data *holds* it and asks for a tick with :meth:`deadline`.
  So the relay can act on a command as soon as it gets it, and an update or a removal takes
  effect at once instead of waiting for data scheduled under the old attributes.
* **Time never runs backwards for a toxic**: the times it is given do not decrease, and the
  times of the commands it emits do not decrease.
* **Order.** Bytes leave in the order they came in; nothing follows a :class:`Close`.
* **Conservation.** Every byte given to a toxic is eventually delivered, dropped (an explicit
  :class:`Drop`), handed back by :meth:`Toxic.on_remove`, or lost with a :class:`Reset`.

New toxic types (slow_close, timeout, slicer and limit_data are next) are a subclass of
:class:`Toxic`, an attribute dataclass deriving from :class:`Attributes` and one
:func:`register` call; nothing else in the proxy needs to change.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

__all__ = [
    "TOXIC_TYPES",
    "Attributes",
    "BandwidthAttributes",
    "BandwidthToxic",
    "Close",
    "Command",
    "Deliver",
    "Drop",
    "InvalidAttributes",
    "LatencyAttributes",
    "LatencyToxic",
    "NoopAttributes",
    "NoopToxic",
    "Reset",
    "ResetPeerAttributes",
    "ResetPeerToxic",
    "Toxic",
    "ToxicType",
    "register",
]


@dataclass(frozen=True, slots=True)
class Deliver:
    """Send ``data`` on; it may leave at ``at``."""

    data: bytes
    at: float


@dataclass(frozen=True, slots=True)
class Close:
    """Close this direction (shut the receiver's write half: a FIN) at ``at``."""

    at: float


@dataclass(frozen=True, slots=True)
class Reset:
    """Abort the whole connection with an RST at ``at``."""

    at: float


@dataclass(frozen=True, slots=True)
class Drop:
    """``size`` bytes were thrown away at ``at`` (counted, never sent)."""

    size: int
    at: float


Command = Deliver | Close | Reset | Drop


# ---------------------------------------------------------------------------- attributes


class InvalidAttributes(ValueError):
    """An attribute value is of the wrong type or out of range; the message says which."""


@dataclass(frozen=True, slots=True)
class IntRange:
    """Bounds and unit of an integer attribute; the unit appears in error messages."""

    maximum: int
    unit: str


def _int_attribute(maximum: int, unit: str) -> Any:
    return field(default=0, metadata={"range": IntRange(maximum, unit)})


DAY_MS = 86_400_000  # no delay attribute may exceed a day: anything longer is a typo


class Attributes:
    """Base of the attribute dataclasses: integer fields, zero by default, as in Toxiproxy.

    Subclasses are frozen dataclasses whose fields are made with ``_int_attribute``; the
    JSON form always carries every field. :meth:`check` is the hook for rules that span
    fields (the slicer's ``size_variation < average_size``, for instance).
    """

    __slots__ = ()

    def check(self) -> None:
        """Raise :class:`InvalidAttributes` if the combination of values is invalid."""

    def to_json(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]


A = TypeVar("A", bound=Attributes)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _as_int(value: object, where: str, bounds: IntRange) -> int:
    """Accept a JSON integer (or a float with no fraction, as Python clients send 10.0)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidAttributes(f"{where} must be an integer ({bounds.unit}), got {_short(value)}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidAttributes(f"{where} must be a finite number, got {value}")
        if not value.is_integer():
            raise InvalidAttributes(
                f"{where} must be a whole number of {bounds.unit}, got {value}")
        value = int(value)
    if value < 0:
        raise InvalidAttributes(f"{where} must not be negative, got {value}")
    if value > bounds.maximum:
        raise InvalidAttributes(f"{where} must be at most {bounds.maximum} {bounds.unit}, "
                                f"got {value}")
    return value


def parse_attributes(cls: type[A], raw: object, *, toxic_type: str, base: A | None = None) -> A:
    """Build ``cls`` from a JSON object, starting from ``base`` (a partial merge) or zeros.

    Unknown keys are ignored, as Toxiproxy does; every known key is validated.
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise InvalidAttributes(f"attributes must be a JSON object, got {_short(raw)}")
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    values: dict[str, int] = {f.name: (getattr(base, f.name) if base is not None else 0)
                              for f in fields}
    for f in fields:
        if f.name in raw:
            values[f.name] = _as_int(raw[f.name], f"attribute {f.name} of {toxic_type}",
                                     f.metadata["range"])
    attributes = cls(**values)
    attributes.check()
    return attributes


# -------------------------------------------------------------------------------- toxics


class Toxic(Generic[A]):
    """One toxic on one direction of one connection; by default it passes everything on.

    ``started_at`` is when the toxic became active on this connection (connection opened,
    toxic added, or toxicity raised so that it applies). ``rng`` is this connection's own
    generator for this toxic, so draws do not depend on other connections or toxics.
    """

    def __init__(self, attributes: A, started_at: float, rng: random.Random) -> None:
        self.attributes = attributes
        self.started_at = started_at
        self.rng = rng

    def on_chunk(self, data: bytes, at: float) -> list[Command]:
        return [Deliver(data, at)]

    def on_eof(self, at: float) -> list[Command]:
        return [Close(at)]

    def deadline(self) -> float | None:
        """When this toxic next needs :meth:`on_tick`, or None."""
        return None

    def on_tick(self, now: float) -> list[Command]:
        return []

    def update(self, attributes: A, now: float) -> list[Command]:
        self.attributes = attributes
        return []

    def on_remove(self, now: float) -> list[Command]:
        """Hand back held data; a toxic whose removal would corrupt the stream closes it."""
        return []

    def held_bytes(self) -> int:
        """Bytes held back right now; the relay stops reading while too much is held."""
        return 0


@dataclass(frozen=True, slots=True)
class NoopAttributes(Attributes):
    pass


class NoopToxic(Toxic[NoopAttributes]):
    """Passes everything on unchanged (Toxiproxy's hidden ``noop``)."""


@dataclass(frozen=True, slots=True)
class LatencyAttributes(Attributes):
    latency: int = _int_attribute(DAY_MS, "ms")
    jitter: int = _int_attribute(DAY_MS, "ms")


class LatencyToxic(Toxic[LatencyAttributes]):
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
        self._held_bytes = 0
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

    def _release(self, data: bytes | None, at: float) -> Command:
        if data is None:
            return Close(at)
        self._held_bytes -= len(data)
        return Deliver(data, at)

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

    def held_bytes(self) -> int:
        return self._held_bytes


@dataclass(frozen=True, slots=True)
class BandwidthAttributes(Attributes):
    rate: int = _int_attribute(10**9, "KB/s")


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


@dataclass(frozen=True, slots=True)
class ResetPeerAttributes(Attributes):
    timeout: int = _int_attribute(DAY_MS, "ms")


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


# ------------------------------------------------------------------------------ registry


@dataclass(frozen=True, slots=True)
class ToxicType(Generic[A]):
    """A kind of toxic the API accepts: its name, attribute class and constructor."""

    name: str
    attributes: type[A]
    factory: Callable[[A, float, random.Random], Toxic[A]]

    def parse(self, raw: object, base: A | None = None) -> A:
        return parse_attributes(self.attributes, raw, toxic_type=self.name, base=base)

    def create(self, attributes: A, started_at: float, rng: random.Random) -> Toxic[A]:
        return self.factory(attributes, started_at, rng)


TOXIC_TYPES: dict[str, ToxicType[Any]] = {}


def register(toxic_type: ToxicType[Any]) -> None:
    """Make a toxic type available to the API (and to ``-config`` files)."""
    TOXIC_TYPES[toxic_type.name] = toxic_type


register(ToxicType("noop", NoopAttributes, NoopToxic))
register(ToxicType("latency", LatencyAttributes, LatencyToxic))
register(ToxicType("bandwidth", BandwidthAttributes, BandwidthToxic))
register(ToxicType("reset_peer", ResetPeerAttributes, ResetPeerToxic))
