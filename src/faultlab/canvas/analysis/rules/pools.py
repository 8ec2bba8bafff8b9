"""Pool exhaustion by Little's law when a dependency hangs (REL10-BP04 bulkheads)."""

from __future__ import annotations

import math
from collections.abc import Iterator

from faultlab.canvas.analysis.context import Context
from faultlab.canvas.analysis.rules.base import Rule
from faultlab.canvas.findings import Finding, Severity
from faultlab.units import format_duration

__all__ = ["exhaustion"]


def exhaustion(rule: Rule, ctx: Context) -> Iterator[Finding]:
    for edge, load in ctx.loads.items():
        d = load.dependency
        if load.calls_per_second == 0:
            continue
        instances = ctx.nodes[d.caller].count
        per = f" per instance of {d.caller}" if instances > 1 else ""
        numbers = {"calls_per_second": load.calls_per_second,
                   "hold": load.hold if math.isfinite(load.hold) else None,
                   "in_flight": load.in_flight if math.isfinite(load.in_flight) else None,
                   "pool": d.pool, "caller_instances": instances}
        flow = (f"{load.calls_per_second:g} calls/s x {format_duration(load.hold)}"
                if math.isfinite(load.hold) else f"{load.calls_per_second:g} calls/s, never "
                "released (no timeout)")
        if d.pool is None:
            held = (f"{load.in_flight:g} calls in flight{per}" if math.isfinite(load.in_flight)
                    else "calls in flight without bound")
            yield rule.found(
                ctx, edge, f"when {d.callee} hangs, {d.caller} holds {held} ({flow}); no "
                "pool bounds them", numbers, "bound the calls in flight (pool:, a bulkhead) "
                "and set a timeout, so a hung dependency costs a slot, not a thread each",
                load.journeys, severity=Severity.INFO)
        elif load.in_flight > d.pool:
            held = (f"{load.in_flight:g} calls in flight{per}" if math.isfinite(load.in_flight)
                    else "calls in flight without bound")
            yield rule.found(
                ctx, edge, f"when {d.callee} hangs, {d.caller}'s pool of {d.pool} to it is "
                f"exhausted: {held} ({flow})", numbers,
                f"shorten the timeout or deadline so that λ·T fits in {d.pool}, open a "
                "circuit breaker on timeouts, or size the pool (bulkhead) above λ·T",
                load.journeys)
