"""The toxic protocol: commands, the :class:`Toxic` base class, attributes, the registry.

See :mod:`faultlab.proxy.toxics` for the rules every toxic keeps.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

__all__ = [
    "DAY_MS",
    "TOXIC_TYPES",
    "Attributes",
    "Close",
    "Command",
    "Deliver",
    "Drop",
    "Hangup",
    "HoldingToxic",
    "IntRange",
    "InvalidAttributes",
    "NoopAttributes",
    "NoopToxic",
    "Reply",
    "Reset",
    "TextRange",
    "Toxic",
    "ToxicType",
    "int_attribute",
    "parse_attributes",
    "register",
    "text_attribute",
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


@dataclass(frozen=True, slots=True)
class Hangup:
    """Close the whole connection gracefully (FIN both ways) at ``at``, after the bytes
    this direction delivered before it; what is still queued the other way is dropped."""

    at: float


@dataclass(frozen=True, slots=True)
class Reply:
    """Answer the *sender* with ``data`` instead of the receiver, then close the sender's
    side (the HTTP toxics answer a request in the proxy's name)."""

    data: bytes
    at: float


Command = Deliver | Close | Reset | Drop | Hangup | Reply


# ---------------------------------------------------------------------------- attributes


class InvalidAttributes(ValueError):
    """An attribute value is of the wrong type or out of range; the message says which."""


@dataclass(frozen=True, slots=True)
class IntRange:
    """Bounds and unit of an integer attribute; the unit appears in error messages."""

    maximum: int
    unit: str
    minimum: int = 0


def int_attribute(maximum: int, unit: str, default: int = 0, minimum: int = 0) -> Any:
    return field(default=default, metadata={"range": IntRange(maximum, unit, minimum)})


@dataclass(frozen=True, slots=True)
class TextRange:
    """Bounds of a string attribute: at most ``maximum`` printable ASCII characters."""

    maximum: int


def text_attribute(maximum: int) -> Any:
    """A string attribute (the HTTP toxics' method and path), empty by default."""
    return field(default="", metadata={"text": TextRange(maximum)})


DAY_MS = 86_400_000  # no delay attribute may exceed a day: anything longer is a typo


class Attributes:
    """Base of the attribute dataclasses: integer fields, zero by default, as in Toxiproxy.

    Subclasses are frozen dataclasses whose fields are made with :func:`int_attribute`; the
    JSON form always carries every field. :meth:`check` is the hook for rules that span
    fields (the slicer's ``size_variation < average_size``, for instance).
    """

    __slots__ = ()

    def check(self) -> None:
        """Raise :class:`InvalidAttributes` if the combination of values is invalid."""

    def to_json(self) -> dict[str, int | str]:
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
    if value < bounds.minimum or (bounds.minimum and value > bounds.maximum):
        if bounds.minimum == 0:
            raise InvalidAttributes(f"{where} must not be negative, got {value}")
        raise InvalidAttributes(f"{where} must be from {bounds.minimum} to {bounds.maximum} "
                                f"{bounds.unit}, got {value}")
    if value > bounds.maximum:
        raise InvalidAttributes(f"{where} must be at most {bounds.maximum} {bounds.unit}, "
                                f"got {value}")
    return value


def _as_text(value: object, where: str, bounds: TextRange) -> str:
    if not isinstance(value, str):
        raise InvalidAttributes(f"{where} must be a string, got {_short(value)}")
    if len(value) > bounds.maximum or not all(" " < c <= "~" for c in value):
        raise InvalidAttributes(f"{where} must be at most {bounds.maximum} printable ASCII "
                                f"characters without spaces, got {_short(value)}")
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
    start = base if base is not None else cls()
    values: dict[str, int | str] = {f.name: getattr(start, f.name) for f in fields}
    for f in fields:
        # Every field, given or not: a default may be out of range (slicer's average_size
        # of 0, which Toxiproxy's CLI sends and which overflows Toxiproxy's stack).
        value = raw[f.name] if f.name in raw else values[f.name]
        where = f"attribute {f.name} of {toxic_type}"
        if "text" in f.metadata:
            values[f.name] = _as_text(value, where, f.metadata["text"])
        else:
            values[f.name] = _as_int(value, where, f.metadata["range"])
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

    #: False for toxics that act only when a connection opens: they leave the relay's
    #: zero-copy fast path on.
    touches_data: ClassVar[bool] = True

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

    def connect_delay(self) -> float:
        """Seconds to wait, from the client's accept, before dialling the upstream. Asked
        when the client is accepted and again whenever a toxic changes while the dial
        waits; a toxic added after the accept has no say."""
        return 0.0

    def refuses_connection(self) -> bool:
        """True to turn the accepted client away (an RST) without dialling the upstream."""
        return False


@dataclass(frozen=True, slots=True)
class NoopAttributes(Attributes):
    pass


class HoldingToxic(Toxic[A]):
    """A toxic that holds chunks back and releases them later (latency, slicer, http_delay).

    Invariant: ``_held_bytes`` is the size of the data held; a subclass adds to it when it
    holds a chunk, and every held chunk leaves through :meth:`_release` (``None`` is a held
    end of stream), so the relay's backpressure always sees the true amount.
    """

    def __init__(self, attributes: A, started_at: float, rng: random.Random) -> None:
        super().__init__(attributes, started_at, rng)
        self._held_bytes = 0

    def _release(self, data: bytes | None, at: float) -> Command:
        if data is None:
            return Close(at)
        self._held_bytes -= len(data)
        return Deliver(data, at)

    def held_bytes(self) -> int:
        return self._held_bytes


class NoopToxic(Toxic[NoopAttributes]):
    """Passes everything on unchanged (Toxiproxy's hidden ``noop``)."""


# ------------------------------------------------------------------------------ registry


@dataclass(frozen=True, slots=True)
class ToxicType(Generic[A]):
    """A kind of toxic the API accepts: its name, attribute class and constructor."""

    name: str
    attributes: type[A]
    factory: Callable[[A, float, random.Random], Toxic[A]]
    #: The stream a toxic of this type gets when the request names none, and the streams
    #: it may be put on (the HTTP toxics read requests, so they live on ``upstream``).
    default_stream: str = "downstream"
    streams: frozenset[str] = frozenset({"upstream", "downstream"})

    def parse(self, raw: object, base: A | None = None) -> A:
        return parse_attributes(self.attributes, raw, toxic_type=self.name, base=base)

    def create(self, attributes: A, started_at: float, rng: random.Random) -> Toxic[A]:
        return self.factory(attributes, started_at, rng)


TOXIC_TYPES: dict[str, ToxicType[Any]] = {}


def register(toxic_type: ToxicType[Any]) -> None:
    """Make a toxic type available to the API (and to ``-config`` files)."""
    TOXIC_TYPES[toxic_type.name] = toxic_type
