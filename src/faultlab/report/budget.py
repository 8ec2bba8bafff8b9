"""What the run cost in error budget: per SLO, the requests that counted against its
objective, the burn rate, and the share of its period's budget consumed.

The figures are the record's ``budgets`` (computed by :mod:`faultlab.run.evaluate` from the
run's own seconds); the page only shows them. The consumed share reads "as if the run's
traffic were the period's": burn rate x seconds measured / period.
"""

from __future__ import annotations

import msgspec

from faultlab.record import BudgetEntry
from faultlab.report.sections import Rendered, ReportContext, Slot
from faultlab.report.text import esc, md, md_table
from faultlab.units import format_period

__all__ = ["BudgetSection", "budget_kpi", "spent"]


def spent(b: BudgetEntry) -> str:
    """The consumed share in words: "3.1% of the 30d budget"."""
    if b.consumed is None or b.period is None:
        return "no period stated"
    text = f"{_share(b.consumed)} of the {format_period(b.period)} budget"
    if b.max_spend is not None:
        text += (f" (over its max_spend {_share(b.max_spend)})" if b.consumed > b.max_spend
                 else f" (max_spend {_share(b.max_spend)})")
    return text


def _share(x: float) -> str:
    """A ratio as a percentage with three significant digits: 3.1%, 0.0116%, 250%."""
    pct = x * 100
    return f"{pct:.3g}%" if pct < 1000 else f"{pct:.0f}%"


def budget_kpi(budgets: list[BudgetEntry]) -> str | None:
    """The banner's figure: the most consumed share of any budget with a period."""
    stated = [b for b in budgets if b.consumed is not None]
    if not stated:
        return None
    worst = max(stated, key=lambda b: b.consumed or 0.0)
    return f"{spent(worst)} ({worst.slo})"


def _row(b: BudgetEntry) -> list[str]:
    burn = "-" if b.burn_rate is None else f"{b.burn_rate:.3g}x"
    return [b.slo, _share(b.allowed) + " of requests", f"{b.bad} of {b.total}",
            f"{b.seconds}s", burn, spent(b)]


class BudgetSection(msgspec.Struct, frozen=True):
    id: str = "budget"
    title: str = "Error budget"
    slot: Slot = Slot.DETAILS

    def render(self, ctx: ReportContext) -> Rendered | None:
        runs = [(r, lbl) for r, lbl in zip(ctx.runs, ctx.labels, strict=True)
                if r.record is not None and any(b.total for b in r.record.budgets)]
        if not runs:
            return None
        header = ["SLO", "budget", "bad requests", "measured", "burn rate", "consumed"]
        rows = []
        for run, label in runs:
            assert run.record is not None
            rows += [([label] if ctx.comparison else []) + _row(b) for b in run.record.budgets
                     if b.total]
        if ctx.comparison:
            header = ["run", *header]
        html = ('<p class="hint">The requests that counted against each objective, how many '
                'times faster than sustainable the run spent the budget (the burn rate), and '
                'the share of the SLO\'s period budget consumed, as if the run\'s traffic '
                'were the period\'s.</p><div class="table-wrap"><table class="budget"><thead>'
                "<tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr></thead><tbody>"
                + "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>"
                          for r in rows) + "</tbody></table></div>")
        return Rendered(html, md_table(header, [[md(c) for c in r] for r in rows]))
