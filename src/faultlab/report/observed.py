"""What reached the dependencies: the observed proxies' attempts, failures and concurrency.

For each proxy target with ``observe: true`` (the record's ``observations``), two charts on
the run's time axis: requests that reached the dependency per second (the callers' attempts,
retries included) with the failed ones, and the most requests in flight at once; then a
table of the totals. This is where a retry storm, a breaker opening (attempts dropping to a
probe a second) or a pile-up of hung calls shows, measured at the dependency rather than
read from a configuration.
"""

from __future__ import annotations

from typing import Any

import msgspec

from faultlab.record import ObservedProxy
from faultlab.report.model import RunData
from faultlab.report.sections import Rendered, ReportContext, Slot
from faultlab.report.text import esc, md, md_table

__all__ = ["ObservedSection"]

STARTED = "#1c7ed6"
FAILED = "#e03131"
IN_FLIGHT = "#7048e8"


def _series(entry: ObservedProxy, length: int, field: str) -> list[float | None]:
    values: list[float | None] = [0.0] * length
    for s in entry.seconds:
        if 0 <= s.t < length:
            values[s.t] = float(getattr(s, field))
    return values


def _charts(run: RunData, prefix: str, length: int) -> tuple[list[dict[str, Any]], list[str]]:
    assert run.record is not None
    x = [i + 0.5 for i in range(length)]
    charts: list[dict[str, Any]] = []
    body: list[str] = []
    for n, (target, entry) in enumerate(run.record.observations.items()):
        cid = f"{prefix}observed-{n}"
        charts.append({"id": f"{cid}-rate", "title": f"Requests reaching {target}",
                       "unit": "rps", "x": x, "thresholds": [], "ymax": None, "height": 190,
                       "series": [
                           {"name": "reached it", "color": STARTED, "dash": False,
                            "values": _series(entry, length, "started")},
                           {"name": "failed", "color": FAILED, "dash": False,
                            "values": _series(entry, length, "failed")}]})
        charts.append({"id": f"{cid}-flight", "title": f"In flight at {target}",
                       "unit": "count", "x": x, "thresholds": [], "ymax": None,
                       "height": 150, "series": [
                           {"name": "most at once", "color": IN_FLIGHT, "dash": False,
                            "values": _series(entry, length, "in_flight")}]})
        note = (f"{entry.requests} requests on {entry.connections} connections; "
                f"{entry.traced} carried a traceparent")
        if entry.dropped:
            note += f"; {entry.dropped} records DROPPED (the proxy's buffer was full)"
        if entry.error:
            note += f"; {entry.error}"
        body.append(
            f'<h3>{esc(target)}</h3><p class="chart-note">{esc(note)}</p>'
            f'<div class="cols cols-2"><figure class="chart-fig"><figcaption>Requests that '
            f'reached {esc(target)} per second (attempts, retries included)</figcaption>'
            f'<div class="chart" data-chart="{esc(cid)}-rate"></div></figure>'
            f'<figure class="chart-fig"><figcaption>Most requests in flight at once'
            f'</figcaption><div class="chart" data-chart="{esc(cid)}-flight"></div>'
            f'</figure></div>')
    return charts, body


def _outcomes(entry: ObservedProxy) -> str:
    return ", ".join(f"{k} {v}" for k, v in entry.outcomes.items()) or "none"


class ObservedSection(msgspec.Struct, frozen=True):
    id: str = "observed"
    title: str = "At the dependencies"
    slot: Slot = Slot.CHARTS

    def render(self, ctx: ReportContext) -> Rendered | None:
        runs = [(r, lbl) for r, lbl in zip(ctx.runs, ctx.labels, strict=True)
                if r.record is not None and r.record.observations]
        if not runs:
            return None
        length = max(int(r.end) + 1 for r, _ in runs)
        charts: list[dict[str, Any]] = []
        body = ['<p class="hint">What faultlab\'s proxy saw reach each observed dependency: '
                'every HTTP request, whoever sent it. Retries show as more requests than '
                'users sent; an open circuit breaker as a drop to a probe now and then.</p>']
        rows = []
        for i, (run, label) in enumerate(runs):
            if ctx.comparison:
                body.append(f'<h3 class="run-h">{esc(label)}</h3>')
            made, html = _charts(run, f"r{i}-" if ctx.comparison else "", length)
            charts += made
            body += html
            assert run.record is not None
            for target, entry in run.record.observations.items():
                rows.append([label, target, str(entry.requests), _outcomes(entry),
                             ", ".join(f"{k}: {v}" for k, v in entry.statuses.items()),
                             str(max((s.in_flight for s in entry.seconds), default=0))])
        header = ["run", "target", "requests", "outcomes", "statuses", "most in flight"]
        if not ctx.comparison:
            header, rows = header[1:], [r[1:] for r in rows]
        markdown = md_table(header, [[md(c) for c in r] for r in rows])
        return Rendered("".join(body), markdown, charts)
