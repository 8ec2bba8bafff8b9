"""``faultlab demo --from-canvas``: the demo system's two canvases (examples/canvas, shipped
in the package as ``faultlab.demo/canvas``) analysed, their experiments generated, and run
against the variant each canvas describes; then each verdict is set against what its
finding predicted.

The canvases are loaded with free ports (``--var``-style overrides), so the generated
experiments run against services on those ports. The two canvases' experiments run at the
same time (one event loop, each run its own proxy server and services), each canvas's one
after the other.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from rich.console import Console
from rich.table import Table

from faultlab.api import Running, interrupt_on_signals, run_among
from faultlab.experiment import ExperimentError
from faultlab.ports import free_ports
from faultlab.run.execute import new_run_dir
from faultlab.run.summary import status_style
from faultlab.run.verdict import Status, Verdict

__all__ = ["CANVASES", "canvas_files", "run_from_canvas"]

CANVASES = ("demo-naive", "demo-resilient")
PORT_VARS = ("storefront_port", "inventory_port", "inventory_proxy_port", "data_port",
             "data_proxy_port")


def canvas_files() -> dict[str, Path]:
    base = resources.files("faultlab.demo") / "canvas"
    return {name: Path(str(base / f"{name}.yaml")) for name in CANVASES}


@dataclass
class _Planned:
    canvas: str
    file: Path
    rule: str
    subject: str
    expect: str
    verdict: Verdict | None = None
    run_dir: Path | None = None

    @property
    def agrees(self) -> bool:
        if self.verdict is None:
            return False
        want = Status.VIOLATED if self.expect == "violated" else Status.HELD
        return self.verdict.status is want


def _plan(runs_dir: Path, console: Console) -> list[_Planned] | None:
    from faultlab.canvas.analysis import analyze
    from faultlab.canvas.generate import Skipped, write_experiments
    from faultlab.canvas.loader import load_canvas

    planned: list[_Planned] = []
    for name, file in canvas_files().items():
        ports = free_ports(len(PORT_VARS))
        overrides = {"python": sys.executable, **{v: str(p) for v, p in
                                                  zip(PORT_VARS, ports, strict=True)}}
        try:
            loaded = load_canvas(file, overrides)
        except ExperimentError as e:
            console.print(str(e))
            return None
        result = analyze(loaded.canvas)
        out = runs_dir / f"canvas-{name}"
        console.print(f"[bold cyan]{name}[/]: {len(result.findings)} findings; experiments "
                      f"in {out}")
        for item in write_experiments(loaded.canvas, list(result.findings), out, str(file)):
            if isinstance(item, Skipped):
                continue
            path, made = item
            planned.append(_Planned(name, path, made.finding.rule, made.finding.subject,
                                    made.expect))
    return planned


async def _run_canvas(items: list[_Planned], runs_dir: Path, console: Console,
                      runs: Running) -> None:
    for item in items:
        if runs.interrupted:
            return
        runner, verdict = await run_among(
            item.file, new_run_dir(runs_dir, f"{item.canvas}-{item.file.stem}"), runs)
        item.verdict, item.run_dir = verdict, runner.run_dir
        mark = "[green]as predicted[/]" if item.agrees else "[red]NOT as predicted[/]"
        console.print(f"  {item.canvas:15} {item.file.stem:32} "
                      f"[{status_style(verdict.status)}]{verdict.status.value}[/]  {mark}")


async def _run_all(planned: list[_Planned], runs_dir: Path, console: Console) -> bool:
    """Both canvases' runs at once, under one handler of SIGINT/SIGTERM: it interrupts
    whichever runs are going (each reverts and stops what it started)."""
    runs = Running()

    def announce(sig: object, signals: int) -> None:
        runs.interrupted = True

    with interrupt_on_signals(runs, announce):
        await asyncio.gather(*(_run_canvas([p for p in planned if p.canvas == name],
                                           runs_dir, console, runs) for name in CANVASES))
    return runs.interrupted


def run_from_canvas(runs_dir: Path, console: Console | None = None) -> int:
    """0 when every verdict is the one its finding predicted, 1 otherwise, 2 bad input, 3
    interrupted (SIGINT/SIGTERM)."""
    console = console or Console(highlight=False, width=None if sys.stdout.isatty() else 110)
    console.print("[bold]faultlab demo --from-canvas[/]: the demo system described as two "
                  "canvases, naive and resilient; each finding worth testing becomes an "
                  "experiment, run against the variant its canvas describes.\n")
    runs_dir.mkdir(parents=True, exist_ok=True)
    planned = _plan(runs_dir, console)
    if planned is None:
        return 2
    interrupted = asyncio.run(_run_all(planned, runs_dir, console))
    table = Table(title="findings checked in the running system", title_justify="left")
    for column in ("canvas", "finding", "on", "predicted", "verdict", ""):
        table.add_column(column)
    for p in planned:
        status = p.verdict.status.value if p.verdict else "not run"
        style = status_style(p.verdict.status) if p.verdict else "dim"
        table.add_row(p.canvas, p.rule, p.subject, p.expect.upper(), f"[{style}]{status}[/]",
                      "[green]✓[/]" if p.agrees else "[red]✗[/]")
    console.print(table)
    if interrupted:
        console.print("interrupted: every run that was going reverted its faults and stopped "
                      "what it started; the others did not start")
        return 3
    return 0 if planned and all(p.agrees for p in planned) else 1
