"""Detail sections: every hypothesis clause, faults and recovery, the timeline, and how to
reproduce the run."""

from __future__ import annotations

import json

import msgspec

from faultlab.record import ClauseEntry
from faultlab.report.model import MomentKind, RunData
from faultlab.report.sections import Rendered, ReportContext, Slot
from faultlab.report.text import esc, figure, md, md_table, seconds, shell_line
from faultlab.units import format_duration

__all__ = ["ClausesSection", "FaultsSection", "ReproduceSection", "TimelineSection"]


def _table(header: list[str], rows: list[list[str]], cls: str = "") -> str:
    """Cells are HTML already escaped."""
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return (f'<div class="table-wrap"><table class="{cls}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


def _mark(c: ClauseEntry) -> str:
    if c.held:
        return '<span class="pass">✓ held</span>'
    if c.result == "probe error":
        return '<span class="warn nowrap">? probe error</span>'
    return '<span class="fail nowrap">✗ violated</span>'


def _md_mark(c: ClauseEntry) -> str:
    return {"held": "✓ held", "violated": "✗ **violated**"}.get(c.result, "? **probe error**")


def _measured(c: ClauseEntry) -> str:
    if c.phase == "after":
        return ("not recovered" if c.recovery_time is None
                else f"recovered in {format_duration(c.recovery_time)}")
    return figure(c.measured, c.unit)


def _bound(c: ClauseEntry) -> str:
    if c.phase == "after":
        return f"recover within {figure(c.recover_within, 's')}; {c.objective}"
    return c.objective


def _window(c: ClauseEntry) -> str:
    return f"{c.worst_window[0]}–{c.worst_window[1]}s" if c.worst_window else "-"


class ClausesSection(msgspec.Struct, frozen=True):
    id: str = "clauses"
    title: str = "Hypothesis clauses"
    slot: Slot = Slot.DETAILS

    def render(self, ctx: ReportContext) -> Rendered | None:
        if not any(r.clauses for r in ctx.runs):
            return None
        if not ctx.comparison:
            run = ctx.runs[0]
            rows = [[f'<span data-clause="{esc(c.name)}" data-held="{str(c.held).lower()}">'
                     f"{_mark(c)}</span>", esc(c.name), esc(_measured(c)),
                     esc(_bound(c)), esc(f"{c.failed_windows} of {c.windows}"),
                     esc(_window(c)), esc(c.detail)] for c in run.clauses]
            html = _table(["result", "clause", "measured (worst)", "bound", "failed windows",
                           "worst window", "detail"], rows, "clauses")
            mrows = [[_md_mark(c), md(c.name), md(_measured(c)),
                      md(_bound(c)), md(f"{c.failed_windows} of {c.windows}")]
                     for c in run.clauses]
            return Rendered(html, md_table(["result", "clause", "measured (worst)", "bound",
                                            "failed windows"], mrows))
        names: list[str] = []
        for r in ctx.runs:
            names += [c.name for c in r.clauses if c.name not in names]
        rows, mrows = [], []
        for name in names:
            row, mrow = [esc(name)], [md(name)]
            for r, lbl in zip(ctx.runs, ctx.labels, strict=True):
                c = next((c for c in r.clauses if c.name == name), None)
                if c is None:
                    row.append('<span class="muted">not judged</span>')
                    mrow.append("not judged")
                    continue
                row.append(f'<span data-clause="{esc(name)}" data-run="{esc(lbl)}" '
                           f'data-held="{str(c.held).lower()}">{_mark(c)}</span> '
                           f'{esc(_measured(c))} <span class="muted">({esc(_bound(c))})</span>')
                mrow.append(_md_mark(c)[:1] + " " + md(_measured(c)))
            rows.append(row)
            mrows.append(mrow)
        header = ["clause", *(esc(lbl) for lbl in ctx.labels)]
        return Rendered(_table(header, rows, "clauses cmp"),
                        md_table(["clause", *(md(lbl) for lbl in ctx.labels)], mrows))


def _fault_rows(run: RunData) -> tuple[list[list[str]], list[list[str]]]:
    rows, mrows = [], []
    for f in run.faults:
        params = ", ".join(f"{k}={json.dumps(v)}" for k, v in f.params.items()) or "-"
        if f.applied:
            params += f"; applied: {f.applied}"
        revert = ("FAILED" if f.revert_ok is False else "ok" if f.revert_ok
                  else "not reverted" if f.injected_at is not None else "-")
        recovery = (format_duration(f.recovery_time) if f.recovery_time is not None
                    else f.recovery_note or "-")
        cells = [f.name, f.kind, f.target, params, seconds(f.injected_at),
                 seconds(f.reverted_at), format_duration(f.lease) if f.lease else "-",
                 revert + (f": {f.error}" if f.error else ""), recovery]
        cls = ' class="fail"' if f.revert_ok is False or f.error else ""
        rows.append([f"<span{cls}>{esc(c)}</span>" if i == 7 else esc(c)
                     for i, c in enumerate(cells)])
        mrows.append([md(c) for c in cells])
    return rows, mrows


class FaultsSection(msgspec.Struct, frozen=True):
    id: str = "faults"
    title: str = "Faults and recovery"
    slot: Slot = Slot.DETAILS

    def render(self, ctx: ReportContext) -> Rendered | None:
        if not any(r.faults for r in ctx.runs):
            return None
        header = ["fault", "kind", "target", "parameters", "injected", "reverted", "lease",
                  "revert", "recovery time"]
        html, mdown = [], []
        for run, lbl in zip(ctx.runs, ctx.labels, strict=True):
            rows, mrows = _fault_rows(run)
            if ctx.comparison:
                html.append(f"<h3>{esc(lbl)}</h3>")
                mdown.append(f"**{md(lbl)}**\n")
            html.append(_table(header, rows, "faults"))
            mdown.append(md_table(header, mrows) + "\n")
        note = ('<p class="muted">Recovery time: from the revert until the <em>after</em> '
                "SLOs hold again over a full window.</p>")
        return Rendered("".join(html) + note, "\n".join(mdown).strip())


_TIMELINE_CLASS = {MomentKind.REVERT_FAILED: "fail", MomentKind.INJECT_FAILED: "fail",
                   MomentKind.ABORT: "fail", MomentKind.INTERRUPTED: "fail",
                   MomentKind.GENERATOR_LAG: "warn"}


class TimelineSection(msgspec.Struct, frozen=True):
    id: str = "timeline-events"
    title: str = "Timeline"
    slot: Slot = Slot.DETAILS

    def render(self, ctx: ReportContext) -> Rendered | None:
        html, mdown = [], []
        for run, lbl in zip(ctx.runs, ctx.labels, strict=True):
            if not run.moments:
                continue
            rows = [[esc(f"{m.t:.2f}s"), esc(m.kind.value),
                     f'<span class="{_TIMELINE_CLASS.get(m.kind, "")}">{esc(m.text)}</span>']
                    for m in run.moments]
            body = _table(["t", "event", "what"], rows, "timeline")
            html.append(f"<details{' open' if not ctx.comparison else ''}><summary>"
                        f"{esc(lbl)}: {len(run.moments)} events</summary>{body}</details>")
            important = [m for m in run.moments if m.kind is not MomentKind.PHASE]
            mdown.append((f"**{md(lbl)}**: " if ctx.comparison else "") + "; ".join(
                f"{m.t:.1f}s {md(m.text)}" for m in important))
        if not html:
            return None
        return Rendered("".join(html), "\n\n".join(mdown))


class ReproduceSection(msgspec.Struct, frozen=True):
    id: str = "reproduce"
    title: str = "Reproduce"
    slot: Slot = Slot.DETAILS

    def render(self, ctx: ReportContext) -> Rendered:
        html, mdown = [], []
        for run, lbl in zip(ctx.runs, ctx.labels, strict=True):
            command = shell_line(run.command) if run.command else "-"
            if run.seed is not None and run.command and "--seed" not in run.command:
                command += f" --seed {run.seed}"
            items = [("experiment file", run.file), ("sha256", run.sha256),
                     ("seed", str(run.seed) if run.seed is not None else "-"),
                     ("faultlab version", run.version), ("run directory", str(run.run_dir))]
            dl = "".join(f"<dt>{esc(k)}</dt><dd><code>{esc(v)}</code></dd>" for k, v in items)
            head = f"<h3>{esc(lbl)}</h3>" if ctx.comparison else ""
            html.append(f'{head}<dl class="repro">{dl}<dt>command</dt><dd><pre>'
                        f"{esc(command)}</pre></dd></dl>")
            mdown.append((f"**{md(lbl)}**\n\n" if ctx.comparison else "")
                         + "\n".join(f"- {md(k)}: `{v}`" for k, v in items if "`" not in v)
                         + f"\n\n```sh\n{command.replace('```', '` ` `')}\n```")
        return Rendered("".join(html), "\n\n".join(mdown))
