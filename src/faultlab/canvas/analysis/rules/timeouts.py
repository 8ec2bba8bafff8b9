"""Timeout rules: calls without a timeout, callers that give up before their callees have
finished retrying, and journeys whose worst case is above their latency SLO."""

from __future__ import annotations

import math
from collections.abc import Iterator

from faultlab.canvas.analysis.context import Context
from faultlab.canvas.analysis.rules.base import Rule
from faultlab.canvas.analysis.timeouts import call_worst_case, gives_up_early
from faultlab.canvas.findings import Finding
from faultlab.units import format_duration

__all__ = ["above_slo", "budget", "missing"]


def missing(rule: Rule, ctx: Context) -> Iterator[Finding]:
    for d in ctx.canvas.dependencies:
        if d.timeout is not None or d.deadline is not None:
            continue
        what = (f"{d.caller} waits as long as it hangs" if d.kind == "hard" else
                f"{d.caller} waits as long as it hangs, and its fallback never starts")
        yield rule.found(
            ctx, d.id, f"{d.caller} -> {d.callee} has no timeout: when {d.callee} hangs, {what}",
            {"kind": d.kind}, "set a per-attempt timeout from the callee's p99.9 latency "
            "(timeout:), and a deadline for the whole call", ctx.journeys_of(d.id))


def _calls(ctx: Context, journey: str, node: str) -> list[dict[str, object]]:
    return [{"call": d.id, "attempts": d.attempts, "timeout": d.timeout, "waits": d.waits(),
             "deadline": d.deadline,
             "worst_case": call_worst_case(d.attempts, d.timeout, d.waits(), d.deadline)}
            for d in ctx.graphs[journey].children.get(node, [])]


def budget(rule: Rule, ctx: Context) -> Iterator[Finding]:
    worst: dict[str, tuple[float, float, str]] = {}  # edge -> (callee worst, T, journey)
    journeys: dict[str, list[str]] = {}
    for name, g in ctx.graphs.items():
        times = ctx.worst_case[name]
        for d in g.calls:
            bound = min(x for x in (d.timeout, d.deadline, math.inf) if x is not None)
            if math.isfinite(bound) and gives_up_early(bound, times[d.callee]):
                journeys.setdefault(d.id, []).append(name)
                if d.id not in worst or times[d.callee] > worst[d.id][0]:
                    worst[d.id] = (times[d.callee], bound, name)
    for d in ctx.canvas.dependencies:
        if d.id not in worst:
            continue
        callee_worst, bound, journey = worst[d.id]
        yield rule.found(
            ctx, d.id, f"{d.caller} gives up on {d.callee} after {format_duration(bound)}, "
            f"but {d.callee} may work for {format_duration(callee_worst)} (its attempts x "
            "timeouts + backoffs): wasted work, and retries on top of retries",
            {"caller_timeout": bound, "callee_worst_case": callee_worst,
             "callee_calls": _calls(ctx, journey, d.callee)},
            f"give {d.caller}'s attempt more than {format_duration(callee_worst)}, or "
            f"shorten {d.callee}'s timeouts, attempts or deadline to fit inside "
            f"{format_duration(bound)}", journeys[d.id])
    for name, j in ctx.canvas.journeys.items():
        entry_worst = ctx.worst_case[name][j.entry]
        if j.timeout is not None and gives_up_early(j.timeout, entry_worst):
            yield rule.found(
                ctx, name, f"journey {name}: users give up after "
                f"{format_duration(j.timeout)}, but {j.entry} may work for "
                f"{format_duration(entry_worst)}",
                {"caller_timeout": j.timeout, "callee_worst_case": entry_worst,
                 "callee_calls": _calls(ctx, name, j.entry)},
                f"fit {j.entry}'s calls (timeouts x attempts + backoffs, or a deadline) "
                f"inside {format_duration(j.timeout)}", [name])


def above_slo(rule: Rule, ctx: Context) -> Iterator[Finding]:
    for name, j in ctx.canvas.journeys.items():
        if j.slo.latency is None:
            continue
        (percentile, bound), = j.slo.latency.bounds()
        entry_worst = ctx.worst_case[name][j.entry]
        if not math.isfinite(entry_worst) or entry_worst <= bound * (1 + 1e-12):
            continue
        yield rule.found(
            ctx, name, f"journey {name}: its worst case when a dependency hangs is "
            f"{format_duration(entry_worst)}, above its latency SLO ({percentile} "
            f"{format_duration(bound)})",
            {"worst_case": entry_worst, "slo": bound, "percentile": percentile,
             "calls": _calls(ctx, name, j.entry)},
            f"give {j.entry}'s calls a deadline within {format_duration(bound)} (or fewer "
            "attempts, shorter timeouts), falling back when it passes", [name])
