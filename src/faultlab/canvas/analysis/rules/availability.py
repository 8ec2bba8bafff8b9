"""Availability rules: a journey's SLO against what its parts allow, and the extra nine its
critical dependencies need."""

from __future__ import annotations

from collections.abc import Iterator

from faultlab.canvas.analysis.availability import extra_nine, percent, percent_against
from faultlab.canvas.analysis.context import Context
from faultlab.canvas.analysis.rules.base import Rule
from faultlab.canvas.findings import Finding

__all__ = ["extra_nine_rule", "slo_unreachable"]

_TOLERANCE = 1e-12  # 99.9% read from a file is 0.999 to the last bit; products are not


def slo_unreachable(rule: Rule, ctx: Context) -> Iterator[Finding]:
    for name, journey in ctx.canvas.journeys.items():
        slo = journey.slo.availability
        if slo is None:
            continue
        a, exact = ctx.availability[name]
        if a >= slo - _TOLERANCE:
            continue
        critical = sorted(ctx.critical(name), key=lambda n: (ctx.node_availability[n], n))
        weakest = critical[0] if critical else ctx.graphs[name].entry
        yield rule.found(
            ctx, name, f"journey {name}: availability SLO {percent(slo)} cannot be met: its "
            f"parts allow at most {percent_against(a, slo)}",
            {"availability": a, "slo": slo, "exact": exact,
             "critical": {n: ctx.node_availability[n] for n in critical}},
            f"raise the availability of {weakest} ({percent(ctx.node_availability[weakest])}:"
            " more instances, in more zones), make calls to it soft with a fallback "
            "(REL05-BP01), or relax the SLO", [name])


def extra_nine_rule(rule: Rule, ctx: Context) -> Iterator[Finding]:
    short: dict[str, list[tuple[str, float]]] = {}  # node -> (journey, what it needs)
    for name, journey in ctx.canvas.journeys.items():
        slo = journey.slo.availability
        if slo is None:
            continue
        needed = extra_nine(slo)
        entry = ctx.graphs[name].entry
        for node in ctx.critical(name):
            if node != entry and ctx.node_availability[node] < needed - _TOLERANCE:
                short.setdefault(node, []).append((name, needed))
    for node, where in short.items():
        journeys = [j for j, _ in where]
        strictest = max(n for _, n in where)
        a = ctx.node_availability[node]
        yield rule.found(
            ctx, node, f"{node} is a critical dependency of {', '.join(journeys)} at "
            f"{percent(a)}; it needs an extra nine: {percent(strictest)}",
            {"availability": a, "needed": strictest,
             "slos": {j: ctx.canvas.journeys[j].slo.availability for j in journeys}},
            f"raise {node}'s availability to {percent(strictest)} (more instances or "
            "replicas, in more zones), or make the calls to it soft with a fallback",
            journeys)
