"""The sections that lead with the answer: the verdict banner, then what failed and why."""

from __future__ import annotations

import msgspec

from faultlab.report.budget import budget_kpi
from faultlab.report.model import MomentKind, RunData
from faultlab.report.sections import Rendered, ReportContext, Slot
from faultlab.report.text import esc, figure, headline, md, status_class

__all__ = ["FindingsSection", "VerdictSection", "findings"]


def _kpis(run: RunData) -> list[tuple[str, str]]:
    w = run.workload
    out = []
    if w is not None:
        out.append(("requests", f"{w.planned}"))
        out.append(("succeeded", figure(w.success_ratio, "ratio")))
        out.append(("p99 overall", figure(w.p99, "s")))
    injected = sum(f.injected_at is not None for f in run.faults)
    reverted = sum(f.revert_ok is True for f in run.faults)
    out.append(("faults", f"{injected} injected, {reverted} reverted"))
    failed = sum(not c.held for c in run.clauses)
    if run.clauses:
        out.append(("clauses", f"{len(run.clauses) - failed} of {len(run.clauses)} held"))
    if run.checks:
        valid = sum(c.passed for c in run.checks)
        out.append(("checks", f"{valid} of {len(run.checks)} valid"))
    budget = budget_kpi(run.record.budgets) if run.record is not None else None
    if budget is not None:
        out.append(("error budget", budget))
    return out


def _banner(run: RunData, label: str, big: bool) -> str:
    kpis = "".join(f"<div><dt>{esc(k)}</dt><dd>{esc(v)}</dd></div>" for k, v in _kpis(run))
    title = (f'<h1>{esc(run.experiment)}</h1>' if big else f'<h2>{esc(label)}</h2>')
    desc = f'<p class="desc">{esc(run.description)}</p>' if big and run.description else ""
    return (f'<div class="banner st-{status_class(run)}" data-run="{esc(label)}">'
            f'<div class="status" data-status="{esc(run.status_text)}">'
            f'{esc(run.status_text.upper().replace("_", " "))}</div>'
            f'<div class="banner-text">{title}<p class="headline">{esc(headline(run))}</p>'
            f'{desc}</div><dl class="kpis">{kpis}</dl></div>')


class VerdictSection(msgspec.Struct, frozen=True):
    id: str = "verdict"
    title: str = "Verdict"
    slot: Slot = Slot.BANNER

    def render(self, ctx: ReportContext) -> Rendered:
        if not ctx.comparison:
            run = ctx.runs[0]
            html = _banner(run, ctx.labels[0], big=True)
            mdown = (f"# {md(run.experiment)}: **{md(run.status_text.upper())}**\n\n"
                     f"{md(headline(run))}. "
                     + " · ".join(f"{md(k)}: {md(v)}" for k, v in _kpis(run)))
            return Rendered(html, mdown)
        names = sorted({r.experiment for r in ctx.runs})
        html = (f'<h1 class="cmp-title">Comparison: {esc(", ".join(names))}</h1>'
                f'<div class="cards cols-{min(len(ctx.runs), 4)}">'
                + "".join(_banner(r, lbl, big=False)
                          for r, lbl in zip(ctx.runs, ctx.labels, strict=True)) + "</div>")
        mdown = f"# Comparison: {md(', '.join(names))}\n\n" + "\n".join(
            f"- **{md(lbl)}**: **{md(r.status_text.upper())}**, {md(headline(r))}"
            for r, lbl in zip(ctx.runs, ctx.labels, strict=True))
        return Rendered(html, mdown)


def findings(run: RunData) -> list[tuple[str, str]]:
    """(title, explanation) pairs: every failure of the run, most important first."""
    out: list[tuple[str, str]] = []
    for f in run.faults:
        if f.revert_ok is False:
            out.append((f"REVERT FAILED: {f.name}",
                        f"{f.error or 'revert failed'}; the fault may still be active: run "
                        f"`faultlab recover {run.run_dir}`"))
        elif f.error:
            out.append((f"fault {f.name}", f.error))
    for m in run.moments:
        if m.kind in (MomentKind.ABORT, MomentKind.INTERRUPTED):
            out.append((f"{m.kind.value} at {m.t:.1f}s", m.text))
    for c in run.clauses:
        if c.held:
            continue
        where = (f"; worst window {c.worst_window[0]}s-{c.worst_window[1]}s"
                 if c.worst_window else "")
        if c.result == "probe error":
            text = f"{c.objective}: not judged, not breached: {c.detail}"
        elif c.phase == "after":
            text = (f"{c.objective}: {c.detail} (recovery bound "
                    f"{figure(c.recover_within, 's')}){where}")
        else:
            text = (f"{c.objective}: measured {figure(c.measured, c.unit)} against a bound "
                    f"of {figure(c.bound, c.unit)}; {c.failed_windows} of {c.windows} "
                    f"windows failed{where}")
        out.append((c.name, text))
    # A failed history check has its own findings section (History checks that failed).
    covered = ("hypothesis violated", "hypothesis held", "aborted:", "REVERT FAILED",
               "every fault was applied", "check ")
    for reason in run.reasons:
        if not reason.startswith(covered):
            title = "warning" if reason.startswith("warning") else "reason"
            out.append((title, reason.removeprefix("warning: ")))
    lag = [m for m in run.moments if m.kind is MomentKind.GENERATOR_LAG]
    if lag and not any(r.startswith("warning") for r in run.reasons):
        out += [("warning", m.text) for m in lag]
    return out


def _list_html(run: RunData) -> str:
    items = findings(run)
    if not items and any(not c.passed for c in run.checks):
        return '<p class="warn-note">Every clause held; history checks failed (below).</p>'
    if not items:
        return ('<p class="ok-note">Nothing failed: every clause held and every fault was '
                'reverted.</p>' if run.status is not None else
                '<p class="warn-note">The run has no verdict (no result.json).</p>')
    return '<ul class="findings">' + "".join(
        f'<li class="{"warn" if t == "warning" else "bad"}"><strong>{esc(t)}</strong> '
        f"{esc(text)}</li>" for t, text in items) + "</ul>"


class FindingsSection(msgspec.Struct, frozen=True):
    id: str = "findings"
    title: str = "What failed and why"
    slot: Slot = Slot.FINDINGS

    def render(self, ctx: ReportContext) -> Rendered:
        if not ctx.comparison:
            html = _list_html(ctx.runs[0])
        else:
            html = f'<div class="cols cols-{min(len(ctx.runs), 4)}">' + "".join(
                f'<div><h3>{esc(lbl)}</h3>{_list_html(r)}</div>'
                for r, lbl in zip(ctx.runs, ctx.labels, strict=True)) + "</div>"
        lines = []
        for r, lbl in zip(ctx.runs, ctx.labels, strict=True):
            if ctx.comparison:
                lines.append(f"\n**{md(lbl)}**\n")
            items = findings(r)
            lines += [f"- **{md(t)}**: {md(text)}" for t, text in items] or (
                ["- every clause held; history checks failed (below)"]
                if any(not c.passed for c in r.checks) else
                ["- nothing failed: every clause held and every fault was reverted"])
        return Rendered(html, "\n".join(lines).strip())
