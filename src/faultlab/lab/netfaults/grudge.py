"""Grudges: which host drops whose packets, computed from a partition's mode (Jepsen's
nemesis catalogue) and a seeded generator. Pure functions: no I/O, so every mode is tested
as a table.

A grudge maps each host to the set of hosts whose packets it drops (on input, by source
address), as Jepsen's ``grudge`` does. A host absent from the map drops nothing. Invariants:
no host holds a grudge against itself; every host named is one of the partition's hosts;
the result depends only on the hosts (in order), the mode's parameters and the generator's
state, so a run replays with its seed. Two hosts are *cut* (no TCP in either direction)
when either holds a grudge against the other: a TCP handshake needs packets both ways.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from enum import StrEnum

__all__ = ["Grudge", "Mode", "bisect", "bridge", "complete", "cut_pairs", "grudge_for",
           "isolate", "majorities_ring", "one_way", "picture"]

Grudge = dict[str, frozenset[str]]


class Mode(StrEnum):
    ISOLATE = "isolate"  # one node alone, the rest together
    HALVES = "halves"  # the first half (smaller when odd) and the rest, in list order
    RANDOM_HALVES = "random_halves"  # halves of a seeded shuffle
    MAJORITY_MINORITY = "majority_minority"  # a seeded minority of (n-1)//2 and the rest
    BRIDGE = "bridge"  # halves, but one node of the second half talks to everybody
    MAJORITIES_RING = "majorities_ring"  # each sees a majority, no two the same one
    CUT = "cut"  # explicit from/to sides


def complete(components: Iterable[Sequence[str]]) -> Grudge:
    """Every node drops packets from every node outside its own component."""
    parts = [list(c) for c in components]
    everyone = {n for c in parts for n in c}
    return {n: frozenset(everyone - set(c)) for c in parts for n in c if everyone - set(c)}


def bisect(nodes: Sequence[str]) -> tuple[list[str], list[str]]:
    """Jepsen's bisect: split at floor(n/2), so the first half is the smaller when odd."""
    half = len(nodes) // 2
    return list(nodes[:half]), list(nodes[half:])


def isolate(nodes: Sequence[str], node: str) -> Grudge:
    return complete([[node], [n for n in nodes if n != node]])


def bridge(nodes: Sequence[str]) -> Grudge:
    """Halves, with the first node of the second half kept in touch with both sides."""
    first, second = bisect(nodes)
    middle = second[0]
    grudge = complete([first, second])
    return {n: g - {middle} for n, g in grudge.items() if n != middle and g - {middle}}


def majorities_ring(nodes: Sequence[str]) -> Grudge:
    """In ring order, each node sees the nodes within ring distance k (itself included), k
    the smallest for which that window is a majority; it drops everyone else. Distance is
    symmetric, so the grudge is; neighbours see different majorities."""
    n = len(nodes)
    majority = n // 2 + 1
    k = majority // 2  # ceil((majority - 1) / 2): the window 2k + 1 is a majority
    out: Grudge = {}
    for i, node in enumerate(nodes):
        far = frozenset(nodes[j] for j in range(n) if min((i - j) % n, (j - i) % n) > k)
        if far:
            out[node] = far
    return out


def one_way(sources: Sequence[str], dests: Sequence[str], both_ways: bool) -> Grudge:
    """Packets from ``sources`` to ``dests`` are dropped (each dest drops the sources), and
    with ``both_ways`` the reverse too."""
    out: dict[str, set[str]] = {}
    for d in dests:
        out.setdefault(d, set()).update(sources)
    if both_ways:
        for s in sources:
            out.setdefault(s, set()).update(dests)
    return {n: frozenset(g) for n, g in out.items() if g}


def grudge_for(mode: Mode, nodes: Sequence[str], rng: random.Random, *,
               node: str | None = None, minority: Sequence[str] | None = None,
               shuffle: bool = False, sources: Sequence[str] = (),
               dests: Sequence[str] = (), both_ways: bool = True) -> Grudge:
    """The grudge of one partition. Draws from ``rng`` only where the mode is random (an
    isolate without ``node``, random_halves, a majority_minority without ``minority``, or
    ``shuffle``), always in the same order, so a seed replays it."""
    order = list(nodes)
    if shuffle or mode is Mode.RANDOM_HALVES:
        rng.shuffle(order)
    if mode is Mode.ISOLATE:
        return isolate(order, node if node is not None else rng.choice(order))
    if mode in (Mode.HALVES, Mode.RANDOM_HALVES):
        return complete(bisect(order))
    if mode is Mode.MAJORITY_MINORITY:
        small = list(minority) if minority is not None else rng.sample(order,
                                                                         (len(order) - 1) // 2)
        return complete([small, [n for n in order if n not in small]])
    if mode is Mode.BRIDGE:
        return bridge(order)
    if mode is Mode.MAJORITIES_RING:
        return majorities_ring(order)
    return one_way(sources, dests, both_ways)


def cut_pairs(grudge: Grudge) -> list[tuple[str, str]]:
    """The directed pairs (src, dst) whose packets are dropped (dst holds the grudge)."""
    return sorted((src, dst) for dst, srcs in grudge.items() for src in srcs)


def picture(nodes: Sequence[str], grudge: Grudge) -> list[str]:
    """A matrix for people: row = sender, column = receiver; ``x`` dropped, ``.`` delivered."""
    width = max(len(n) for n in nodes)
    lines = [" " * width + " " + " ".join(n.rjust(width) for n in nodes)]
    for src in nodes:
        cells = ["-" if src == dst else ("x" if src in grudge.get(dst, ()) else ".")
                 for dst in nodes]
        lines.append(src.rjust(width) + " " + " ".join(c.rjust(width) for c in cells))
    return lines
