"""Operation values: one canonical, hashable form for checkers, and one text form for people.

Histories carry JSON-like values (:data:`~faultlab.history.model.Value`). Two of their shapes
trip up code that must hash or compare them:

- JSON objects and EDN maps arrive as ``dict``, which cannot be hashed: not a set element, not
  counted in a multiset, not part of a model state;
- Python's ``True == 1`` and ``hash(True) == hash(1)``, so a register written ``1`` and read
  ``true`` would look consistent, and ``#{1 true}`` would have one element.

:func:`canonical` maps every value to a form with the same meaning that hashes and compares
as JSON does: objects become :class:`FrozenMap` (a read-only mapping, equal to any mapping with
the same items), arrays tuples, sets frozensets, booleans :class:`Flag` (equal only to the same
boolean), recursively; numbers, strings and ``null`` stay as they are (``1 == 1.0``, as JSON
numbers). Checkers canonicalise every operation they are given (:func:`canonical_op`), so each
checker and model accepts any value, whatever its reader or recorder produced.

:func:`render` is the only way values are shown to people: JSON-like text (``null``,
``true``, ``"k1"``, ``[1, 2]``, ``{"a": 1}``), sets as ``#{1, 2}``, always on one line, and cut
to a length limit. No Python repr (``None``, ``(1,)``, ``{}`` for an empty set) ever appears.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from faultlab.history.model import Op

__all__ = ["Flag", "FrozenMap", "canonical", "canonical_op", "render"]

# Characters str.splitlines() breaks at that json.dumps(ensure_ascii=False) leaves alone.
_ONE_LINE = {ord(c): f"\\u{ord(c):04x}" for c in "\x85\u2028\u2029"}


@dataclass(frozen=True, slots=True)
class Flag:
    """A JSON boolean in canonical form: equal to the same boolean only, never to 0 or 1."""

    value: bool

    def __bool__(self) -> bool:
        return self.value


class FrozenMap(Mapping[Any, Any]):
    """A read-only mapping of canonical keys to canonical values; hashable.

    Equal to any mapping (``dict`` included) with the same items, whatever their order.
    """

    __slots__ = ("_hash", "_items")

    def __init__(self, items: Mapping[Any, Any]) -> None:
        self._items = dict(items)
        self._hash: int | None = None

    def __getitem__(self, key: Any) -> Any:
        return self._items[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._items.items()))
        return self._hash

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        return len(self) == len(other) and all(
            k in other and other[k] == v for k, v in self._items.items())

    def __repr__(self) -> str:
        return f"FrozenMap({render(self, limit=0)})"


_SCALARS = frozenset({int, float, str, type(None)})
_DONE = _SCALARS | {Flag, FrozenMap}


def canonical(value: Any) -> Any:
    """``value`` in canonical form (see the module doc); returns ``value`` itself when it
    already is, so canonicalising a history of plain values allocates nothing."""
    kind = type(value)
    if kind in _DONE:
        return value
    if kind is bool:
        return Flag(value)
    if kind is tuple and set(map(type, value)) <= _DONE:
        return value  # the common case (a read of plain elements), without a copy
    if isinstance(value, (tuple, list)):
        items = [canonical(v) for v in value]
        if kind is tuple and all(a is b for a, b in zip(items, value, strict=True)):
            return value
        return tuple(items)
    if isinstance(value, (frozenset, set)):
        return frozenset(canonical(v) for v in value)
    if isinstance(value, Mapping):
        return FrozenMap({canonical(k): canonical(v) for k, v in value.items()})
    return value


def canonical_op(op: Op) -> Op:
    """``op`` with its value in canonical form (the same object when it already is)."""
    value = canonical(op.value)
    if value is op.value:
        return op
    return type(op)(op.index, op.process, op.f, value, op.invoke_ns, op.complete_ns,
                    op.outcome, op.key, op.error, op.source)


def render(value: Any, limit: int = 200) -> str:
    """JSON-like one-line text for ``value``, cut after about ``limit`` characters (0: never)."""
    text = _render(value).translate(_ONE_LINE)
    if limit and len(text) > limit:
        return text[:limit] + f"… ({len(text)} characters)"
    return text


def _render(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, (bool, Flag)):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value):
            return repr(value)
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_render(v) for v in value) + "]"
    if isinstance(value, (frozenset, set)):
        return "#{" + ", ".join(sorted(_render(v) for v in value)) + "}"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_render(k)}: {_render(v)}" for k, v in value.items()) + "}"
    return str(value)
