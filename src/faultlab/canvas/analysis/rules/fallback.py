"""Fallbacks: every soft call on a journey's path is a claim (its fallback carries the
journey while the callee is down) worth checking in the running system."""

from __future__ import annotations

from collections.abc import Iterator

from faultlab.canvas.analysis.availability import percent
from faultlab.canvas.analysis.context import Context
from faultlab.canvas.analysis.rules.base import Rule
from faultlab.canvas.findings import Finding

__all__ = ["soft_calls"]


def soft_calls(rule: Rule, ctx: Context) -> Iterator[Finding]:
    journeys: dict[str, list[str]] = {}
    for name in ctx.canvas.journeys:
        for call in ctx.canvas.calls(name):
            if call.kind == "soft":
                journeys.setdefault(call.id, []).append(name)
    for call_id, names in journeys.items():
        call = next(d for d in ctx.canvas.dependencies if d.id == call_id)
        c = call.fallback_success
        yield rule.found(
            ctx, call_id, f"{call.caller} falls back when {call.callee} fails ({percent(c)} "
            f"of the time, the canvas says): {', '.join(names)} should hold while "
            f"{call.callee} is down", {"fallback": c, "callee": call.callee},
            "check it: `faultlab canvas generate` writes the experiment (the callee down, "
            "the journey's SLOs as the hypothesis)", names)
