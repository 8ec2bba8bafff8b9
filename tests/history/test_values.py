"""Canonical values (hashable, JSON equality) and their rendering for people."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from faultlab.history.values import Flag, FrozenMap, canonical, render

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 5),
                    st.floats(allow_nan=False, allow_infinity=False, width=32),
                    st.text(max_size=4))
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.text(max_size=3), inner, max_size=3), max_leaves=12)


def thaw(value: Any) -> Any:
    """JSON-decoded form → the shapes readers produce (arrays as tuples)."""
    if isinstance(value, list):
        return tuple(thaw(v) for v in value)
    if isinstance(value, dict):
        return {k: thaw(v) for k, v in value.items()}
    return value


@settings(max_examples=300, deadline=None)
@given(JSON, JSON)
def test_canonical_values_hash_and_compare_as_json_does(a: Any, b: Any) -> None:
    ca, cb = canonical(thaw(a)), canonical(thaw(b))
    hash(ca)
    hash(cb)
    # JSON equality: the same document up to object key order (numbers compare as numbers).
    assert (ca == cb) == (json.loads(json.dumps(a, sort_keys=True)) ==
                          json.loads(json.dumps(b, sort_keys=True)) and _same_bools(a, b))
    assert canonical(ca) is ca  # idempotent, and free the second time


def _same_bools(a: Any, b: Any) -> bool:
    """Python's ``True == 1`` is not JSON's: booleans must match booleans."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_bools(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_bools(a[k], b[k]) for k in a)
    return True


def test_booleans_are_not_numbers_and_objects_are_hashable() -> None:
    assert canonical(True) != canonical(1) and canonical(False) != canonical(0)
    assert len({canonical(True), canonical(1), canonical(1.0)}) == 2
    assert canonical({"a": [1, True]}) == {"a": (1, Flag(True))}
    assert hash(canonical({"a": 1, "b": 2})) == hash(canonical({"b": 2, "a": 1}))
    assert isinstance(canonical({"a": {"b": []}})["a"], FrozenMap)


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_rendering_is_json_for_json_values_on_one_line(value: Any) -> None:
    text = render(thaw(value), limit=0)
    assert json.loads(text) == value or _has_float(value)
    assert render(canonical(thaw(value)), limit=0) == text
    assert len(text.splitlines()) <= 1


def _has_float(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, list):
        return any(_has_float(v) for v in value)
    return isinstance(value, dict) and any(_has_float(v) for v in value.values())


def test_rendering_never_shows_python_reprs() -> None:
    cases = {None: "null", True: "true", (): "[]", (1,): "[1]", frozenset(): "#{}",
             frozenset({2, 1}): "#{1, 2}", "k1": '"k1"', "a\u2028b": '"a\\u2028b"'}
    for value, text in cases.items():
        assert render(value) == text
    assert render({}) == "{}" and render({"a": None}) == '{"a": null}'
    assert render(canonical({"a": (True,)})) == '{"a": [true]}'
    assert render(list(range(100)), limit=20).endswith("(390 characters)")
