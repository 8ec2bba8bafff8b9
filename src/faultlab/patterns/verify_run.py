"""Running a verification plan: its experiments one after the other, then every check judged.

Used by ``faultlab patterns verify`` (one canvas) and ``faultlab demo --patterns`` (both demo
canvases at once, one event loop, under one signal handler). Each experiment is an ordinary
run (its own run directory, result.json, report with what reached the callee); a signal
interrupts the run going on (it reverts and stops what it started) and no new one starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from faultlab.canvas.model import Canvas
from faultlab.patterns.verify import (
    Result,
    Verdict,
    VerifyPlan,
    judge,
    not_run,
    results_json,
    write_experiments,
)

if TYPE_CHECKING:
    from faultlab.api import Running

__all__ = ["VerifyJob", "print_results", "run_job", "verify_page"]

STYLE = {Verdict.VERIFIED: "green", Verdict.BROKEN: "bold red",
         Verdict.NOT_APPLICABLE: "dim", Verdict.INCONCLUSIVE: "yellow"}


@dataclass
class VerifyJob:
    label: str
    canvas: Canvas
    canvas_file: str
    plan: VerifyPlan
    out_dir: Path
    results: list[Result] = field(default_factory=list)


async def run_job(job: VerifyJob, runs: Running, console: Console) -> list[Result]:
    from faultlab.api import run_among
    from faultlab.run.execute import new_run_dir

    paths = write_experiments(job.plan, job.out_dir / "experiments", job.canvas_file)
    run_dirs: dict[tuple[str, str], Path] = {}
    for key, path in paths.items():
        if runs.interrupted:
            break
        runner, verdict = await run_among(path, new_run_dir(job.out_dir / "runs", path.stem),
                                          runs)
        run_dirs[key] = runner.run_dir
        console.print(f"  {job.label:16} {path.stem:40} ran: {verdict.status.value}")
    results = []
    for check in job.plan.checks:
        run_dir = (run_dirs.get((check.place.id, check.condition))
                   if check.condition else None)
        if run_dir is not None:
            results.append(judge(check, job.canvas, run_dir))
        else:
            results.append(not_run(check))
    job.results = results
    (job.out_dir / "verify.json").write_text(
        results_json(job.canvas_file, results, job.plan.unmapped))
    (job.out_dir / "verify.html").write_text(verify_page(job, results))
    return results


def print_results(console: Console, label: str, results: list[Result], *,
                  show_na: bool = False) -> None:
    table = Table(title=f"{label}: patterns in the running system", title_justify="left")
    for column in ("pattern", "place", "verdict", "evidence"):
        table.add_column(column, overflow="fold")
    for r in results:
        if r.verdict is Verdict.NOT_APPLICABLE and not show_na:
            continue
        table.add_row(r.check.pattern, r.check.place.id,
                      f"[{STYLE[r.verdict]}]{r.verdict.value}[/]", r.summary)
    console.print(table)
    na = sorted({r.check.pattern for r in results if r.verdict is Verdict.NOT_APPLICABLE})
    if na and not show_na:
        console.print(f"[dim]not verified here ({len(na)}): {', '.join(na)}[/]")


def _esc(value: object) -> str:
    import html

    return html.escape(str(value))


def verify_page(job: VerifyJob, results: list[Result]) -> str:
    """One self-contained page: every check, its verdict, its measured signature, the link
    to the run's own report (with the chart of what reached the callee)."""
    rows = []
    for r in results:
        link = ""
        if r.run_dir:
            rel = Path(r.run_dir).relative_to(job.out_dir) if Path(r.run_dir).is_relative_to(
                job.out_dir) else Path(r.run_dir)
            link = f'<a href="{_esc(rel / "report.html")}">report</a>'
        sig = "".join(f"<li><code>{_esc(k)}</code> {_esc(v)}</li>"
                      for k, v in r.signature.items())
        why = "".join(f"<li>{_esc(x)}</li>" for x in r.reasons)
        rows.append(
            f'<tr class="{_esc(r.verdict.name.lower())}"><td>{_esc(r.check.pattern)}</td>'
            f"<td>{_esc(r.check.place.id)}</td><td>{_esc(r.check.condition or '')}</td>"
            f'<td class="verdict">{_esc(r.verdict.value)}</td><td>{_esc(r.summary)}'
            f'{"<ul class=why>" + why + "</ul>" if why else ""}</td>'
            f'<td>{"<ul>" + sig + "</ul>" if sig else ""}</td><td>{link}</td></tr>')
    unmapped = "".join(f"<li>{_esc(u)}</li>" for u in job.plan.unmapped)
    counts = {v: sum(1 for r in results if r.verdict is v) for v in Verdict}
    summary = ", ".join(f"{n} {v.value}" for v, n in counts.items() if n)
    return f"""<!doctype html>
<html lang="en" data-ready="1"><head><meta charset="utf-8">
<title>faultlab patterns verify: {_esc(job.label)}</title>
<style>
body {{ font: 14px/1.45 system-ui, sans-serif; margin: 2rem; color: #212529; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border-bottom: 1px solid #dee2e6; padding: .4rem .5rem; text-align: left;
         vertical-align: top; }}
th {{ background: #f1f3f5; }}
td.verdict {{ font-weight: 600; white-space: nowrap; }}
tr.verified td.verdict {{ color: #2b8a3e; }}
tr.broken td.verdict {{ color: #c92a2a; }}
tr.inconclusive td.verdict {{ color: #e67700; }}
tr.not_applicable {{ color: #868e96; }}
ul {{ margin: .2rem 0; padding-left: 1.1rem; }}
code {{ font-size: 12px; }}
</style></head><body>
<h1>Patterns in the running system: {_esc(job.label)}</h1>
<p>Canvas <code>{_esc(job.canvas_file)}</code>: {_esc(summary)}. Each verdict comes from what
faultlab's proxy saw reach the callee (attempts, gaps, requests in flight) or from what the
journey's users felt, during the condition named; the run's report shows it over time.</p>
<table><thead><tr><th>pattern</th><th>place</th><th>condition</th><th>verdict</th>
<th>what was measured</th><th>signature</th><th></th></tr></thead>
<tbody>{''.join(rows)}</tbody></table>
{f"<h2>Calls not verified</h2><ul>{unmapped}</ul>" if unmapped else ""}
</body></html>
"""
