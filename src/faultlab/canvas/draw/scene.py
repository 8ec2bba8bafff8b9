"""What a diagram of a canvas shows, independent of the format that draws it.

A :class:`Scene` is built once from a :class:`~faultlab.canvas.model.Canvas` and a
:class:`Highlight`; the DOT, Mermaid and D2 writers only spell it. Its invariants, which keep
every format's output deterministic and alike:

- every order is the canvas's own (zones as declared, then zones only nodes name; nodes in
  file order; dependencies in file order), never a set's or a hash's;
- a node spread over zones is one **box per zone** (``inventory ×2 of 4`` in each zone's
  cluster); a node with no zones is one box outside every cluster;
- a dependency is drawn from each of the caller's boxes to the callee's box in the same zone,
  or, where the callee has none there, to every box of the callee (the call leaves its zone);
  only the first copy carries the label, so a three-zone system is not labelled three times;
- every id is unique and made of ``[A-Za-z0-9_]`` only, so each format can use it unquoted.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from faultlab.canvas.model import Canvas, Datastore, Dependency, Journey, Node
from faultlab.units import format_duration

__all__ = ["COLORS", "Box", "Cluster", "Edge", "Entry", "Highlight", "Scene", "build_scene",
           "dependency_label", "percent", "span"]

#: one palette for every format (the run report's colours)
COLORS = {
    "text": "#1f2328", "muted": "#57606a", "line": "#8c959f", "zone": "#f6f8fa",
    "service": "#ddf4ff", "service_line": "#0969da",
    "datastore": "#fbefff", "datastore_line": "#8250df",
    "entry": "#dafbe1", "entry_line": "#1a7f37",
    "spof": "#cf222e", "down": "#ffd8b5", "down_line": "#bc4c00", "down_zone": "#fff1e5",
    "focus": "#fb8f44", "tag": "#a40e26",
}


@dataclass(frozen=True)
class Highlight:
    """What to mark on a diagram; every set holds names chosen by the caller (the analysis).

    ``spof``: node names that are single points of failure. ``blast``: what a failure of
    ``focus`` takes down: node names, journey names, zone names and dependency ids
    (``"a->b"``); a call into a node that is down is marked down too. ``focus``: the node
    (or zone) whose blast radius ``blast`` is.
    """

    spof: frozenset[str] = frozenset()
    blast: frozenset[str] = frozenset()
    focus: str | None = None

    @classmethod
    def of(cls, spof: Iterable[str] = (), blast: Iterable[str] = (),
           focus: str | None = None) -> Highlight:
        return cls(frozenset(spof), frozenset(blast), focus)

    def down(self, name: str) -> bool:
        return name == self.focus or name in self.blast


@dataclass(frozen=True)
class Box:
    id: str
    node: str
    datastore: bool
    zone: str | None
    here: int  # instances (replicas) in this box's zone
    total: int
    needed: int  # 1 for a service, the quorum for a datastore
    availability: float  # of one instance
    spof: bool
    down: bool
    focus: bool

    @property
    def detail(self) -> str:
        """``×2 of 4 · 99.9% each``, ``×1 of 3 · quorum 2/3``: the counts that matter (the
        shape says service or datastore)."""
        parts = [f"×{self.here}" if self.here == self.total else f"×{self.here} of {self.total}"]
        if self.datastore:
            parts.append(f"quorum {self.needed}/{self.total}")
        if self.availability < 1.0:
            parts.append(f"{percent(self.availability)} each")
        return " · ".join(parts)


@dataclass(frozen=True)
class Cluster:
    id: str
    zone: str
    availability: float
    boxes: tuple[Box, ...]
    down: bool

    @property
    def title(self) -> str:
        avail = f" · {percent(self.availability)}" if self.availability < 1.0 else ""
        return f"zone {self.zone}{avail}"


@dataclass(frozen=True)
class Edge:
    tail: str  # box ids
    head: str
    dependency: str  # its id, "a->b"
    soft: bool
    parts: tuple[str, ...]  # the label's parts; none on every copy after the first
    down: bool

    @property
    def label(self) -> str:
        return " · ".join(self.parts)

    def lines(self, per_line: int = 2) -> list[str]:
        """The label in lines of ``per_line`` parts, so that long labels do not push the
        columns of a left-to-right layout apart."""
        return [" · ".join(self.parts[i:i + per_line])
                for i in range(0, len(self.parts), per_line)]


@dataclass(frozen=True)
class Entry:
    id: str
    journey: str
    label: str  # lines separated by "\n"
    heads: tuple[str, ...]  # the entry service's boxes
    down: bool


@dataclass
class Scene:
    name: str
    clusters: list[Cluster] = field(default_factory=list)
    loose: list[Box] = field(default_factory=list)  # nodes with no zone
    edges: list[Edge] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)

    def boxes(self) -> list[Box]:
        return [b for c in self.clusters for b in c.boxes] + self.loose


def percent(ratio: float) -> str:
    """A ratio as a percentage with as many decimals as it has nines: ``99.987%``,
    ``99.9%``, ``50%``."""
    if ratio >= 1.0:
        return "100%"
    nines = math.floor(-math.log10(1.0 - ratio)) if ratio > 0 else 0
    text = f"{ratio * 100:.{max(2, nines)}f}".rstrip("0").rstrip(".")
    return f"{text}%"


def span(seconds: float) -> str:
    """A window or period: ``30d``, ``12h``, else the duration's own form."""
    for unit, size in (("d", 86400), ("h", 3600)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return format_duration(seconds)


def dependency_label(dep: Dependency) -> tuple[str, ...]:
    """``soft · fallback 90% · timeout 250ms · 3 attempts · deadline 1s``; ``no timeout``
    said outright, since waiting for ever is what the label must warn of."""
    parts: list[str] = []
    if dep.kind == "soft":
        parts.append(f"soft · fallback {percent(dep.fallback_success)}")
    parts.append(f"timeout {format_duration(dep.timeout)}" if dep.timeout is not None
                 else "no timeout")
    if dep.attempts > 1:
        parts.append(f"{dep.attempts} attempts")
    if dep.deadline is not None:
        parts.append(f"deadline {format_duration(dep.deadline)}")
    if dep.retry_budget is not None:
        parts.append(f"budget {percent(dep.retry_budget)}")
    if dep.pool is not None:
        parts.append(f"pool {dep.pool}")
    return tuple(parts)


def _journey_label(name: str, journey: Journey) -> str:
    """``browse · 120/s`` over ``SLO 99.9% · p99 400ms``."""
    slo = [f"SLO {percent(journey.slo.availability)}"] if journey.slo.availability else []
    if journey.slo.latency is not None:
        slo += [f"{k} {format_duration(v)}" for k, v in journey.slo.latency.bounds()]
    return "\n".join([f"{name} · {journey.rps:g}/s", *([" · ".join(slo)] if slo else [])])


class _Ids:
    def __init__(self) -> None:
        self.taken: set[str] = set()

    def __call__(self, *parts: str) -> str:
        base = re.sub(r"[^A-Za-z0-9_]", "_", "_".join(p for p in parts if p))
        ident, n = base, 2
        while ident in self.taken:
            ident, n = f"{base}_{n}", n + 1
        self.taken.add(ident)
        return ident


def _zone_order(canvas: Canvas) -> list[str]:
    order = list(canvas.zones)
    for node in canvas.nodes().values():
        order += [z for z in node.zones if z not in order]
    return order


def build_scene(canvas: Canvas, highlight: Highlight | None = None) -> Scene:
    """The scene of ``canvas``; raises ``ValueError`` for a dependency or journey naming a
    node the canvas does not have (the semantic checks refuse those first)."""
    hl = highlight or Highlight()
    ids = _Ids()
    scene = Scene(canvas.name)
    by_node: dict[str, dict[str | None, Box]] = {}
    per_zone: dict[str | None, list[Box]] = {}
    for name, node in canvas.nodes().items():
        counts = Counter(node.instance_zones())
        for zone, here in counts.items():
            box = _box(ids("n", name, zone or ""), name, node, zone, here, hl)
            by_node.setdefault(name, {})[zone] = box
            per_zone.setdefault(zone, []).append(box)
    for zone in _zone_order(canvas):
        avail = canvas.zones[zone].availability if zone in canvas.zones else 1.0
        scene.clusters.append(Cluster(ids("zone", zone), zone, avail,
                                      tuple(per_zone.get(zone, ())), hl.down(zone)))
    scene.loose = per_zone.get(None, [])
    for dep in canvas.dependencies:
        scene.edges += _edges(dep, _boxes_of(by_node, dep.caller, dep.id),
                              _boxes_of(by_node, dep.callee, dep.id), hl)
    for name, journey in canvas.journeys.items():
        heads = tuple(b.id for b in _boxes_of(by_node, journey.entry, f"journey {name}")
                      .values())
        scene.entries.append(Entry(ids("j", name), name, _journey_label(name, journey),
                                   heads, hl.down(name)))
    return scene


def _box(ident: str, name: str, node: Node, zone: str | None, here: int,
         hl: Highlight) -> Box:
    return Box(ident, name, isinstance(node, Datastore), zone, here, node.count,
               node.needed, node.instance_availability, name in hl.spof, hl.down(name),
               name == hl.focus)


def _boxes_of(by_node: dict[str, dict[str | None, Box]], name: str,
              where: str) -> dict[str | None, Box]:
    if name not in by_node:
        raise ValueError(f"{where}: the canvas has no service or datastore '{name}'")
    return by_node[name]


def _edges(dep: Dependency, tails: dict[str | None, Box], heads: dict[str | None, Box],
           hl: Highlight) -> list[Edge]:
    pairs: list[tuple[str, str]] = []
    for zone, tail in tails.items():
        targets = [heads[zone]] if zone in heads else list(heads.values())
        pairs += [(tail.id, h.id) for h in targets if (tail.id, h.id) not in pairs]
    label = dependency_label(dep)
    down = dep.id in hl.blast or hl.down(dep.callee)  # a call into a lost node fails
    return [Edge(t, h, dep.id, dep.kind == "soft", label if i == 0 else (), down)
            for i, (t, h) in enumerate(pairs)]
