"""Error budget per journey per window (Google SRE workbook, "Alerting on SLOs")."""

from __future__ import annotations

from collections.abc import Iterator

from faultlab.canvas.analysis.availability import percent
from faultlab.canvas.analysis.budget import error_budget
from faultlab.canvas.analysis.context import Context
from faultlab.canvas.analysis.rules.base import Rule
from faultlab.canvas.findings import Finding
from faultlab.units import format_duration

__all__ = ["error"]


def error(rule: Rule, ctx: Context) -> Iterator[Finding]:
    for name, j in ctx.canvas.journeys.items():
        slo = j.slo.availability
        if slo is None or slo >= 1.0:
            continue
        seconds, requests = error_budget(slo, j.slo.window, j.rps)
        a, _ = ctx.availability[name]
        spent = (1.0 - a) / (1.0 - slo)
        yield rule.found(
            ctx, name, f"journey {name}: error budget {format_duration(seconds)} of full "
            f"outage per {format_duration(j.slo.window)} ({requests:,.0f} requests at "
            f"{j.rps:g}/s); the design's expected failures ({percent(a)} available) spend "
            f"{_share(spent)} of it", {"slo": slo, "window": j.slo.window, "seconds": seconds,
                                  "requests": requests, "rps": j.rps, "availability": a,
                                  "spent": spent},
            "alert on the burn rate over several windows at once (e.g. 1h and 6h)", [name])


def _share(spent: float) -> str:
    """A share of the budget: whole percents, but never '100%' for what is above or below."""
    text = f"{spent:.0%}"
    if text == "100%" and abs(spent - 1.0) > 1e-9:
        text = f"{spent:.1%}" if f"{spent:.1%}" != "100.0%" else f"{spent:.2%}"
    return text
