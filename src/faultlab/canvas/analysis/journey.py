"""A journey's requirement structure: what must be up for its request to succeed.

A node *serves* a request when it is up (enough instances: one of a service's, a quorum of a
datastore's) and each call it makes in the journey succeeds: a hard call when its callee
serves, a soft call when its callee serves or its fallback does (probability c). The journey
succeeds when its entry serves. The calls form a DAG (the loader refuses cycles).

Availability is computed exactly: zones are conditioned on (every up/down combination of the
zones the journey's nodes live in), and given the zones every node is up independently. A
node reached by one path from the entry occurs once in the structure, so its probability
multiplies in; a node reached by several paths (a shared datastore) is *fixed*: the
structure is summed over the up/down states of the shared nodes and of everything below them
(Shannon expansion), which keeps shared failures counted once. When that enumeration would
exceed :data:`MAX_STATES`, shared nodes are treated as independent at each occurrence and
the figure is marked inexact (``exact`` False), never silently.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Collection, Iterator, Mapping

from faultlab.canvas.analysis.availability import zone_states
from faultlab.canvas.analysis.timeouts import call_worst_case, serial
from faultlab.canvas.model import Canvas, Dependency

__all__ = ["MAX_PATHS", "MAX_STATES", "JourneyGraph"]

#: most (zone state x shared state) combinations summed exactly per journey
MAX_STATES = 1 << 16
#: most call paths from the entry walked per journey (retries, pools)
MAX_PATHS = 10_000

#: P(node up | zones down)
NodeUp = Callable[[str, frozenset[str]], float]


class JourneyGraph:
    """The calls of one journey, from its entry, in topological order."""

    def __init__(self, canvas: Canvas, name: str) -> None:
        journey = canvas.journeys[name]
        self.name, self.entry = name, journey.entry
        self.calls: tuple[Dependency, ...] = tuple(canvas.calls(name))
        self.children: dict[str, list[Dependency]] = {}
        for d in self.calls:
            self.children.setdefault(d.caller, []).append(d)
        self.order = self._topological()  # parents before children
        self.nodes: tuple[str, ...] = tuple(self.order)

    def _topological(self) -> list[str]:
        seen: set[str] = set()
        post: list[str] = []
        stack: list[tuple[str, int]] = [(self.entry, 0)]
        seen.add(self.entry)
        while stack:
            node, k = stack[-1]
            kids = self.children.get(node, [])
            if k == len(kids):
                stack.pop()
                post.append(node)
                continue
            stack[-1] = (node, k + 1)
            callee = kids[k].callee
            if callee not in seen:
                seen.add(callee)
                stack.append((callee, 0))
        return post[::-1]

    # --- structure -------------------------------------------------------------------

    def served(self, down: Collection[str], fallbacks: bool = True) -> bool:
        """Whether the journey succeeds with the ``down`` nodes down and every other node up;
        ``fallbacks``: soft calls' fallbacks serve (else a soft call needs its callee)."""
        ok: dict[str, bool] = {}
        for node in reversed(self.order):
            ok[node] = node not in down and all(
                ok[d.callee] or (fallbacks and d.kind == "soft")
                for d in self.children.get(node, []))
        return ok[self.entry]

    def availability(self, node_up: NodeUp, zones: Mapping[str, float],
                     zones_of: Mapping[str, Collection[str]]) -> tuple[float, bool]:
        """P(the journey succeeds), and whether the figure is exact (see the module)."""
        used = {z: zones.get(z, 1.0) for n in self.nodes for z in zones_of.get(n, ())}
        states = list(zone_states(used))
        fixed = self._fixed()
        total, exact = 0.0, True
        for down, p_zones in states:
            up = {n: node_up(n, down) for n in self.nodes}
            nodes = [n for n in self.order if n in fixed and 0.0 < up[n] < 1.0]
            edges = [d for d in self.calls if d.caller in fixed and d.kind == "soft"
                     and d.fallback_success < 1.0]
            if len(states) << (len(nodes) + len(edges)) > MAX_STATES:
                exact = False
                total += p_zones * self._tree(up, {}, {})
                continue
            part = 0.0
            for values in itertools.product((True, False), repeat=len(nodes) + len(edges)):
                weight = 1.0
                state: dict[str, bool] = {}
                for n, v in zip(nodes, values, strict=False):
                    state[n] = v
                    weight *= up[n] if v else 1.0 - up[n]
                fb: dict[str, bool] = {}
                for d, v in zip(edges, values[len(nodes):], strict=True):
                    fb[d.id] = v
                    weight *= d.fallback_success if v else 1.0 - d.fallback_success
                for n in fixed:
                    state.setdefault(n, up[n] >= 1.0)
                part += weight * self._tree(up, state, fb)
            total += p_zones * part
        return min(1.0, max(0.0, total)), exact

    def _fixed(self) -> set[str]:
        """Nodes reached by more than one path from the entry, and everything below them."""
        paths: dict[str, int] = {self.entry: 1}
        for node in self.order:
            for d in self.children.get(node, []):
                paths[d.callee] = paths.get(d.callee, 0) + paths.get(node, 0)
        fixed = {n for n, count in paths.items() if count > 1}
        for node in self.order:  # parents first: a fixed node fixes its callees
            if node in fixed:
                fixed.update(d.callee for d in self.children.get(node, []))
        return fixed

    def _tree(self, up: Mapping[str, float], state: Mapping[str, bool],
              fallback: Mapping[str, bool]) -> float:
        """P(the entry serves) with the ``state`` nodes and ``fallback`` outcomes given and
        every other node independent (each occurs once, or is treated so)."""
        prob: dict[str, float] = {}
        for node in reversed(self.order):
            if node in state:
                served = state[node] and all(
                    prob[d.callee] >= 1.0 or (d.kind == "soft" and fallback.get(
                        d.id, d.fallback_success >= 1.0))
                    for d in self.children.get(node, []))
                prob[node] = 1.0 if served else 0.0
                continue
            p = up[node]
            for d in self.children.get(node, []):
                c = d.fallback_success
                p *= 1.0 - (1.0 - prob[d.callee]) * (1.0 - c)
            prob[node] = p
        return prob[self.entry]

    # --- paths and times ---------------------------------------------------------------

    def paths(self) -> Iterator[tuple[Dependency, ...]]:
        """Every call path from the entry (each prefix once, depth first in file order), at
        most :data:`MAX_PATHS` of them."""
        count = 0
        stack: list[tuple[Dependency, ...]] = [(d,) for d in
                                                reversed(self.children.get(self.entry, []))]
        while stack and count < MAX_PATHS:
            path = stack.pop()
            count += 1
            yield path
            stack.extend((*path, d) for d in reversed(self.children.get(path[-1].callee, [])))

    def truncated(self) -> bool:
        return sum(1 for _ in self.paths()) >= MAX_PATHS

    def worst_case(self) -> dict[str, float]:
        """Each node's worst-case time when everything below it hangs: the sum of its calls'
        a·t + Σ backoffs (capped by their deadlines); inf where a call has neither."""
        out: dict[str, float] = {}
        for node in reversed(self.order):
            out[node] = serial([call_worst_case(d.attempts, d.timeout, d.waits(), d.deadline)
                                for d in self.children.get(node, [])])
        return out


def finite(x: float) -> float | None:
    """A figure for JSON: None stands for unbounded."""
    return x if math.isfinite(x) else None
