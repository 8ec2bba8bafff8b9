"""The charts section: fault timeline, requests/s, latency percentiles, success ratio.

One run: four charts on one time axis. Several runs: the two charts that carry the verdict
(success ratio and the SLO percentile) overlay every run, then each run's requests and
latency charts stand side by side with the same y scale, so that the difference is seen
at a glance.
"""

from __future__ import annotations

from typing import Any

import msgspec

from faultlab.report import series as S
from faultlab.report.model import RunData
from faultlab.report.sections import Rendered, ReportContext, Slot
from faultlab.report.text import esc, md

__all__ = ["RUN_COLOURS", "ChartsSection"]

RUN_COLOURS = ["#d9480f", "#1c7ed6", "#2b8a3e", "#7048e8", "#c2255c", "#0b7285"]
COUNT_COLOURS = {"sent": "#868e96", "ok": "#2b8a3e", "failed": "#e03131",
                 "timed_out": "#f08c00", "dropped": "#7048e8", "probe_errors": "#ae3ec9"}
COUNT_NAMES = {"sent": "sent", "ok": "succeeded", "failed": "failed",
               "timed_out": "timed out", "dropped": "dropped (never sent)",
               "probe_errors": "probe errors (could not ask)"}
LATENCY_COLOURS = {"p50": "#74c0fc", "p90": "#339af0", "p95": "#1c7ed6", "p99": "#1864ab",
                   "p999": "#5f3dc4", "max": "#adb5bd"}


def _chart(cid: str, title: str, unit: str, x: list[float], series: list[dict[str, Any]],
           thresholds: list[dict[str, Any]] | None = None, ymax: float | None = None,
           height: int = 210) -> dict[str, Any]:
    return {"id": cid, "title": title, "unit": unit, "x": x, "series": series,
            "thresholds": thresholds or [], "ymax": ymax, "height": height}


def _rps(run: RunData, x: list[float], cid: str, title: str) -> dict[str, Any]:
    fields = ["sent", "ok", "failed", "timed_out"]
    if any(s.dropped for s in run.seconds):
        fields.append("dropped")
    if any(s.probe_errors for s in run.seconds):
        fields.append("probe_errors")
    return _chart(cid, title, "rps", x, [
        {"name": COUNT_NAMES[f], "color": COUNT_COLOURS[f], "dash": f == "sent",
         "values": S.counts(run, len(x), f)} for f in fields])


def _latency(run: RunData, x: list[float], keys: list[str], cid: str, title: str
             ) -> dict[str, Any]:
    return _chart(cid, title, "s", x, [
        {"name": k, "color": LATENCY_COLOURS.get(k, "#495057"), "dash": k == "max",
         "values": S.latency_values(run, len(x), k), "width": 2.4 if k == "p99" else 1.6}
        for k in keys], S.thresholds(run, "s"))


def _ratio_windows(run: RunData) -> list[tuple[str, float]]:
    ratio = [(f"{s.name} (over {s.window:g}s)", s.window) for s in run.slos
             if s.success_ratio is not None]
    if ratio:
        return ratio
    w = max((s.window for s in run.slos), default=5.0)
    return [(f"over {w:g}s", w)]


def _timeline(ctx: ReportContext, end: float) -> dict[str, Any]:
    rows = []
    for run, label in zip(ctx.runs, ctx.labels, strict=True):
        for f in run.faults:
            prefix = f"{label}: " if ctx.comparison else ""
            lease_end = (f.intent_at + f.lease if f.intent_at is not None and f.lease
                         else None)
            cls = ("bad" if f.revert_ok is False or f.error else
                   "open" if f.reverted_at is None else "ok")
            rows.append({"label": f"{prefix}{f.name}: {f.kind} on {f.target}",
                         "start": f.injected_at, "end": f.reverted_at
                         if f.reverted_at is not None else end,
                         "lease_end": lease_end, "cls": cls})
    return {"id": "timeline", "kind": "timeline", "title": "Fault timeline", "rows": rows,
            "series": [], "x": []}


def _shared_ymax(charts: list[dict[str, Any]]) -> float:
    top = 0.0
    for c in charts:
        for ser in c["series"]:
            top = max([top, *(v for v in ser["values"] if v is not None)])
        top = max([top, *(t["value"] for t in c["thresholds"])])
    return top * 1.08 if top > 0 else 1.0


def _figure(cid: str, title: str, note: str = "") -> str:
    n = f'<p class="chart-note">{esc(note)}</p>' if note else ""
    return (f'<figure class="chart-fig"><figcaption>{esc(title)}</figcaption>{n}'
            f'<div class="chart" data-chart="{esc(cid)}"></div></figure>')


class ChartsSection(msgspec.Struct, frozen=True):
    id: str = "charts"
    title: str = "Over time"
    slot: Slot = Slot.CHARTS

    def render(self, ctx: ReportContext) -> Rendered | None:
        x = S.seconds_axis(ctx.runs)
        if not x and not any(r.faults for r in ctx.runs):
            return None
        end = max(r.end for r in ctx.runs)
        charts: list[dict[str, Any]] = [_timeline(ctx, end)]
        body = [_figure("timeline", "Faults: injected → reverted (thin line: lease, the "
                        "time after which a fault lapses by itself)")]
        keys = S.latency_keys(ctx.runs)
        if not ctx.comparison and ctx.runs[0].workload is None:
            pass  # no measured workload (a history's run): the fault timeline alone
        elif not ctx.comparison:
            run = ctx.runs[0]
            charts += [_rps(run, x, "rps", "Requests per second"),
                       _latency(run, x, keys, "latency", "Latency per second"),
                       _chart("ratio", "Success ratio", "ratio", x, [
                           {"name": name, "color": RUN_COLOURS[1 + i], "dash": False,
                            "values": S.success_ratio(run, len(x), w)}
                           for i, (name, w) in enumerate(_ratio_windows(run))],
                           S.thresholds(run, "ratio"))]
            body += [_figure("ratio", "Success ratio over the SLO window"),
                     _figure("latency", "Latency percentiles per second"),
                     _figure("rps", "Requests per second")]
        else:
            body += self._comparison(ctx, x, keys, charts)
        html = ('<div class="zoom-bar"><span class="hint">Hover for values; drag across '
                'a chart to zoom; double-click to reset.</span> <span class="zoom-range">'
                '</span> <button type="button" class="reset-zoom" hidden>Reset zoom</button>'
                '</div>' + "".join(body))
        return Rendered(html, _markdown(ctx), charts)

    def _comparison(self, ctx: ReportContext, x: list[float], keys: list[str],
                    charts: list[dict[str, Any]]) -> list[str]:
        first = ctx.runs[0]
        window = _ratio_windows(first)[0][1]
        key = next((k for s in first.slos for k in s.latency), "p99")
        pairs = list(zip(ctx.runs, ctx.labels, strict=True))
        charts.append(_chart("cmp-ratio", "Success ratio", "ratio", x, [
            {"name": lbl, "color": RUN_COLOURS[i % len(RUN_COLOURS)], "dash": False,
             "values": S.success_ratio(r, len(x), window), "width": 2.4}
            for i, (r, lbl) in enumerate(pairs)], S.thresholds(first, "ratio")))
        charts.append(_chart("cmp-latency", f"{key} latency", "s", x, [
            {"name": lbl, "color": RUN_COLOURS[i % len(RUN_COLOURS)], "dash": False,
             "values": S.latency_values(r, len(x), key), "width": 2.4}
            for i, (r, lbl) in enumerate(pairs)],
            [t for t in S.thresholds(first, "s") if t["key"] == key]))
        body = [f'<div class="cols cols-2">'
                f'{_figure("cmp-ratio", f"Success ratio over {window:g}s, every run")}'
                f'{_figure("cmp-latency", f"{key} latency per second, every run")}</div>']
        rps = [_rps(r, x, f"rps-{i}", f"Requests per second: {lbl}")
               for i, (r, lbl) in enumerate(pairs)]
        lat = [_latency(r, x, keys, f"latency-{i}", f"Latency: {lbl}")
               for i, (r, lbl) in enumerate(pairs)]
        for group in (rps, lat):
            top = _shared_ymax(group)
            for c in group:
                c["ymax"] = top
        charts += rps + lat
        cols = min(len(pairs), 4)
        body.append(f'<h3>Each run, same scales</h3><div class="cols cols-{cols}">' + "".join(
            f'<div><h4 class="run-h" style="border-color:{RUN_COLOURS[i % 6]}">{esc(lbl)}'
            f'</h4>{_figure(f"rps-{i}", "Requests per second")}'
            f'{_figure(f"latency-{i}", "Latency percentiles per second")}</div>'
            for i, (_, lbl) in enumerate(pairs)) + "</div>")
        return body


def _markdown(ctx: ReportContext) -> str:
    lines = []
    for run, label in zip(ctx.runs, ctx.labels, strict=True):
        w = run.workload
        if w is None:
            continue
        prefix = f"**{md(label)}**: " if ctx.comparison else ""
        several = run.record is not None and sum(
            x.measured for x in run.record.workloads.values()) > 1
        which = f"workload {md(run.charted_workload)}: " if several else ""
        lines.append(f"- {prefix}{which}{w.planned} requests over {w.seconds} s: "
                     f"{w.ok} succeeded, {w.failed} failed, {w.timed_out} timed out, "
                     f"{w.dropped} dropped (charts in the HTML report)")
    return "\n".join(lines)
