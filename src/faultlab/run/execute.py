"""Run one loaded experiment in this process: event loop, signals, outputs, summary."""

from __future__ import annotations

import asyncio
import importlib
import re
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

from faultlab import startup
from faultlab.experiment.loader import LoadedExperiment
from faultlab.run.runner import Progress, Runner
from faultlab.run.summary import ConsoleProgress, print_summary
from faultlab.run.terminal import Out, for_stdout
from faultlab.run.verdict import Verdict

__all__ = ["execute", "loop_factory", "new_run_dir", "run_async", "write_reports"]


#: what the run imports at its first event and at its end, imported before it starts: while
#: start-up holds the collector back (:mod:`faultlab.startup`), and so that no import pauses
#: the loop once faults are in flight
LATER_MODULES = ("faultlab.events", "faultlab.hosts.local", "faultlab.run.outputs",
                 "faultlab.report", "faultlab.telemetry")


def new_run_dir(runs_dir: Path, name: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    base = runs_dir / f"{stamp}-{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


async def run_async(runner: Runner, console: Out | None = None) -> Verdict:
    """Run with SIGINT/SIGTERM handlers: the first signal interrupts the run, which then
    reverts every active fault and stops what it started before it returns; a later signal
    makes that tear-down hurry (shorter waits), never skip a step."""
    from faultlab.api import interrupt_on_signals

    def announce(sig: signal.Signals, seen: int) -> None:
        if console is not None:
            what = ("reverting every active fault and stopping what the run started"
                    if seen == 0 else "hurrying the tear-down (nothing is skipped)")
            console.print(f"[bold yellow]{sig.name}: {what}...[/]")

    metrics = runner.metrics
    if metrics is not None:
        metrics.active_faults = runner.active_faults
        url = await metrics.start()
        if console is not None:
            console.print(f"metrics for Prometheus: {url}")
    try:
        with interrupt_on_signals([runner], announce):
            return await runner.run()
    finally:
        if metrics is not None:
            metrics.phase = "done"
            await metrics.stop()


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop where it is installed (None: asyncio's default)."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def write_reports(console: Out, run_dirs: list[Path], out_dir: Path | None) -> Path | None:
    """Write the HTML and Markdown report; a report problem never changes a run's outcome."""
    from faultlab.report import write_report

    try:
        html, _ = write_report(run_dirs, out_dir)
    except Exception as e:
        console.print(f"[yellow]warning: no report written: {type(e).__name__}: {e}[/]")
        return None
    return html


def execute(loaded: LoadedExperiment, *, run_dir: Path | None, runs_dir: Path,
            seed: int | None, quiet: bool, console: Out | None = None,
            progress: Progress | None = None, metrics: tuple[str, int] | None = None) -> int:
    from faultlab.api import finish, prepare_run

    console = console or for_stdout()
    if progress is None:
        progress = ConsoleProgress(console) if not quiet else None
    sock = None
    if metrics is not None:
        from faultlab.run.metrics import RunMetrics

        try:
            sock = RunMetrics.bind(metrics)
        except OSError as e:  # before anything of the run exists
            print(f"faultlab: --metrics {metrics[0]}:{metrics[1]}: cannot listen: "
                  f"{e.strerror or e} (hint: pick a free port, or 0 for any)", file=sys.stderr)
            return 2
    runner = prepare_run(loaded, run_dir=run_dir, runs_dir=runs_dir, seed=seed,
                         progress=progress, argv=list(sys.argv))
    if not quiet:
        console.print(f"[bold]faultlab run[/] {loaded.experiment.name} -> {runner.run_dir}")
    if sock is not None:
        from faultlab.run.metrics import RunMetrics

        runner.metrics = RunMetrics(loaded.experiment.name, str(runner.run_dir), sock)
    factory = loop_factory()
    for name in LATER_MODULES:
        importlib.import_module(name)
    startup.settle()  # the run's work starts: see faultlab.startup
    with asyncio.Runner(loop_factory=factory) as loop:
        verdict = loop.run(run_async(runner, console))
    result = finish(runner, verdict)
    print_summary(console, verdict, loaded.experiment.name, str(runner.run_dir))
    return result.exit_code
