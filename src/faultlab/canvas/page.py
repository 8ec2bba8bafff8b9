"""The canvas as one self-contained HTML page: the diagram (inline SVG), the journeys with
their availability against their SLOs, and the findings, in the run report's style.

Nothing on the page is fetched: the stylesheet is the run report's, inlined, plus a few
rules of its own; the diagram is Graphviz's SVG, inlined; there is no script. Every text
from the canvas or the findings is escaped. The same inputs give the same page (no date).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faultlab import __version__
from faultlab.canvas.draw import DrawError, Highlight, find_dot, render, spof_nodes
from faultlab.canvas.draw.scene import COLORS, percent, span
from faultlab.canvas.findings import Finding, Severity
from faultlab.canvas.model import Canvas, Journey
from faultlab.report.text import esc
from faultlab.units import format_duration

if TYPE_CHECKING:
    from faultlab.canvas.analysis import Analysis

__all__ = ["build_page", "figures_of", "write_page"]

#: figures of one journey by name, e.g. {"availability": 0.9987, "error_budget_s": 3369.6};
#: ``availability`` is compared with the journey's SLO (or with ``slo``, when given)
JourneyFigures = Mapping[str, Mapping[str, Any]]

CSS = f"""
.diagram {{ margin: 0; padding: 12px; border: 1px solid var(--line); border-radius: 6px;
  overflow-x: auto; background: #fff; }}
.diagram svg {{ display: block; max-width: 100%; height: auto; margin: 0 auto; }}
.diagram-legend {{ display: flex; flex-wrap: wrap; gap: 4px 16px; margin: 8px 0 0;
  font-size: 0.82rem; color: var(--muted); }}
.diagram-legend span {{ display: inline-flex; align-items: center; gap: 6px; }}
.key {{ display: inline-block; width: 18px; height: 12px; border: 1.5px solid;
  border-radius: 3px; }}
.key.service {{ background: {COLORS['service']}; border-color: {COLORS['service_line']}; }}
.key.datastore {{ background: {COLORS['datastore']}; border-color: {COLORS['datastore_line']};
  border-radius: 7px / 4px; }}
.key.entry {{ background: {COLORS['entry']}; border-color: {COLORS['entry_line']}; }}
.key.spof {{ background: #fff; border: 3px solid {COLORS['spof']}; }}
.key.down {{ background: {COLORS['down']}; border-color: {COLORS['down_line']}; }}
.key.zone {{ background: {COLORS['zone']}; border: 1.5px dashed {COLORS['line']}; }}
.sw.hard {{ border-color: {COLORS['muted']}; }} .sw.soft {{ border-color: {COLORS['line']}; }}
.st-warn.banner {{ border-color: #d4a72c; background: var(--warn-bg); }}
.st-warn .status {{ background: var(--warn); }}
.sev {{ display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 0.78rem;
  font-weight: 700; text-transform: uppercase; letter-spacing: 0.03em; white-space: nowrap; }}
.sev-error {{ background: var(--bad-bg); color: var(--bad); }}
.sev-warning {{ background: var(--warn-bg); color: var(--warn); }}
.sev-info {{ background: #ddf4ff; color: #0969da; }}
table.findings {{ table-layout: fixed; }}
table.findings td {{ overflow-wrap: anywhere; }}
td.nums code {{ display: inline-block; max-width: 100%; margin: 0 4px 3px 0; padding: 0 4px;
  border-radius: 3px; background: var(--soft); overflow-wrap: anywhere; }}
tr.misses td.avail {{ color: var(--bad); font-weight: 700; }}
tr.meets td.avail {{ color: var(--held); font-weight: 700; }}
"""


def _report_css() -> str:
    return (resources.files("faultlab.report") / "assets" / "report.css").read_text("utf-8")


def _inline_svg(svg: str) -> str:
    """Graphviz's document without its XML prolog, doctype and comments, so it sits in HTML."""
    start = svg.find("<svg")
    return re.sub(r"<!--.*?-->", "", svg[start:], flags=re.S).strip()


def _diagram(canvas: Canvas, highlight: Highlight) -> str:
    if find_dot() is None:
        dot = render(canvas, "dot", highlight=highlight)
        return ('<p class="warn-note">Graphviz is not installed here (Debian: apt-get install '
                f"graphviz); the diagram as DOT source:</p><pre>{esc(dot)}</pre>")
    try:
        svg = render(canvas, "svg", highlight=highlight)
    except DrawError as e:
        return f'<p class="section-error">{esc(e)}</p>'
    return f'<figure class="diagram" data-diagram="graphviz">{_inline_svg(svg)}</figure>'


LEGEND = ('<p class="diagram-legend">'
          '<span><i class="key zone"></i>zone</span>'
          '<span><i class="key service"></i>service (instances)</span>'
          '<span><i class="key datastore"></i>datastore (replicas, quorum)</span>'
          '<span><i class="key entry"></i>journey entry</span>'
          '<span><i class="sw hard"></i>hard call</span>'
          '<span><i class="sw dash soft"></i>soft call (fallback)</span>'
          '<span><i class="key spof"></i>single point of failure</span>'
          '<span><i class="key down"></i>blast radius</span></p>')


def figures_of(analysis: Analysis) -> dict[str, dict[str, Any]]:
    """The journeys' figures of an analysis, for :func:`write_page`'s ``journeys``."""
    out: dict[str, dict[str, Any]] = {}
    for name, j in analysis.journeys.items():
        fig: dict[str, Any] = {"availability": j.availability, "slo": j.slo}
        if j.spofs:
            fig["spofs"] = list(j.spofs)
        if j.spof_zones:
            fig["spof zones"] = list(j.spof_zones)
        fig["worst case"] = (format_duration(j.worst_case) if math.isfinite(j.worst_case)
                             else "unbounded")
        if j.error_budget is not None:
            fig["error budget"] = (f"{format_duration(j.error_budget[0])} "
                                   f"({j.error_budget[1]:.0f} requests) per {span(j.window)}")
        out[name] = fig
    return out


def _figure(value: Any) -> str:
    """A figure compactly: floats to 6 digits, lists as ``a, b``, mappings as ``k: v``."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {_figure(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return ", ".join(_figure(v) for v in value) if value else "none"
    return str(value)


def _numbers(numbers: Mapping[str, Any]) -> str:
    return "".join(f"<code>{esc(k)} = {esc(_figure(v))}</code>" for k, v in numbers.items())


def _slo_text(journey: Journey) -> tuple[str, str]:
    latency = ", ".join(f"{k} ≤ {format_duration(v)}" for k, v in journey.slo.latency.bounds()
                        ) if journey.slo.latency is not None else "-"
    return latency, span(journey.slo.window)


def _journey_rows(canvas: Canvas, figures: JourneyFigures,
                  findings: Sequence[Finding]) -> list[str]:
    rows = []
    for name, journey in canvas.journeys.items():
        fig = dict(figures.get(name, {}))
        computed, slo = fig.pop("availability", None), fig.pop("slo", journey.slo.availability)
        state = ""
        if isinstance(computed, int | float) and isinstance(slo, int | float):
            state = "meets" if computed >= slo else "misses"
        count = sum(1 for f in findings if name in f.journeys or f.subject == name)
        latency, window = _slo_text(journey)
        rows.append(
            f'<tr data-journey="{esc(name)}" class="{state}"><td><strong>{esc(name)}</strong>'
            f"</td><td>{esc(journey.entry)}</td><td class=\"nowrap\">{journey.rps:g}/s</td>"
            f"<td>{esc(percent(slo)) if isinstance(slo, int | float) else '-'}</td>"
            f'<td class="avail">'
            f"{esc(_against(computed, slo)) if isinstance(computed, int | float) else '-'}"
            f"{f' ({state})' if state else ''}</td><td>{esc(latency)}</td>"
            f"<td>{esc(window)}</td><td>{count}</td><td class=\"nums\">{_numbers(fig)}</td></tr>")
    return rows


def _journeys(canvas: Canvas, figures: JourneyFigures, findings: Sequence[Finding]) -> str:
    if not canvas.journeys:
        return '<p class="muted">The canvas names no journey.</p>'
    head = ("<tr><th>Journey</th><th>Entry</th><th>Traffic</th><th>Availability SLO</th>"
            "<th>Computed</th><th>Latency SLO</th><th>Window</th><th>Findings</th>"
            "<th>Figures</th></tr>")
    return (f'<div class="table-wrap"><table class="journeys"><thead>{head}</thead><tbody>'
            + "".join(_journey_rows(canvas, figures, findings)) + "</tbody></table></div>")


def _ordered(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (-f.severity, -f.weight, f.rule, f.subject))


def _findings(findings: Sequence[Finding]) -> str:
    if not findings:
        return '<p class="ok-note">No findings: nothing in the canvas breaks a rule.</p>'
    widths = (7, 15, 10, 23, 20, 12, 13)  # per cent, fixed: long figures wrap in place
    cols = "".join(f'<col style="width:{w}%">' for w in widths)
    head = ("<tr><th>Severity</th><th>Rule</th><th>Subject</th><th>Message</th>"
            "<th>Numbers</th><th>Reference</th><th>Fix</th></tr>")
    rows = "".join(
        f'<tr data-rule="{esc(f.rule)}" data-severity="{f.severity}">'
        f'<td><span class="sev sev-{f.severity}">{f.severity}</span></td>'
        f'<td><code>{esc(f.rule)}</code></td><td>{esc(f.subject)}</td>'
        f'<td class="msg">{esc(f.message)}</td><td class="nums">{_numbers(f.numbers)}</td>'
        f'<td class="ref">{esc(f.reference)}</td><td class="fix">{esc(f.fix)}</td></tr>'
        for f in _ordered(findings))
    return (f'<div class="table-wrap"><table class="findings"><colgroup>{cols}</colgroup>'
            f"<thead>{head}</thead><tbody>{rows}</tbody></table></div>")


def _banner(canvas: Canvas, findings: Sequence[Finding]) -> str:
    errors = sum(1 for f in findings if f.severity == Severity.ERROR)
    warnings = sum(1 for f in findings if f.severity == Severity.WARNING)
    if errors:
        cls, status = "st-violated", f"{errors} ERROR{'S' if errors > 1 else ''}"
    elif warnings:
        cls, status = "st-warn", f"{warnings} WARNING{'S' if warnings > 1 else ''}"
    else:
        cls, status = "st-held", "NO WEAK POINT"
    kpis = [("services", len(canvas.services)), ("datastores", len(canvas.datastores)),
            ("zones", len(canvas.zones)), ("journeys", len(canvas.journeys)),
            ("findings", len(findings))]
    desc = f'<p class="desc">{esc(canvas.description)}</p>' if canvas.description else ""
    return (f'<section id="summary" class="slot-banner"><div class="banner {cls}">'
            f'<span class="status" data-status="{cls[3:]}">{status}</span>'
            f"<div><h1>{esc(canvas.name)}</h1>{desc}</div><dl class=\"kpis\">"
            + "".join(f"<div><dt>{k}</dt><dd>{v}</dd></div>" for k, v in kpis)
            + "</dl></div></section>")


def build_page(canvas: Canvas, findings: Sequence[Finding], *,
               journeys: JourneyFigures | None = None,
               highlight: Highlight | None = None) -> str:
    """The page's HTML. ``highlight`` defaults to the nodes of the ``spof.*`` findings."""
    hl = highlight if highlight is not None else Highlight(spof_nodes(findings, canvas))
    sections = [("diagram", "Diagram", _diagram(canvas, hl) + LEGEND),
                ("journeys", "Journeys", _journeys(canvas, journeys or {}, findings)),
                ("findings", "Findings", _findings(findings))]
    nav = "".join(f'<a href="#{i}">{t}</a>' for i, t, _ in sections)
    body = "".join(f'<section id="{i}" data-section="{i}"><h2>{t}</h2>{html}</section>'
                   for i, t, html in sections)
    title = f"faultlab canvas: {canvas.name}"
    return ('<!doctype html>\n<html lang="en" data-ready="1"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta name="generator" content="faultlab {esc(__version__)}">'
            f"<title>{esc(title)}</title><style>{_report_css()}{CSS}</style></head>"
            f'<body class="canvas"><header class="top"><span class="brand">faultlab</span>'
            f"<nav>{nav}</nav><span class=\"when\">canvas {esc(canvas.name)}</span></header>"
            f"<main>{_banner(canvas, findings)}{body}</main><footer>Generated by faultlab "
            f"{esc(__version__)} from the canvas {esc(canvas.name)}</footer></body></html>\n")


def write_page(canvas: Canvas, findings: Sequence[Finding], out_dir: Path, *,
               journeys: JourneyFigures | None = None,
               highlight: Highlight | None = None) -> Path:
    """Write ``out_dir/index.html`` (the directory made if needed); returns its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "index.html"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(build_page(canvas, findings, journeys=journeys, highlight=highlight),
                   encoding="utf-8")
    os.replace(tmp, path)
    return path


def _against(computed: float, slo: object) -> str:
    from faultlab.canvas.analysis.availability import percent_against

    return percent_against(computed, slo) if isinstance(slo, int | float) else percent(computed)
