"""The history checks' sections: which check failed and why (FINDINGS), and every check with
its evidence (DETAILS): for a linearizability violation, the operations around it as a
timeline; for anomalies (lost or stale elements, ...), the operations that show them.

A run without history checks gets neither section. The operations are read from the run's
``history.jsonl`` only for a check that failed; when that file is missing or unreadable the
evidence is still listed, by operation index, with the checker's own text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from faultlab.record import CheckEntry, CheckVerdict
from faultlab.report.checkdata import read_history
from faultlab.report.model import RunData
from faultlab.report.optimeline import (
    MAX_OPS,
    legend_html,
    op_text,
    render_timeline,
    select_window,
)
from faultlab.report.sections import Rendered, ReportContext, Slot
from faultlab.report.text import esc, md, md_table

if TYPE_CHECKING:  # the history readers load only for a failed check's operations
    from faultlab.history import Op

__all__ = ["CheckDetailsSection", "CheckFindingsSection"]

ANOMALY_OPS = 20  # operations listed per anomaly
_MARK = {CheckVerdict.VALID: ('<span class="pass">✓ valid</span>', "✓ valid"),
         CheckVerdict.INVALID: ('<span class="fail nowrap">✗ invalid</span>', "✗ **invalid**"),
         CheckVerdict.UNKNOWN: ('<span class="fail nowrap">? unknown</span>',
                                "? **unknown** (not proven)")}


def _anchor(label_index: int, check_index: int) -> str:
    return f"check-{label_index}-{check_index}"


def _time(c: CheckEntry) -> str:
    return "-" if c.elapsed_s is None else f"{c.elapsed_s:.3f} s"


def _headline(c: CheckEntry) -> str:
    return f"{c.kind}: {c.verdict.value}"


def _per_run(ctx: ReportContext) -> list[tuple[int, RunData, str]]:
    return [(i, r, lbl) for i, (r, lbl) in enumerate(zip(ctx.runs, ctx.labels, strict=True))
            if r.checks]


class CheckFindingsSection(msgspec.Struct, frozen=True):
    """One line per failed check, linking to its evidence."""

    id: str = "check-findings"
    title: str = "History checks that failed"
    slot: Slot = Slot.FINDINGS

    def render(self, ctx: ReportContext) -> Rendered | None:
        runs = [(i, r, lbl) for i, r, lbl in _per_run(ctx) if not all(c.passed for c in
                                                                      r.checks)]
        if not runs:
            return None
        html, mdown = [], []
        for i, run, lbl in runs:
            items = [(j, c) for j, c in enumerate(run.checks) if not c.passed]
            if ctx.comparison:
                html.append(f"<h3>{esc(lbl)}</h3>")
                mdown.append(f"\n**{md(lbl)}**\n")
            html.append('<ul class="findings">' + "".join(
                f'<li class="bad" data-check="{esc(c.kind)}" data-verdict="{esc(c.verdict)}">'
                f"<strong>check {esc(_headline(c))}</strong> {esc(c.summary)} "
                f'<a href="#{_anchor(i, j)}">evidence</a></li>' for j, c in items) + "</ul>")
            mdown += [f"- **check {md(_headline(c))}**: {md(c.summary)}" for _, c in items]
        return Rendered("".join(html), "\n".join(mdown).strip())


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _history_line(run: RunData) -> str:
    h = run.history
    if h is None:
        return ""
    line = f"{h.file}"
    if h.invoked is not None:
        line += f": {_plural(h.invoked, 'operation', 'operations')} invoked"
    counts = [f"{n} {k}" for k, n in (("ok", h.ok), ("failed", h.fail),
                                      ("with unknown outcome", h.info)) if n is not None]
    if counts:
        line += ": " + ", ".join(counts)
    if h.dropped:
        line += (f"; {_plural(h.dropped, 'planned operation was', 'planned operations were')}"
                 " not sent (every client busy)")
    if h.retired_processes:
        line += (f"; {_plural(h.retired_processes, 'process', 'processes')} retired after "
                 "an unknown outcome")
    return line


def _table(run: RunData, i: int) -> str:
    rows = "".join(
        f'<tr><td><span data-check="{esc(c.kind)}" data-verdict="{esc(c.verdict)}">'
        f"{_MARK[c.verdict][0]}</span></td><td>{esc(c.kind)}</td><td>{c.ops_checked}</td>"
        f"<td>{esc(_time(c))}</td><td>{esc(c.summary)}"
        + ("" if c.passed else f' <a href="#{_anchor(i, j)}">evidence</a>') + "</td></tr>"
        for j, c in enumerate(run.checks))
    return ('<div class="table-wrap"><table class="checks"><thead><tr><th>result</th>'
            "<th>check</th><th>operations</th><th>time</th><th>summary</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></div>")


def _violation_html(c: CheckEntry, ops: dict[int, Op], origin_ns: int, why_not: str) -> str:
    v = c.evidence.violation
    assert v is not None
    where = ("The history" if v.partition in ("", "None") else
             f"Partition <code>{esc(v.partition)}</code>")
    head = (f"<p>{where} is not linearizable. The longest "
            f"linearizable prefix has {_plural(v.prefix_length, 'operation', 'operations')}; "
            f'the model state after it: <code class="prefix-state">{esc(v.state)}</code>.</p>')
    win = select_window(v, ops) if ops else None
    if win is None:
        note = why_not or "the history does not contain the operations of the evidence"
        drawn = f'<p class="warn-note">No timeline: {esc(note)}.</p>'
    else:
        more = (f"; {win.overlapping - len(win.ops)} more overlapping operations are left out"
                if win.overlapping > len(win.ops) else "")
        drawn = (f'<figure class="chart-fig op-timeline-fig"><figcaption>The {len(win.ops)} '
                 "operations around the violation, one lane per process</figcaption>"
                 f'<p class="chart-note">At most {MAX_OPS} operations overlapping the last '
                 "operations of the prefix and the stuck ones"
                 f"{esc(more)}. Failed operations and reads of unknown outcome are left out: "
                 "the checker ignores them. Hover a bar for its times and why it is stuck."
                 f"</p>{legend_html()}{render_timeline(v, win, origin_ns, c.kind)}</figure>")
    stuck = []
    for s in v.stuck:
        op = ops.get(s.op)
        what = op_text(op, origin_ns) if op is not None else f"#{s.op}"
        role = ('<strong class="fail">had to complete first:</strong> '
                if s.op == v.must_complete else '<strong class="warn">stuck:</strong> ')
        stuck.append(f'<li data-op="{s.op}">{role}<code>{esc(what)}</code>: '
                     f"{esc(s.reason)}</li>")
    listed = ("<p>Why no remaining operation could be linearized next:</p>"
              f'<ul class="stuck">{"".join(stuck)}</ul>') if stuck else ""
    return head + drawn + listed


def _anomalies_html(c: CheckEntry, ops: dict[int, Op], origin_ns: int) -> str:
    out = []
    for a in c.evidence.anomalies:
        if a.kind == "not-linearizable" and c.evidence.violation is not None:
            continue  # the timeline shows it
        rows = []
        for index in a.ops[:ANOMALY_OPS]:
            op = ops.get(index)
            rows.append(f"<li><code>{esc(op_text(op, origin_ns) if op else f'#{index}')}"
                        "</code></li>")
        more = (f'<li class="muted">… and {len(a.ops) - ANOMALY_OPS} more</li>'
                if len(a.ops) > ANOMALY_OPS else "")
        out.append(f'<div class="anomaly" data-kind="{esc(a.kind)}"><p><strong class="fail">'
                   f"{esc(a.kind)}</strong> {esc(a.message)}</p>"
                   f'<ul class="anomaly-ops">{"".join(rows)}{more}</ul></div>')
    return "".join(out)


def _origin(ops: dict[int, Op]) -> int:
    return min((op.invoke_ns for op in ops.values()), default=0)


def _evidence(run: RunData, i: int) -> str:
    failed = [(j, c) for j, c in enumerate(run.checks) if not c.passed]
    if not failed:
        return ""
    needs_ops = any(c.evidence.violation is not None or c.evidence.anomalies
                    for _, c in failed)
    ops, why_not = read_history(run.run_dir, run.history) if needs_ops else ({}, "")
    origin = _origin(ops)
    out = []
    if why_not and needs_ops:
        out.append(f'<p class="warn-note">{esc(why_not)}: operations are shown by index.</p>')
    for j, c in failed:
        body = (_violation_html(c, ops, origin, why_not) if c.evidence.violation is not None
                else "")
        body += _anomalies_html(c, ops, origin)
        out.append(f'<div class="check-evidence" id="{_anchor(i, j)}" data-check="{esc(c.kind)}">'
                   f"<h3>Check {esc(_headline(c))}</h3>{body}"
                   f"<details><summary>The checker's explanation</summary><pre>{esc(c.detail)}"
                   "</pre></details></div>")
    if ops:
        out.append('<p class="muted">Times are seconds since the first operation of the '
                   "history.</p>")
    return "".join(out)


def _fence(text: str) -> str:
    return "```text\n" + text.replace("```", "` ` `") + "\n```"


class CheckDetailsSection(msgspec.Struct, frozen=True):
    """Every check's verdict, and the evidence of each that failed."""

    id: str = "history-checks"
    title: str = "History checks"
    slot: Slot = Slot.DETAILS

    def render(self, ctx: ReportContext) -> Rendered | None:
        runs = _per_run(ctx)
        if not runs:
            return None
        html, mdown = [], []
        for i, run, lbl in runs:
            if ctx.comparison:
                html.append(f"<h3>{esc(lbl)}</h3>")
                mdown.append(f"**{md(lbl)}**\n")
            line = _history_line(run)
            if line:
                html.append(f'<p class="muted">{esc(line)}</p>')
                mdown.append(md(line) + "\n")
            html.append(_table(run, i) + _evidence(run, i))
            mdown.append(md_table(
                ["result", "check", "operations", "time", "summary"],
                [[_MARK[c.verdict][1], md(c.kind), str(c.ops_checked), md(_time(c)),
                  md(c.summary)] for c in run.checks]) + "\n")
            mdown += [f"**{md(c.kind)}** ({c.verdict.value}), the checker's explanation:\n\n"
                      f"{_fence(c.detail)}\n"
                      for c in run.checks if not c.passed and c.detail]
        return Rendered("".join(html), "\n".join(mdown).strip())
