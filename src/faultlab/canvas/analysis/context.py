"""What the rules share: one canvas's figures, each computed once (availabilities, losses,
paths, worst cases, the load each call receives when its callee fails)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

from faultlab.canvas.analysis.availability import nines, node_availability, node_up
from faultlab.canvas.analysis.journey import JourneyGraph
from faultlab.canvas.analysis.pools import held, in_flight
from faultlab.canvas.analysis.retries import compounding, layer_factor
from faultlab.canvas.model import Canvas, Dependency

__all__ = ["Context", "EdgeLoad", "Options"]


@dataclass(frozen=True)
class Options:
    #: retries.amplification flags a call whose worst-case amplification is above this
    amplification_threshold: float = 10.0


@dataclass(frozen=True)
class EdgeLoad:
    """What reaches one call when its callee fails, over every journey that makes it."""

    dependency: Dependency
    journeys: tuple[str, ...]
    #: worst case over the call's paths: calls reaching the callee per journey request,
    #: with retry budgets (∏ of the compounding layers' factors), and without them
    amplification: float
    attempts_product: float
    path: tuple[str, ...]  # the nodes of the worst path, entry first
    factors: tuple[float, ...]  # the compounding layers' factors on it, top first
    retrying: tuple[str, ...]  # the compounding calls on it that retry (attempts > 1)
    calls_per_second: float  # λ of calls to it (retries above included), every journey
    hold: float  # seconds one call holds a slot when the callee hangs (inf: unbounded)
    in_flight: float  # per caller instance, λ·hold / instances


class Context:
    def __init__(self, canvas: Canvas, options: Options | None = None) -> None:
        self.canvas = canvas
        self.options = options or Options()
        self.zones = {name: z.availability for name, z in canvas.zones.items()}
        self.nodes = canvas.nodes()
        self.graphs = {name: JourneyGraph(canvas, name) for name in canvas.journeys}

    # --- nodes -------------------------------------------------------------------------

    def node_up(self, name: str, down: frozenset[str]) -> float:
        n = self.nodes[name]
        return node_up(n.instance_availability, n.needed, n.instance_zones(), down)

    @cached_property
    def node_availability(self) -> dict[str, float]:
        """Each node's availability with its zones."""
        return {name: node_availability(n.instance_availability, n.needed, n.instance_zones(),
                                        self.zones)
                for name, n in self.nodes.items()}

    def one_instance_stops(self, name: str) -> bool:
        """Losing any one instance (replica) stops the node."""
        n = self.nodes[name]
        return n.count - 1 < n.needed

    def lost_with_zone(self, zone: str) -> frozenset[str]:
        """The nodes that stop when ``zone`` is down (too few instances elsewhere)."""
        return frozenset(name for name, n in self.nodes.items()
                         if sum(1 for z in n.instance_zones() if z != zone) < n.needed)

    # --- journeys ----------------------------------------------------------------------

    @cached_property
    def availability(self) -> dict[str, tuple[float, bool]]:
        zones_of = {name: [z for z in n.instance_zones() if z is not None]
                    for name, n in self.nodes.items()}
        return {name: g.availability(self.node_up, self.zones, zones_of)
                for name, g in self.graphs.items()}

    @cached_property
    def worst_case(self) -> dict[str, dict[str, float]]:
        return {name: g.worst_case() for name, g in self.graphs.items()}

    def critical(self, journey: str) -> list[str]:
        """The nodes (entry included) whose loss alone fails the journey, in call order."""
        g = self.graphs[journey]
        return [n for n in g.nodes if not g.served({n})]

    def criticality(self, journey: str) -> float:
        """The nines of its availability SLO (1 when it has none): 99.9% -> 3."""
        slo = self.canvas.journeys[journey].slo.availability
        return round(nines(slo), 6) if slo is not None and slo < 1.0 else 1.0

    def weight(self, journeys: tuple[str, ...] | list[str]) -> float:
        """Ranking: Σ traffic (requests/s) x criticality of the journeys affected."""
        return round(math.fsum(self.canvas.journeys[j].rps * self.criticality(j)
                               for j in journeys), 6)

    @cached_property
    def total_rps(self) -> float:
        return math.fsum(j.rps for j in self.canvas.journeys.values())

    # --- calls -------------------------------------------------------------------------

    @cached_property
    def loads(self) -> dict[str, EdgeLoad]:
        """Per call (by edge id, in file order): the worst amplification over its paths and
        the rate of calls reaching it when its callee fails, summed over every path of
        every journey."""
        worst: dict[str, tuple[float, float, tuple[Dependency, ...], int]] = {}
        rate: dict[str, float] = {}
        journeys: dict[str, list[str]] = {}
        for name, g in self.graphs.items():
            rps = self.canvas.journeys[name].rps
            for path in g.paths():
                edge = path[-1]
                journeys.setdefault(edge.id, [])
                if name not in journeys[edge.id]:
                    journeys[edge.id].append(name)
                layers = compounding([d.kind == "hard" or d.fallback_success < 1.0
                                      for d in path])
                counted = path[len(path) - layers:]
                amp = math.prod(layer_factor(d.attempts, d.retry_budget) for d in counted)
                raw = float(math.prod(d.attempts for d in counted))
                above = math.prod(layer_factor(d.attempts, d.retry_budget)
                                  for d in counted[:-1])
                rate[edge.id] = rate.get(edge.id, 0.0) + rps * above
                best = worst.get(edge.id)
                if best is None or (amp, raw) > (best[0], best[1]):
                    worst[edge.id] = (amp, raw, path, layers)
        out: dict[str, EdgeLoad] = {}
        for d in self.canvas.dependencies:
            if d.id not in worst:
                continue
            amp, raw, path, layers = worst[d.id]
            counted = path[len(path) - layers:]
            hold = held(layer_factor(d.attempts, d.retry_budget), d.timeout, d.deadline)
            lam = rate[d.id]
            caller = self.nodes[d.caller]
            out[d.id] = EdgeLoad(
                d, tuple(journeys[d.id]), amp, raw, (path[0].caller, *(p.callee for p in path)),
                tuple(layer_factor(p.attempts, p.retry_budget) for p in counted),
                tuple(p.id for p in counted if p.attempts > 1), lam, hold,
                in_flight(lam, hold) / caller.count)
        return out

    def journeys_of(self, edge: str) -> tuple[str, ...]:
        load = self.loads.get(edge)
        return load.journeys if load is not None else ()
