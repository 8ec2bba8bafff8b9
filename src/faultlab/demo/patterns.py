"""``faultlab demo --patterns``: ``patterns verify`` on the demo's two canvases at once.

Each canvas is loaded with free ports, its verifying experiments run against the variant it
describes (the two canvases concurrently, each one's runs in turn), and every verdict is set
against what the demo is built to show: the resilient variant has timeouts, retries with
backoff and jitter, circuit breakers, bulkheads and fallbacks on both of its calls; the naive
one has none of them, so each is broken there, with the evidence.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from faultlab.demo.from_canvas import PORT_VARS, canvas_files
from faultlab.patterns.verify import Verdict

__all__ = ["EXPECTED", "PATTERNS", "run_patterns_demo"]

#: the patterns the demo is built to show, and the verdict each canvas should get for them
PATTERNS = ("timeouts", "retries-backoff-jitter", "circuit-breaker", "bulkhead", "fallback")
EXPECTED = {"demo-naive": Verdict.BROKEN, "demo-resilient": Verdict.VERIFIED}


def run_patterns_demo(runs_dir: Path, console: Console | None = None) -> int:
    """0 when every verdict is the expected one, 1 otherwise, 2 bad input, 3 interrupted."""
    from faultlab.api import Running, interrupt_on_signals
    from faultlab.canvas.loader import load_canvas
    from faultlab.experiment import ExperimentError
    from faultlab.patterns.verify import plan_verification
    from faultlab.patterns.verify_run import VerifyJob, print_results, run_job
    from faultlab.ports import free_ports

    console = console or Console(highlight=False, width=None if sys.stdout.isatty() else 120)
    console.print("[bold]faultlab demo --patterns[/]: each demo canvas's calls put through a "
                  "hang, an outage and flakiness; the patterns judged by what reached the "
                  "callee.\n")
    jobs = []
    for name, file in canvas_files().items():
        ports = free_ports(len(PORT_VARS))
        overrides = {"python": sys.executable,
                     **{v: str(p) for v, p in zip(PORT_VARS, ports, strict=True)}}
        try:
            loaded = load_canvas(file, overrides)
        except ExperimentError as e:
            console.print(str(e))
            return 2
        plan = plan_verification(loaded.canvas, list(PATTERNS))
        jobs.append(VerifyJob(name, loaded.canvas, str(file), plan,
                              runs_dir / f"patterns-{name}"))
    runs = Running()

    async def main() -> None:
        def announce(sig: object, signals: int) -> None:
            runs.interrupted = True

        with interrupt_on_signals(runs, announce):
            await asyncio.gather(*(run_job(job, runs, console) for job in jobs))

    asyncio.run(main())
    table = Table(title="patterns: expected and found", title_justify="left")
    for column in ("canvas", "pattern", "place", "expected", "verdict", ""):
        table.add_column(column)
    agree = True
    for job in jobs:
        print_results(console, job.label, job.results)
        want = EXPECTED[job.label]
        for r in job.results:
            ok = r.verdict is want
            agree &= ok
            table.add_row(job.label, r.check.pattern, r.check.place.id, want.value,
                          r.verdict.value, "[green]✓[/]" if ok else "[red]✗[/]")
        console.print(f"  {job.label}: {job.out_dir / 'verify.html'}")
    console.print(table)
    if runs.interrupted:
        console.print("interrupted: every run that was going reverted its faults and stopped "
                      "what it started; the others did not start")
        return 3
    return 0 if agree and all(j.results for j in jobs) else 1
