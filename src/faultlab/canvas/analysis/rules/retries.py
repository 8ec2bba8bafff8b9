"""Retry rules: amplification along every path, retrying what is not idempotent, retries at
more than one layer (Well-Architected REL05-BP03: retry at one layer only)."""

from __future__ import annotations

from collections.abc import Iterator

from faultlab.canvas.analysis.context import Context
from faultlab.canvas.analysis.rules.base import Rule
from faultlab.canvas.findings import Finding

__all__ = ["amplification", "layers", "not_idempotent"]


def _factor(f: float) -> str:
    return f"{f:g}"


def amplification(rule: Rule, ctx: Context) -> Iterator[Finding]:
    threshold = ctx.options.amplification_threshold
    for edge, load in ctx.loads.items():
        if load.amplification <= threshold:
            continue
        d = load.dependency
        budgets = load.amplification < load.attempts_product
        yield rule.found(
            ctx, edge, f"a failure of {d.callee} is tried up to {load.amplification:g}x per "
            f"request along {' -> '.join(load.path)} "
            f"({' x '.join(map(_factor, load.factors))}"
            + (f"; {load.attempts_product:g}x without the retry budgets" if budgets else "")
            + f"), above {threshold:g}x",
            {"amplification": load.amplification, "attempts_product": load.attempts_product,
             "factors": list(load.factors), "path": list(load.path), "threshold": threshold,
             "calls_per_second": load.calls_per_second * d.attempts},
            "retry at one layer only (the one nearest the failure), add retry budgets "
            "(a token bucket, e.g. retry_budget: 10%), or fail fast above", load.journeys)


def not_idempotent(rule: Rule, ctx: Context) -> Iterator[Finding]:
    for d in ctx.canvas.dependencies:
        if d.attempts > 1 and not d.idempotent:
            yield rule.found(
                ctx, d.id, f"{d.caller} -> {d.callee} is not idempotent but is tried "
                f"{d.attempts} times: a retry after a lost reply repeats its effect",
                {"attempts": d.attempts},
                "make the call idempotent (an idempotency key the callee deduplicates), "
                "then mark it idempotent: true; or set attempts: 1", ctx.journeys_of(d.id))


def layers(rule: Rule, ctx: Context) -> Iterator[Finding]:
    seen: set[tuple[str, ...]] = set()
    for load in ctx.loads.values():
        if len(load.retrying) < 2 or load.retrying in seen:
            continue
        seen.add(load.retrying)
        journeys = sorted({j for e in load.retrying for j in ctx.journeys_of(e)},
                          key=list(ctx.canvas.journeys).index)
        calls = ", ".join(e.replace("->", " -> ") for e in load.retrying)
        yield rule.found(
            ctx, load.retrying[-1], f"{len(load.retrying)} layers retry the same failure "
            f"of {load.dependency.callee}: {calls}",
            {"layers": list(load.retrying), "amplification": load.amplification,
             "path": list(load.path)},
            "retry at one layer only; above it, fail fast (attempts: 1) or make the call "
            "soft so the failure stops where it is handled", journeys)
