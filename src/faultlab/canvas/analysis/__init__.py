"""Deterministic analyses of a canvas: ``analyze(canvas) -> Analysis``.

The maths are pure functions (:mod:`.availability`, :mod:`.retries`, :mod:`.timeouts`,
:mod:`.pools`, :mod:`.budget`); a journey's requirement structure is :mod:`.journey`; the
figures the rules share are computed once in :class:`~.context.Context`; the rules are
registered in :mod:`.rules`. The same canvas gives the same analysis, findings in the same
order (ranked by severity, then weight = Σ traffic x criticality of the journeys affected,
then rule id and subject).
"""

from __future__ import annotations

from faultlab.canvas.analysis.context import Context, Options
from faultlab.canvas.analysis.result import Analysis, Blast, CallResult, JourneyResult
from faultlab.canvas.analysis.rules import RULES, Rule
from faultlab.canvas.analysis.rules.spof import losses
from faultlab.canvas.analysis.timeouts import call_worst_case
from faultlab.canvas.model import Canvas

__all__ = ["RULES", "Analysis", "Blast", "CallResult", "JourneyResult", "Options", "Rule",
           "analyze"]


def analyze(canvas: Canvas, options: Options | None = None,
            rules: tuple[Rule, ...] = RULES) -> Analysis:
    ctx = Context(canvas, options)
    findings = [f for r in rules for f in r.check(r, ctx)]
    findings.sort(key=lambda f: (-f.severity, -f.weight, f.rule, f.subject))
    return Analysis(canvas.name, _journeys(ctx), _blast(ctx), _calls(ctx), tuple(findings))


def _journeys(ctx: Context) -> dict[str, JourneyResult]:
    out = {}
    for name, j in ctx.canvas.journeys.items():
        g = ctx.graphs[name]
        a, exact = ctx.availability[name]
        critical = ctx.critical(name)
        spof_zones = tuple(z for z in ctx.canvas.zones
                           if (lost := ctx.lost_with_zone(z)) & set(g.nodes)
                           and not g.served(lost))
        slo = j.slo.availability
        latency = j.slo.latency.bounds()[0] if j.slo.latency is not None else None
        budget = ((1 - slo) * j.slo.window, (1 - slo) * j.slo.window * j.rps
                  ) if slo is not None else None
        out[name] = JourneyResult(
            name, j.entry, j.rps, a, exact, slo, g.nodes, tuple(d.id for d in g.calls),
            tuple(critical), tuple(n for n in critical if ctx.one_instance_stops(n)),
            spof_zones, ctx.worst_case[name][j.entry], latency, budget, j.slo.window)
    return out


def _blast(ctx: Context) -> tuple[Blast, ...]:
    out = []
    items = [*(("node", n, frozenset({n})) for n in ctx.nodes),
             *(("zone", z, ctx.lost_with_zone(z)) for z in ctx.canvas.zones)]
    for kind, name, down in items:
        failed, degraded = losses(ctx, down)
        rps = sum(ctx.canvas.journeys[j].rps for j in failed)
        out.append(Blast(kind, name, tuple(sorted(down)), tuple(failed), tuple(degraded),  # type: ignore[arg-type]
                         rps, rps / ctx.total_rps if ctx.total_rps else 0.0))
    return tuple(out)


def _calls(ctx: Context) -> dict[str, CallResult]:
    return {edge: CallResult(edge, load.journeys, load.amplification, load.attempts_product,
                             load.path, load.calls_per_second, load.hold, load.in_flight,
                             call_worst_case(load.dependency.attempts, load.dependency.timeout,
                                             load.dependency.waits(), load.dependency.deadline))
            for edge, load in ctx.loads.items()}

