"""Availability rules: a journey's SLO against what its parts allow, and the extra nine its
critical dependencies need."""

from __future__ import annotations

from collections.abc import Iterator

from faultlab.canvas.analysis.availability import extra_nine, percent, percent_against
from faultlab.canvas.analysis.context import Context
from faultlab.canvas.analysis.rules.base import Rule
from faultlab.canvas.findings import Finding
from faultlab.canvas.model import Dependency

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
        fix = (f"raise the availability of {weakest} "
               f"({percent(ctx.node_availability[weakest])}: more instances, in more zones), "
               "make calls to it soft with a fallback (REL05-BP01), or relax the SLO")
        partial = _partial_fallbacks(ctx, name)
        weakest_cost = 1 - ctx.node_availability[weakest]
        if partial and partial[0][1] > weakest_cost:
            # what costs the journey most is a fallback that sometimes fails, not a node
            call, cost = partial[0]
            ceiling = _with_perfect(ctx, name, frozenset({weakest}))
            fix = (f"{call.caller}'s fallback for {call.callee} succeeds "
                   f"{percent(call.fallback_success)} of the time and costs the journey "
                   f"about {_points(cost)} (more than any critical node: {weakest} costs "
                   f"{_points(weakest_cost)}, and with it perfect the journey would still allow "
                   f"only {percent_against(ceiling, slo)}): raise the fallback's success, or "
                   f"{call.callee}'s availability "
                   f"({percent(ctx.node_availability[call.callee])})")
        yield rule.found(
            ctx, name, f"journey {name}: availability SLO {percent(slo)} cannot be met: its "
            f"parts allow at most {percent_against(a, slo)}",
            {"availability": a, "slo": slo, "exact": exact,
             "critical": {n: ctx.node_availability[n] for n in critical},
             "partial_fallbacks": {d.id: cost for d, cost in partial}}, fix, [name])


def _with_perfect(ctx: Context, journey: str, nodes: frozenset[str]) -> float:
    """The journey's availability if ``nodes`` never failed (zones as they are)."""
    def up(name: str, down: frozenset[str]) -> float:
        return 1.0 if name in nodes else ctx.node_up(name, down)

    zones_of = {n: [z for z in node.instance_zones() if z is not None]
                for n, node in ctx.nodes.items()}
    return ctx.graphs[journey].availability(up, ctx.zones, zones_of)[0]


def _partial_fallbacks(ctx: Context, journey: str) -> list[tuple[Dependency, float]]:
    """Soft calls of the journey whose fallback sometimes fails, by what they cost it
    ((1 - A_callee) x (1 - c)), costliest first."""
    out = [(d, (1 - ctx.node_availability[d.callee]) * (1 - d.fallback_success))
           for d in ctx.canvas.calls(journey) if d.kind == "soft" and d.fallback_success < 1]
    return sorted(out, key=lambda x: (-x[1], x[0].id))


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


def _points(share: float) -> str:
    """A small share of requests as a percentage with two significant digits (0.0001%)."""
    return f"{share * 100:.2g}%"
