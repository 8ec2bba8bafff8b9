"""Run one loaded experiment in this process: event loop, signals, outputs, summary."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
import time
from pathlib import Path

from rich.console import Console

from faultlab.clock import MonotonicClock
from faultlab.experiment.loader import LoadedExperiment
from faultlab.run.outputs import result_document, write_junit, write_result
from faultlab.run.runner import Progress, Runner
from faultlab.run.summary import ConsoleProgress, print_summary
from faultlab.run.verdict import Verdict

__all__ = ["execute", "new_run_dir", "run_async", "write_reports"]


def new_run_dir(runs_dir: Path, name: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    base = runs_dir / f"{stamp}-{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


async def run_async(runner: Runner, console: Console | None = None) -> Verdict:
    """Run with SIGINT/SIGTERM handlers: the first signal cancels the run, which then reverts
    every active fault before it returns; later signals are acknowledged, never obeyed."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    requested: list[int] = []

    def on_signal(sig: signal.Signals) -> None:
        if console is not None:
            console.print(f"[bold yellow]{sig.name}: reverting every active fault...[/]")
        if not requested:
            requested.append(sig)
            task.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        return await runner.run()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def _event_loop_factory() -> None:
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def write_reports(console: Console, run_dirs: list[Path], out_dir: Path | None) -> Path | None:
    """Write the HTML and Markdown report; a report problem never changes a run's outcome."""
    from faultlab.report import write_report

    try:
        html, _ = write_report(run_dirs, out_dir)
    except Exception as e:
        console.print(f"[yellow]warning: no report written: {type(e).__name__}: {e}[/]")
        return None
    return html


def execute(loaded: LoadedExperiment, *, run_dir: Path | None, runs_dir: Path,
            seed: int | None, quiet: bool, console: Console | None = None,
            progress: Progress | None = None) -> int:
    console = console or Console(highlight=False, width=None if sys.stdout.isatty() else 110)
    run_dir = run_dir or new_run_dir(runs_dir, loaded.experiment.name)
    if progress is None:
        progress = ConsoleProgress(console) if not quiet else None
    runner = Runner(loaded, run_dir, MonotonicClock(), seed=seed, progress=progress,
                    argv=list(sys.argv))
    if not quiet:
        console.print(f"[bold]faultlab run[/] {loaded.experiment.name} -> {run_dir}")
    _event_loop_factory()
    verdict = asyncio.run(run_async(runner, console))
    doc = result_document(verdict, loaded, run_dir, runner.seed, list(sys.argv))
    write_result(doc, run_dir, runner.redactor)
    write_junit(verdict, loaded.experiment.name, run_dir, runner.redactor)
    write_reports(console, [run_dir], None)
    print_summary(console, verdict, loaded.experiment.name, str(run_dir))
    return int(verdict.exit_code)
