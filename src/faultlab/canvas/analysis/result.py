"""What :func:`~faultlab.canvas.analysis.analyze` returns: per journey its figures, per node
and zone its blast radius, per call its load, and the findings ranked. Plain frozen data;
``to_json()`` is the documented ``--json`` structure (docs/canvas.md)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from faultlab.canvas.findings import Finding, Severity

__all__ = ["Analysis", "Blast", "CallResult", "JourneyResult"]

#: the version of the --json structure; raised when a key changes meaning or goes away
JSON_VERSION = 1


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else x


@dataclass(frozen=True)
class JourneyResult:
    name: str
    entry: str
    rps: float
    availability: float  # from its parts, zones included
    exact: bool  # False: shared nodes were treated as independent (a very large journey)
    slo: float | None  # its availability SLO
    nodes: tuple[str, ...]  # the nodes it goes through, entry first
    calls: tuple[str, ...]  # its calls, as edge ids "a->b"
    critical: tuple[str, ...]  # nodes whose loss alone fails it (entry included)
    spofs: tuple[str, ...]  # nodes losing one instance of which fails it
    spof_zones: tuple[str, ...]  # zones losing which fails it
    worst_case: float  # seconds when a dependency hangs; inf: unbounded
    latency_slo: tuple[str, float] | None  # ("p99", 0.3)
    error_budget: tuple[float, float] | None  # (seconds, requests) per window
    window: float

    @property
    def meets_slo(self) -> bool | None:
        return None if self.slo is None else self.availability >= self.slo - 1e-12

    def to_json(self) -> dict[str, Any]:
        return {
            "entry": self.entry, "rps": self.rps, "availability": self.availability,
            "exact": self.exact, "slo": self.slo, "meets_slo": self.meets_slo,
            "nodes": list(self.nodes), "calls": list(self.calls),
            "critical": list(self.critical), "spofs": list(self.spofs),
            "spof_zones": list(self.spof_zones), "worst_case": _num(self.worst_case),
            "latency_slo": (None if self.latency_slo is None else
                            {"percentile": self.latency_slo[0], "bound": self.latency_slo[1]}),
            "error_budget": (None if self.error_budget is None else
                             {"seconds": self.error_budget[0],
                              "requests": self.error_budget[1], "window": self.window}),
        }


@dataclass(frozen=True)
class Blast:
    kind: Literal["node", "zone"]
    name: str
    stops: tuple[str, ...]  # the nodes lost with it (a zone: those without a quorum elsewhere)
    failed: tuple[str, ...]  # journeys that fail
    degraded: tuple[str, ...]  # journeys that go on through a fallback
    rps: float  # traffic of the failed journeys
    share: float  # of all journeys' traffic

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "stops": list(self.stops),
                "failed": list(self.failed), "degraded": list(self.degraded),
                "rps": self.rps, "share": self.share}


@dataclass(frozen=True)
class CallResult:
    """One dependency as the journeys load it when its callee fails."""

    id: str
    journeys: tuple[str, ...]
    amplification: float  # worst-case calls reaching the callee per request (budgets in)
    attempts_product: float  # the same without retry budgets
    path: tuple[str, ...]  # the worst path's nodes
    calls_per_second: float
    hold: float  # seconds per call when the callee hangs; inf: unbounded
    in_flight: float  # per caller instance; inf: unbounded
    worst_case: float  # the call's a·t + Σ backoffs (capped by its deadline); inf: none

    def to_json(self) -> dict[str, Any]:
        return {"journeys": list(self.journeys), "amplification": self.amplification,
                "attempts_product": self.attempts_product, "path": list(self.path),
                "calls_per_second": self.calls_per_second, "hold": _num(self.hold),
                "in_flight": _num(self.in_flight), "worst_case": _num(self.worst_case)}


@dataclass(frozen=True)
class Analysis:
    canvas: str  # the canvas's name
    journeys: dict[str, JourneyResult]
    blast: tuple[Blast, ...]  # every node, then every zone, in file order
    calls: dict[str, CallResult]  # by edge id, calls some journey makes
    findings: tuple[Finding, ...]  # ranked: severity, then weight, then rule and subject

    def blast_of(self, name: str, kind: Literal["node", "zone"] = "node") -> Blast:
        return next(b for b in self.blast if b.kind == kind and b.name == name)

    def at_least(self, severity: Severity) -> list[Finding]:
        return [f for f in self.findings if f.severity >= severity]

    def to_json(self) -> dict[str, Any]:
        counts = {str(s): sum(1 for f in self.findings if f.severity == s)
                  for s in reversed(Severity)}
        return {"version": JSON_VERSION, "canvas": self.canvas,
                "journeys": {n: j.to_json() for n, j in self.journeys.items()},
                "blast": [b.to_json() for b in self.blast],
                "calls": {n: c.to_json() for n, c in self.calls.items()},
                "findings": [f.to_json() for f in self.findings], "counts": counts}
