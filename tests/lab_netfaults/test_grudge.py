"""Grudges and partition specs, without a lab: the invariants of every mode, and the errors
a file gets."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from faultlab.lab.netfaults.grudge import Mode, cut_pairs, grudge_for
from faultlab.lab.netfaults.partition import PartitionSpec

RANDOM_OR_FIXED = [Mode.ISOLATE, Mode.HALVES, Mode.RANDOM_HALVES, Mode.MAJORITY_MINORITY,
                   Mode.BRIDGE, Mode.MAJORITIES_RING]


@given(st.integers(4, 30), st.sampled_from(RANDOM_OR_FIXED), st.integers(0, 2**32),
       st.booleans())
def test_every_mode_cuts_among_its_hosts_never_itself_and_replays(
        n: int, mode: Mode, seed: int, shuffle: bool) -> None:
    nodes = [f"h{i}" for i in range(n)]
    shuffle = shuffle and mode in (Mode.HALVES, Mode.BRIDGE, Mode.MAJORITIES_RING)
    g = grudge_for(mode, nodes, random.Random(seed), shuffle=shuffle)
    assert g == grudge_for(mode, nodes, random.Random(seed), shuffle=shuffle)
    assert g and all(n in nodes and n not in s and s <= set(nodes) for n, s in g.items())
    # all of these are symmetric: a cut both ways
    assert {(a, b) for a, b in cut_pairs(g)} == {(b, a) for a, b in cut_pairs(g)}
    if mode is Mode.MAJORITIES_RING:
        seen = [frozenset(set(nodes) - g.get(x, frozenset())) for x in nodes]
        assert all(2 * len(v) > n for v in seen)  # each sees a majority...
        assert len(set(seen)) == n  # ...and no two the same one


def spec(**fields: Any) -> PartitionSpec:
    return PartitionSpec.model_validate({"kind": "partition", "duration": "1s", **fields})


@pytest.mark.parametrize(("fields", "says"), [
    ({"mode": "majorities_ring", "hosts": ["a", "b", "c"]}, "at least 4"),
    ({"mode": "cut", "from": ["a"], "to": ["a"]}, "both sides"),
    ({"mode": "cut", "hosts": ["a", "b"]}, "from: and to:"),
    ({"mode": "halves", "hosts": ["a", "b"], "from": ["a"]}, "belong to mode cut"),
    ({"mode": "isolate", "hosts": ["a", "b"], "node": "c"}, "one of hosts"),
    ({"mode": "majority_minority", "hosts": ["a", "b", "c", "d"], "minority": ["a", "b"]},
     "fewer than half"),
    ({"mode": "isolate", "hosts": ["a", "b"], "shuffle": True}, "shuffle"),
    ({"mode": "halves", "hosts": ["a", "b"], "target": "a"}, "not target:"),
    ({"mode": "halves", "hosts": ["a", "a", "b"]}, "named twice"),
])
def test_specs_a_partition_refuses(fields: dict[str, Any], says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        spec(**fields)


def test_target_refs_locate_every_host() -> None:
    assert spec(mode="cut", **{"from": ["a"], "to": ["b", "c"]}).target_refs() == [
        (("from", 0), "a"), (("to", 0), "b"), (("to", 1), "c")]
    assert spec(mode="halves", hosts=["a", "b"]).target_names == ["a", "b"]
