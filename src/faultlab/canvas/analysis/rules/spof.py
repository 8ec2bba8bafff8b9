"""Single points of failure and blast radius.

A node is a single point of failure of a journey when losing one of its instances (replicas)
stops it (one instance; or a quorum of all its replicas) and the journey fails without it:
the node lies on every path of the journey's requirement graph from the entry to success
(it dominates success; soft calls whose fallback serves are paths around their callee). A
zone is one when losing it stops a node the journey fails without (every instance of it,
or too many replicas for its quorum, in that zone). The blast radius of a node or zone is
the journeys that fail when it is lost whole, and the share of traffic they carry; those
that go on through a fallback are *degraded*.
"""

from __future__ import annotations

from collections.abc import Iterator

from faultlab.canvas.analysis.context import Context
from faultlab.canvas.analysis.rules.base import Rule
from faultlab.canvas.findings import Finding

__all__ = ["blast_node", "blast_zone", "losses", "spof_node", "spof_zone"]


def losses(ctx: Context, down: frozenset[str]) -> tuple[list[str], list[str]]:
    """(journeys that fail, journeys that go on only through a fallback) with ``down``."""
    failed, degraded = [], []
    for name, g in ctx.graphs.items():
        if not down & set(g.nodes):
            continue
        if not g.served(down):
            failed.append(name)
        elif not g.served(down, fallbacks=False):
            degraded.append(name)
    return failed, degraded


def _why(ctx: Context, node: str) -> str:
    n = ctx.nodes[node]
    if n.count == 1:
        return "1 instance" if node in ctx.canvas.services else "1 replica"
    return f"{n.count} replicas with a quorum of {n.needed}: losing any one stops it"


def _share(ctx: Context, journeys: list[str]) -> float:
    rps = sum(ctx.canvas.journeys[j].rps for j in journeys)
    return rps / ctx.total_rps if ctx.total_rps else 0.0


def spof_node(rule: Rule, ctx: Context) -> Iterator[Finding]:
    for node in ctx.nodes:
        if not ctx.one_instance_stops(node):
            continue
        journeys = [name for name, g in ctx.graphs.items()
                    if node in g.nodes and not g.served({node})]
        if not journeys:
            continue
        n = ctx.nodes[node]
        yield rule.found(
            ctx, node, f"{node} is a single point of failure of {', '.join(journeys)} "
            f"({_why(ctx, node)}, and the journey cannot succeed without it)",
            {"instances": n.count, "needed": n.needed, "zones": list(n.zones),
             "share_of_traffic": _share(ctx, journeys)},
            f"run {node} with spare instances (more than {n.needed}) spread over zones, or "
            f"make the calls to {node} soft with a fallback", journeys)


def spof_zone(rule: Rule, ctx: Context) -> Iterator[Finding]:
    for zone in ctx.canvas.zones:
        stopped = ctx.lost_with_zone(zone)
        failed, _ = losses(ctx, stopped)
        if not failed:
            continue
        needed = sorted(n for n in stopped
                        if any(n in ctx.graphs[j].nodes and not ctx.graphs[j].served({n})
                               for j in failed))
        yield rule.found(
            ctx, zone, f"zone {zone} is a single point of failure of {', '.join(failed)}: "
            f"losing it stops {', '.join(needed)}",
            {"zone_availability": ctx.zones[zone], "stops": sorted(stopped),
             "share_of_traffic": _share(ctx, failed)},
            f"spread the instances of {', '.join(needed)} over more zones (enough outside "
            f"{zone} for each quorum)", failed)


def _blast(rule: Rule, ctx: Context, kind: str, name: str, down: frozenset[str]
           ) -> Iterator[Finding]:
    failed, degraded = losses(ctx, down)
    if not failed and not degraded:
        return
    said = (f"journeys failing: {', '.join(failed)}" if failed else "no journey fails") + (
        f"; degraded (through a fallback): {', '.join(degraded)}" if degraded else "")
    share = _share(ctx, failed)
    yield rule.found(
        ctx, name, f"losing {kind} {name}: {said} ({share:.0%} of traffic fails)",
        {"failed": failed, "degraded": degraded, "share_of_traffic": share,
         "rps": sum(ctx.canvas.journeys[j].rps for j in failed), "stops": sorted(down)},
        "see the single points of failure; a blast radius shrinks with spare instances, "
        "zones and fallbacks", [*failed, *degraded], weight=ctx.weight(failed))


def blast_node(rule: Rule, ctx: Context) -> Iterator[Finding]:
    for node in ctx.nodes:
        yield from _blast(rule, ctx, "node", node, frozenset({node}))


def blast_zone(rule: Rule, ctx: Context) -> Iterator[Finding]:
    for zone in ctx.canvas.zones:
        yield from _blast(rule, ctx, "zone", zone, ctx.lost_with_zone(zone))
