"""Partitions between lab hosts, verified from inside the hosts: every pair tries a real TCP
connection both ways; one-way cuts show their direction with UDP; after the revert every
pair talks again and no faultlab table is left."""

from __future__ import annotations

import os
import subprocess
import time
from typing import Any

import pytest

from faultlab.lab.control import lab_down

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="labs need root")

N5 = ["n1", "n2", "n3", "n4", "n5"]


def all_pairs(names: list[str]) -> set[tuple[str, str]]:
    return {(a, b) for a in names for b in names if a != b}


def reachable_given(names: list[str], cut: set[frozenset[str]]) -> set[tuple[str, str]]:
    """TCP pairs that must still connect: those not cut (a cut in either direction stops a
    handshake both ways)."""
    return {(a, b) for a, b in all_pairs(names) if frozenset((a, b)) not in cut}


def cuts(*groups: tuple[list[str], list[str]]) -> set[frozenset[str]]:
    return {frozenset((a, b)) for left, right in groups for a in left for b in right}


def apply(kit: Any, cluster: Any, spec: dict[str, Any], seed: int = 1
          ) -> tuple[Any, dict[str, Any]]:
    fault = cluster.fault(spec, seed=seed)
    undo = kit.run(fault.prepare())
    started = time.perf_counter()
    kit.run(fault.inject())
    print(f"{spec['mode']}: inject took {time.perf_counter() - started:.3f}s")
    return fault, undo.params


def revert(kit: Any, cluster: Any, fault: Any) -> None:
    started = time.perf_counter()
    kit.run(fault.revert())
    print(f"revert took {time.perf_counter() - started:.3f}s")
    assert kit.tables(cluster.state) == {}
    assert cluster.tcp_reachable() == all_pairs(cluster.names)


# mode -> (extra spec, the pairs it must cut, among n1..n5 in list order)
FIXED: dict[str, tuple[dict[str, Any], set[frozenset[str]]]] = {
    "isolate": ({"node": "n3"}, cuts((["n3"], ["n1", "n2", "n4", "n5"]))),
    "halves": ({}, cuts((["n1", "n2"], ["n3", "n4", "n5"]))),
    "majority_minority": ({"minority": ["n4", "n5"]}, cuts((["n4", "n5"], ["n1", "n2", "n3"]))),
    # n3 (first of the second half) is the bridge: it talks to both sides
    "bridge": ({}, cuts((["n1", "n2"], ["n4", "n5"]))),
    # in ring order, each sees its neighbours within distance 1: n1 sees n5, n1, n2
    "majorities_ring": ({}, cuts((["n1"], ["n3", "n4"]), (["n2"], ["n4", "n5"]),
                                 (["n3"], ["n5"]))),
}


@pytest.mark.parametrize("mode", sorted(FIXED))
def test_each_fixed_mode_cuts_exactly_its_pairs(make_cluster: Any, kit: Any, mode: str) -> None:
    cluster = make_cluster(5)
    assert cluster.tcp_reachable() == all_pairs(N5)
    extra, cut = FIXED[mode]
    fault, params = apply(kit, cluster, {"kind": "partition", "mode": mode, "hosts": N5, **extra})
    journaled = {frozenset(p.split("->")) for p in params["cut"]}
    assert journaled == cut
    assert fault.applied() == "cut " + ", ".join(params["cut"])
    assert cluster.tcp_reachable() == reachable_given(N5, cut)
    revert(kit, cluster, fault)


def _components(params: dict[str, Any], names: list[str]) -> list[set[str]]:
    """The groups of a complete grudge: hosts that drop exactly the same others."""
    grudge = {n: frozenset(params["grudge"].get(n, [])) for n in names}
    groups: dict[frozenset[str], set[str]] = {}
    for n, g in grudge.items():
        groups.setdefault(g, set()).add(n)
    return sorted(groups.values(), key=len)


@pytest.mark.parametrize(("mode", "sizes"), [("isolate", [1, 4]), ("random_halves", [2, 3]),
                                             ("majority_minority", [2, 3])])
def test_random_modes_are_seeded_and_cut_what_they_journal(make_cluster: Any, kit: Any, mode: str,
                                                           sizes: list[int]) -> None:
    cluster = make_cluster(5)
    fault, params = apply(kit, cluster, {"kind": "partition", "mode": mode, "hosts": N5}, seed=7)
    groups = _components(params, N5)
    assert [len(g) for g in groups] == sizes
    cut = cuts((sorted(groups[0]), sorted(groups[1])))
    assert cluster.tcp_reachable() == reachable_given(N5, cut)
    # the same seed draws the same partition: a run replays
    again = cluster.fault({"kind": "partition", "mode": mode, "hosts": N5}, seed=7)
    drawn = kit.run(again.prepare()).params["grudge"]
    kit.run(again.revert())
    assert drawn == params["grudge"]
    revert(kit, cluster, fault)


def test_a_cut_from_to_both_ways_and_one_way_with_udp(make_cluster: Any, kit: Any) -> None:
    cluster = make_cluster(3)
    fault, params = apply(kit, cluster, {"kind": "partition", "mode": "cut", "from": ["n1"],
                                    "to": ["n2", "n3"]})
    assert sorted(params["cut"]) == ["n1->n2", "n1->n3", "n2->n1", "n3->n1"]
    assert cluster.tcp_reachable() == {("n2", "n3"), ("n3", "n2")}
    revert(kit, cluster, fault)

    fault, params = apply(kit, cluster, {"kind": "partition", "mode": "cut", "from": ["n1"],
                                    "to": ["n2"], "both_ways": False})
    assert params["cut"] == ["n1->n2"] and params["grudge"] == {"n2": ["n1"]}
    # TCP needs both directions: the pair is cut both ways; n3 is untouched
    assert cluster.tcp_reachable() == all_pairs(cluster.names) - {("n1", "n2"), ("n2", "n1")}
    cluster.send_udp("n1", "n2", 30)
    cluster.send_udp("n2", "n1", 30)
    cluster.send_udp("n3", "n2", 30)  # sent after n1's: once these arrived, n1's would have
    kit.wait_for(lambda: cluster.udp_received("n2", "n1") == 30, 60, "n2's datagrams at n1")
    kit.wait_for(lambda: cluster.udp_received("n3", "n2") == 30, 60, "n3's datagrams at n2")
    assert cluster.udp_received("n1", "n2") == 0
    revert(kit, cluster, fault)
    cluster.send_udp("n1", "n2", 5)
    kit.wait_for(lambda: cluster.udp_received("n1", "n2") == 5, 60, "n1's datagrams after revert")


def test_revert_is_idempotent_and_a_gone_lab_is_nothing_to_undo(make_cluster: Any,
                                                                kit: Any) -> None:
    cluster = make_cluster(3)
    fault, _ = apply(kit, cluster, {"kind": "partition", "mode": "halves",
                               "hosts": ["n1", "n2", "n3"]})
    keeper = fault.undo.params["keeper"]
    kit.run(fault.revert())
    kit.run(fault.revert())
    assert kit.tables(cluster.state) == {}
    assert not os.path.exists(f"/proc/{keeper[0]}") or keeper[0] not in kit.watchdogs()
    fault, _ = apply(kit, cluster, {"kind": "partition", "mode": "halves",
                               "hosts": ["n1", "n2", "n3"]})
    cluster.stop_agents()
    cluster.agents.clear()
    lab_down(cluster.state.name)
    from faultlab.faults.undo import execute_undo

    done = kit.run(execute_undo(fault.undo, 30.0))
    assert "nothing to undo" in done, done
    kit.wait_for(lambda: not kit.watchdogs(), 30, "the watchdog to be stopped by the undo")


def test_the_watchdog_removes_the_tables_when_the_lease_lapses(make_cluster: Any, kit: Any) -> None:
    cluster = make_cluster(3)
    fault = cluster.fault({"kind": "partition", "mode": "isolate", "hosts": ["n1", "n2", "n3"],
                           "node": "n1", "duration": "1s"}, grace=1.0)
    kit.run(fault.prepare())
    kit.run(fault.inject())
    assert set(kit.tables(cluster.state)) == {"n1", "n2", "n3"}
    # nobody reverts: the watchdog does, once the 2s lease lapsed
    kit.wait_for(lambda: kit.tables(cluster.state) == {}, 60, "the watchdog to remove the tables")
    kit.wait_for(lambda: not kit.watchdogs(), 30, "the watchdog to exit")
    assert cluster.tcp_reachable() == all_pairs(cluster.names)


def test_inject_and_revert_time(make_cluster: Any, kit: Any) -> None:
    """Figures for the docs (printed; not asserted: a busy machine is slower)."""
    cluster = make_cluster(5)
    fault = cluster.fault({"kind": "partition", "mode": "majorities_ring", "hosts": N5})
    kit.run(fault.prepare())
    t0 = time.perf_counter()
    kit.run(fault.inject())
    t1 = time.perf_counter()
    kit.run(fault.revert())
    t2 = time.perf_counter()
    print(f"5 hosts, 5 tables: inject {1000 * (t1 - t0):.1f} ms, revert "
          f"{1000 * (t2 - t1):.1f} ms")
    out = subprocess.run(cluster.inside("n1", "nft", "list", "ruleset"), capture_output=True,
                         text=True, check=True)
    assert "faultlab_" not in out.stdout
