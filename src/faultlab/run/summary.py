"""The terminal side of a run: a live progress line during it and a summary table after."""

from __future__ import annotations

from typing import Any

from faultlab.run.terminal import Out
from faultlab.run.verdict import Status, Verdict
from faultlab.units import format_duration, format_period
from faultlab.workload.stats import SecondStats

__all__ = ["ConsoleProgress", "print_summary", "status_style"]


def status_style(status: Status) -> str:
    return {Status.HELD: "bold green", Status.VIOLATED: "bold red",
            Status.STEADY_STATE_FAILED: "bold yellow"}.get(status, "bold magenta")


class ConsoleProgress:
    """Prints one compact line per completed second and one per fault event."""

    def __init__(self, console: Out, label: str = "") -> None:
        self.console = console
        self.label = f"[dim]{label}[/] " if label else ""
        self.current = "set-up"

    def phase(self, name: str, t: float) -> None:
        self.current = name
        self.console.print(f"{self.label}[bold cyan]{t:6.1f}s phase {name}[/]")

    def second(self, s: SecondStats) -> None:
        n = s.histogram.get_total_count()
        p99 = format_duration(s.histogram.get_value_at_percentile(99) / 1e6) if n else "-"
        bad = s.failed + s.timed_out + s.dropped
        colour = "red" if bad else "green"
        blind = f" [magenta]probe error {s.errors}[/]" if s.errors else ""
        self.console.print(
            f"{self.label}[dim]{s.index:5d}s {self.current:7}[/] sent {s.sent:4d} "
            f"[{colour}]ok {s.ok:4d} err {s.failed:3d} timeout {s.timed_out:3d}[/] "
            f"p99 {p99}{blind}")

    def event(self, text: str) -> None:
        self.console.print(f"{self.label}[bold]{text}[/]")


def _fig(value: Any, unit: str) -> str:
    if value is None:
        return "-"
    return format_duration(value) if unit == "s" else f"{value:.2%}"


def _workload_totals(verdict: Verdict) -> dict[str, dict[str, Any]]:
    """Totals of every measured workload, by name (the single-workload shape as 'http')."""
    out: dict[str, dict[str, Any]] = {}
    for name, entry in verdict.workloads.items():
        totals = entry.get("totals")
        if isinstance(totals, dict) and totals:
            out[name] = totals
    if not out and verdict.workload:
        out["http"] = dict(verdict.workload)
    return out


def print_summary(console: Out, verdict: Verdict, experiment: str, run_dir: str) -> None:
    rows = []
    for c in verdict.clauses:
        recovery = "-"
        if c.phase == "after":
            recovery = (f"{format_duration(c.recovery_time)} (<= "
                        f"{format_duration(c.recover_within or 0)})"
                        if c.recovery_time is not None else "not recovered")
        rows.append((f"{c.phase}: {c.slo}", c.objective, _fig(c.measured, c.unit), recovery,
                     {"held": "[green]held[/]", "violated": "[red]violated[/]"}.get(
                         c.result, f"[magenta]{c.result}[/]")))
    if rows:
        console.table(f"{experiment}: hypothesis", ("clause", "objective",
                      "measured (worst window)", "recovery", "result"), rows)
    if verdict.faults:
        console.table("faults", ("fault", "target", "injected", "reverted", "lease",
                                 "recovery"), [
            (f"{f.kind} {f.name}", f.target,
             f"{f.injected_at:.2f}s" if f.injected_at is not None else "-",
             ("[red]FAILED[/]" if f.revert_ok is False else
              f"{f.reverted_at:.2f}s" if f.reverted_at is not None else "-"),
             format_duration(f.lease) if f.lease else "-",
             format_duration(f.recovery_time) if f.recovery_time is not None
             else (f.recovery_note or "-"))
            for f in verdict.faults])
    if verdict.checks:
        console.table("history checks", ("check", "verdict", "operations", "summary"), [
            (chk.kind, f"[{'green' if chk.passed else 'red'}]{chk.verdict}[/]",
             str(chk.ops_checked), chk.summary) for chk in verdict.checks])
        for chk in verdict.checks:
            if not chk.passed:
                console.print(chk.detail, markup=False)
    for name, entry in _workload_totals(verdict).items():
        w = entry
        console.print(f"workload {name}: {w.get('planned')} planned, {w.get('ok')} ok, "
                      f"{w.get('failed')} failed, {w.get('timed_out')} timed out, "
                      f"{w.get('dropped')} dropped"
                      + (f", {w['probe_errors']} probe errors" if w.get("probe_errors") else "")
                      + f"; p50 {_fig(w.get('p50'), 's')}, "
                      f"p99 {_fig(w.get('p99'), 's')}")
    for b in verdict.budgets:
        if b.consumed is not None and b.period is not None and b.burn_rate is not None:
            console.print(f"error budget {b.slo}: consumed {b.consumed * 100:.3g}% of its "
                          f"{format_period(b.period)} budget ({b.bad} of {b.total} requests "
                          f"bad, burn rate {b.burn_rate:.3g}x)")
    style = status_style(verdict.status)
    console.print(f"[{style}]{verdict.status.value.upper()}[/] (exit {int(verdict.exit_code)})"
                  f": {verdict.reasons[0] if verdict.reasons else ''}")
    for reason in verdict.reasons[1:]:
        console.print(f"  {reason}")
    console.print(f"[dim]run directory: {run_dir}[/]")
