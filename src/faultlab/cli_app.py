"""The typer app of the ``faultlab`` command: every command's options and help text.

:func:`faultlab.cli.main` runs it for ``--help``, for every command but the quick ones
(``check``, ``validate``, ``run``, ``version``) and for any command line of those its own
parser is not sure about; the quick ones' bodies live in :mod:`faultlab.cli`, so both ways
run the same code. An option added to a quick command here must be added to its entry in
``faultlab.cli.QUICK`` too (tests/test_cli.py compares the two).
"""

# No `from __future__ import annotations` here: typer reads every command's annotations
# with get_type_hints, and evaluating them from strings (compiling ~140 of them) was ~7% of
# a `faultlab --help`.
import json
from pathlib import Path
from typing import Annotated

import typer

from faultlab import cli
from faultlab.cli import CHECK_HELP, EXIT_CODES_HELP, _error

# plain help (click's formatter): rich's takes ~110 ms to import, more than the rest of a
# `faultlab --help` together
app = typer.Typer(
    name="faultlab", no_args_is_help=True, add_completion=False, rich_markup_mode=None,
    help="Break a running system on purpose, measure what users feel, put everything back.")


VarOption = Annotated[list[str], typer.Option(
    "--var", "-v", help="Set a variable used as ${NAME} in the file (repeatable).")]


@app.command()
def validate(file: Path, var: VarOption = []) -> None:  # noqa: B006
    """Check an experiment file without running anything."""
    cli.validate(file, var)


@app.command()
def schema(
    result: Annotated[bool, typer.Option(
        "--result", help="The schema of result.json (the run record) instead.")] = False,
    canvas: Annotated[bool, typer.Option(
        "--canvas", help="The schema of canvas files instead.")] = False,
) -> None:
    """Print the JSON Schema of experiment files (for editors), of result.json, or of
    canvas files."""
    if canvas:
        from faultlab.canvas.model import Canvas

        doc = Canvas.model_json_schema(by_alias=True)
        doc["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        doc["title"] = "faultlab canvas (version 1)"
        typer.echo(json.dumps(doc, indent=2))
        return
    if result:
        from faultlab.record import record_schema

        typer.echo(json.dumps(record_schema(), indent=2))
        return
    from faultlab.experiment.model import experiment_json_schema

    typer.echo(json.dumps(experiment_json_schema(), indent=2))


@app.command(epilog=EXIT_CODES_HELP)
def run(
    file: Annotated[Path | None, typer.Argument(help="The experiment file.")] = None,
    var: VarOption = [],  # noqa: B006
    runs_dir: Annotated[Path, typer.Option(help="Where run directories are created.")] = Path(
        "runs"),
    run_dir: Annotated[Path | None, typer.Option(help="Use exactly this run directory.")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for every random choice.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No per-second lines.")] = False,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Resolve every target and print the fault timeline; touch "
        "nothing. Exit 0 when all resolve, 2 otherwise.")] = False,
    from_run: Annotated[Path | None, typer.Option(
        "--from", help="Re-run a past run exactly: its journaled experiment and seed.")] = None,
    metrics: Annotated[str | None, typer.Option(
        "--metrics", help="Serve the run's own metrics (workload rates and latency, active "
        "faults, phase) for Prometheus at http://HOST:PORT/metrics while it lasts; loopback "
        "only, e.g. 127.0.0.1:9464.")] = None,
) -> None:
    """Run an experiment: start the system, drive load, inject faults, judge, revert."""
    cli.run(file, var, runs_dir=runs_dir, run_dir=run_dir, seed=seed, quiet=quiet,
            dry_run=dry_run, from_run=from_run, metrics=metrics)


@app.command()
def report(
    run_dirs: list[Path],
    out: Annotated[Path | None, typer.Option(
        help="Output directory (required to compare several runs).")] = None,
) -> None:
    """Write report.html (self-contained) and report.md for one run, or a comparison."""
    from faultlab.report import ReportError, write_report

    if len(run_dirs) > 1 and out is None:
        raise _error("comparing several runs needs --out DIR (hint: --out runs/compare)")
    try:
        html, md = write_report(run_dirs, out)
    except ReportError as e:
        raise _error(str(e)) from None
    typer.echo(f"wrote {html}\nwrote {md}")


@app.command(epilog=CHECK_HELP)
def check(
    history: Path,
    model: Annotated[str, typer.Option(
        help="Model for linearizability: register, cas-register, multi-register, set, "
             "queue, counter, mutex.")] = "cas-register",
    checker: Annotated[str, typer.Option(
        help="linearizable, set, queue, counter or bank.")] = "linearizable",
    time_limit: Annotated[float, typer.Option(help="Seconds before the verdict is "
                                               "'unknown'.")] = 60.0,
    independent: Annotated[bool, typer.Option(
        help="Jepsen inputs (EDN, history.txt, jepsen.log): values are [key value] tuples "
             "(Jepsen's independent).")] = False,
) -> None:
    """Check a history (faultlab JSON Lines, Jepsen EDN, history.txt or jepsen.log) and
    explain any violation. An empty history is invalid input (exit 2), never "valid"; a
    history with nothing that took effect is "unknown" (exit 3). See docs/history.md."""
    cli.check(history, model=model, checker=checker, time_limit=time_limit,
              independent=independent)


@app.command()
def recover(run_dir: Path) -> None:
    """Revert every fault a crashed run left active, and stop what it started."""
    import asyncio

    from faultlab.run.recover import RunStillGoing
    from faultlab.run.recover import recover as do_recover

    try:
        report = asyncio.run(do_recover(run_dir))
    except RunStillGoing as e:
        raise _error(str(e)) from None
    except FileNotFoundError as e:
        raise _error(f"{e} (hint: pass a run directory, e.g. runs/20260101-120000-name)"
                     ) from None
    for line in report.reverted:
        typer.echo(f"reverted {line}")
    for line in report.stopped:
        typer.echo(f"stopped {line}")
    for line in report.skipped:
        typer.echo(f"skipped {line}", err=True)
    for line in report.failed:
        typer.echo(f"REVERT FAILED {line}", err=True)
    if report.already_clean:
        typer.echo(f"{run_dir}: nothing was active")
    raise typer.Exit(4 if report.failed else 0)


@app.command()
def demo(
    runs_dir: Annotated[Path, typer.Option(help="Where run directories are created.")] = Path(
        "runs"),
    quiet: Annotated[bool, typer.Option(
        "--quiet/--no-quiet", "-q", help="Per-run lines only (--no-quiet: every second).")
    ] = True,
    from_canvas: Annotated[bool, typer.Option(
        "--from-canvas", help="Analyse the demo's two canvases, generate their experiments, "
        "run them and check each verdict against its finding.")] = False,
    patterns: Annotated[bool, typer.Option(
        "--patterns", help="Verify the demo canvases' patterns in the running system "
        "(timeouts, retries, breakers, bulkheads, fallbacks): verified in the resilient "
        "variant, broken in the naive one.")] = False,
) -> None:
    """Run the built-in suite against a naive and a resilient demo system, side by side."""
    if patterns:
        from faultlab.demo.patterns import run_patterns_demo

        raise typer.Exit(run_patterns_demo(runs_dir))
    if from_canvas:
        from faultlab.demo.from_canvas import run_from_canvas

        raise typer.Exit(run_from_canvas(runs_dir))
    from faultlab.demo.suite import run_demo

    raise typer.Exit(run_demo(runs_dir, quiet=quiet))


@app.command()
def version() -> None:
    """Print faultlab's version."""
    cli.version()


def mount_groups(argv: list[str] | None = None) -> None:
    """Add the command groups of :data:`faultlab.cli.GROUPS` to ``app``: the one ``argv``
    names for real, the others as their name and help only (all of them for real when
    ``argv`` is None)."""
    import importlib

    wanted = next((a for a in (argv or []) if not a.startswith("-")), None)
    mounted = {g.name for g in app.registered_groups}
    for name, (module, help_text) in cli.GROUPS.items():
        if name in mounted:
            continue
        if argv is None or name == wanted:
            group = importlib.import_module(module).app
        else:
            group = typer.Typer(help=help_text, add_completion=False, rich_markup_mode=None)
        app.add_typer(group, name=name, help=help_text)
