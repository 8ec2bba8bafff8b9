"""``faultlab demo``: the built-in suite, run against the naive and the resilient variant.

Each experiment file in ``demo/experiments`` is an ordinary experiment (users copy them);
the suite fills in free ports and the variant through ``--var``-style overrides and runs the
two variants of one experiment at the same time, in one event loop, each with its own proxy
server and services. Then it prints the verdicts side by side.
"""

from __future__ import annotations

import asyncio
import sys
from importlib import resources
from pathlib import Path

from rich.console import Console
from rich.table import Table

from faultlab.api import finish, interrupt_on_signals, prepare_run
from faultlab.experiment import ExperimentError, load_experiment
from faultlab.experiment.loader import LoadedExperiment
from faultlab.ports import free_ports
from faultlab.run.execute import new_run_dir, write_reports
from faultlab.run.runner import Runner
from faultlab.run.summary import status_style
from faultlab.run.terminal import RichOut
from faultlab.run.verdict import Status, Verdict
from faultlab.units import format_duration

__all__ = ["EXPERIMENTS", "VARIANTS", "experiment_files", "run_demo"]

EXPERIMENTS = ("slow-data", "data-down", "inventory-restart")
VARIANTS = ("naive", "resilient")
PORT_VARS = ("storefront_port", "inventory_port", "inventory_proxy_port", "data_port",
             "data_proxy_port")


def experiment_files() -> dict[str, Path]:
    base = resources.files("faultlab.demo") / "experiments"
    return {name: Path(str(base / f"{name}.yaml")) for name in EXPERIMENTS}


async def _run_pair(pair: list[Runner]) -> list[Verdict]:
    """Run both variants at once. A signal interrupts both; each run then reverts its
    faults, stops what it started, and still returns its verdict."""
    with interrupt_on_signals(pair):
        return list(await asyncio.gather(*(r.run() for r in pair)))


def run_demo(runs_dir: Path, quiet: bool = True, console: Console | None = None,
             experiments: tuple[str, ...] = EXPERIMENTS) -> int:
    console = console or Console(highlight=False, width=None if sys.stdout.isatty() else 110)
    files = experiment_files()
    results: dict[str, dict[str, tuple[Verdict, Path]]] = {}
    reports: list[Path] = []
    console.print("[bold]faultlab demo[/]: storefront -> inventory -> data, with faultlab's "
                  "proxy in front of each dependency; 50 requests/s at the storefront.\n"
                  "Each experiment runs against the [red]naive[/] variant (no timeouts, no "
                  "retries) and the [green]resilient[/] one (timeouts, retries with backoff "
                  "and jitter, circuit breaker, fallback) at the same time.\n")
    for name in experiments:
        pair: list[Runner] = []
        loaded_pair: list[LoadedExperiment] = []
        ports = free_ports(len(PORT_VARS) * len(VARIANTS))
        for i, variant in enumerate(VARIANTS):
            overrides = {"variant": variant, "python": sys.executable}
            overrides.update({v: str(ports[i * len(PORT_VARS) + k])
                              for k, v in enumerate(PORT_VARS)})
            try:
                loaded = load_experiment(files[name], overrides)
            except ExperimentError as e:
                console.print(str(e))
                return 2
            pair.append(prepare_run(loaded, run_dir=new_run_dir(runs_dir, f"demo-{name}-{variant}"),
                                    argv=["faultlab", "run", str(files[name]), "--var",
                                          f"variant={variant}"]))
            loaded_pair.append(loaded)
        console.print(f"[bold cyan]{name}[/]: {loaded_pair[0].experiment.description}")
        verdicts = asyncio.run(_run_pair(pair))
        results[name] = {}
        for variant, runner, verdict in zip(VARIANTS, pair, verdicts,
                                                    strict=True):
            finish(runner, verdict)
            results[name][variant] = (verdict, runner.run_dir)
            style = status_style(verdict.status)
            console.print(f"  {variant:9} [{style}]{verdict.status.value}[/]  "
                          f"{verdict.reasons[0] if verdict.reasons else ''}")
        dirs = [results[name][v][1] for v in VARIANTS]
        html = write_reports(RichOut(console), dirs, runs_dir / f"demo-{name}-comparison")
        if html is not None:
            reports.append(html)
        if any(v.status is Status.INTERRUPTED for v in verdicts):
            break
    _print_table(console, results)
    for html in reports:
        console.print(f"comparison report: {html}")
    return _exit_code(results)


def _figure(verdict: Verdict, phase: str, slo: str) -> str:
    for c in verdict.clauses:
        if c.phase == phase and c.slo == slo:
            mark = "[green]✓[/]" if c.held else "[red]✗[/]"
            if phase == "after":
                text = (f"recovered in {format_duration(c.recovery_time)}"
                        if c.recovery_time is not None else "not recovered")
            elif c.measured is None:
                text = "no data"
            else:
                text = (format_duration(c.measured) if c.unit == "s"
                        else f"{c.measured:.1%}")
            return f"{mark} {text}"
    return "[dim]not judged[/]"


def _print_table(console: Console, results: dict[str, dict[str, tuple[Verdict, Path]]]) -> None:
    """One row per experiment clause: the worst window each variant saw, side by side."""
    table = Table(title="faultlab demo: the same faults, two designs", title_justify="left")
    table.add_column("experiment")
    table.add_column("clause (worst window)")
    for variant in VARIANTS:
        table.add_column(variant)
    for name, by_variant in results.items():
        verdicts = [by_variant[v][0] for v in VARIANTS]
        keys: list[tuple[str, str, str]] = []
        for c in verdicts[0].clauses + verdicts[1].clauses:
            if (c.phase, c.slo, c.objective) not in keys:
                keys.append((c.phase, c.slo, c.objective))
        statuses = [f"[{status_style(v.status)}]{v.status.value.upper()}[/]" for v in verdicts]
        table.add_row(f"[bold]{name}[/]", "", *statuses, end_section=False)
        for phase, slo, objective in keys:
            table.add_row("", f"{phase}: {objective}",
                          *(_figure(v, phase, slo) for v in verdicts))
        table.add_section()
    console.print(table)
    console.print("Run directories (journal.jsonl, result.json, junit.xml, report.html, logs/):")
    for name, by_variant in results.items():
        for variant in VARIANTS:
            console.print(f"  {name:18} {variant:9} {by_variant[variant][1]}")
    console.print("Re-run one by hand: faultlab run "
                  f"{experiment_files()[EXPERIMENTS[0]]} --var variant=naive")


def _exit_code(results: dict[str, dict[str, tuple[Verdict, Path]]]) -> int:
    statuses = [v.status for by in results.values() for v, _ in by.values()]
    if any(s in (Status.ERROR, Status.REVERT_FAILED) for s in statuses):
        return 4
    if any(s is Status.INTERRUPTED for s in statuses):
        return 3
    return 0
