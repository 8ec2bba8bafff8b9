"""The ``faultlab`` command. Heavy modules are imported inside commands, so ``--help`` and
``validate`` start fast."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from faultlab import __version__

# plain help (click's formatter): rich's takes ~110 ms to import, more than the rest of a
# `faultlab --help` together
app = typer.Typer(
    name="faultlab", no_args_is_help=True, add_completion=False, rich_markup_mode=None,
    help="Break a running system on purpose, measure what users feel, put everything back.")

EXIT_CODES_HELP = ("Exit codes: 0 hypothesis held; 1 violated; 2 invalid input; "
                   "3 aborted or interrupted; 4 a revert failed, set-up failed, internal error.")


#: the command groups: name -> (module of their Typer app, help); a group's module is
#: imported only when the command line names it, so the others cost nothing at start-up
GROUPS = {
    "proxy": ("faultlab.proxy.cli", "The fault-injection proxy server."),
    "lab": ("faultlab.lab.cli", "Clusters on this machine (network namespaces)."),
    "canvas": ("faultlab.canvas.cli", "A model of a system: analyse its weak points before "
               "anything runs."),
    "patterns": ("faultlab.patterns.cli", "Infrastructure patterns: the canvas rules that "
                 "show each missing, and the experiment that checks it."),
    "import": ("faultlab.importers.cli", "Convert experiments of other tools into faultlab's."),
}


def mount_groups(argv: list[str] | None = None) -> None:
    """Add the command groups to ``app``: the one ``argv`` names for real, the others as
    their name and help only (all of them for real when ``argv`` is None)."""
    import importlib

    wanted = next((a for a in (argv or []) if not a.startswith("-")), None)
    mounted = {g.name for g in app.registered_groups}
    for name, (module, help_text) in GROUPS.items():
        if name in mounted:
            continue
        if argv is None or name == wanted:
            group = importlib.import_module(module).app
        else:
            group = typer.Typer(help=help_text, add_completion=False, rich_markup_mode=None)
        app.add_typer(group, name=name, help=help_text)


def _error(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"faultlab: {message}", err=True)
    return typer.Exit(code)


def _parse_vars(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise _error(f"--var {item!r}: expected NAME=VALUE (e.g. --var port=8080)")
        if name.strip() in out and out[name.strip()] != value:
            raise _error(f"--var {name.strip()} is given twice, as {out[name.strip()]!r} and "
                         f"{value!r} (hint: keep one)")
        out[name.strip()] = value
    return out


def _load(file: Path, variables: list[str]):  # type: ignore[no-untyped-def]
    from faultlab.experiment import ExperimentError, load_experiment

    try:
        loaded = load_experiment(file, _parse_vars(variables))
    except ExperimentError as e:
        for problem in e.problems:
            typer.echo(str(problem), err=True)
        raise typer.Exit(2) from None
    for warning in loaded.warnings:  # valid, probably not meant: said before anything runs
        typer.echo(str(warning), err=True)
    return loaded


VarOption = Annotated[list[str], typer.Option(
    "--var", "-v", help="Set a variable used as ${NAME} in the file (repeatable).")]


@app.command()
def validate(file: Path, var: VarOption = []) -> None:  # noqa: B006
    """Check an experiment file without running anything."""
    loaded = _load(file, var)
    exp = loaded.experiment
    warned = f", {len(loaded.warnings)} warning(s)" if loaded.warnings else ""
    typer.echo(f"{file}: ok: experiment '{exp.name}', {len(exp.targets)} targets, "
               f"{len(exp.faults)} faults, {len(exp.slos)} SLOs{warned}")


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
    from faultlab.experiment.model import experiment_model

    doc = experiment_model().model_json_schema(by_alias=True)
    doc["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    doc["title"] = "faultlab experiment (version 1)"
    typer.echo(json.dumps(doc, indent=2))


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
    address = None
    if metrics is not None:
        from faultlab.run.metrics import MetricsError, parse_address

        try:
            address = parse_address(metrics)
        except MetricsError as e:
            raise _error(str(e)) from None
    if (file is None) == (from_run is None):
        raise _error("give an experiment FILE or --from RUN_DIR (hint: faultlab run exp.yaml)")
    if from_run is not None:
        from faultlab.run.rerun import RerunError, load_past_run

        try:
            loaded, past_seed = load_past_run(from_run, _parse_vars(var))
        except RerunError as e:
            raise _error(str(e)) from None
        seed = past_seed if seed is None else seed
    else:
        assert file is not None
        loaded = _load(file, var)
    if dry_run:
        import asyncio

        from faultlab.run.dryrun import dry_run as do_dry_run

        result = asyncio.run(do_dry_run(loaded, seed))
        typer.echo(result.render())
        raise typer.Exit(0 if result.ok else 2)
    if run_dir is not None and (run_dir / "journal.jsonl").exists():
        raise _error(f"{run_dir}: already holds a run (hint: give a new --run-dir, or use "
                     "--runs-dir to get a fresh one)")
    from faultlab.run.execute import execute

    code = execute(loaded, run_dir=run_dir, runs_dir=runs_dir, seed=seed, quiet=quiet,
                   metrics=address)
    raise typer.Exit(code)


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


CHECK_HELP = ("Exit codes: 0 valid; 1 invalid (the explanation is printed); 2 invalid or "
              "empty input; 3 unknown (the time or memory budget ran out first, or there was "
              "nothing to check); 4 internal error. Format: docs/history.md.")


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
    import math

    from faultlab.check import (
        Budget,
        ModelError,
        check_bank,
        check_counter,
        check_linearizable,
        check_queue,
        check_set,
        get_model,
        read_history,
    )
    from faultlab.history import HistoryError

    if not (math.isfinite(time_limit) and time_limit > 0):
        raise _error(f"--time-limit {time_limit:g}: expected a finite number of seconds above "
                     "zero (hint: e.g. --time-limit 30)")
    try:
        linear_model = get_model(model)
    except ValueError as e:
        raise _error(f"--model: {e}") from None
    runners = {
        "linearizable": lambda ops: check_linearizable(ops, linear_model,
                                                       Budget(time_s=time_limit)),
        "set": check_set, "queue": check_queue, "counter": check_counter, "bank": check_bank,
    }
    if checker not in runners:
        raise _error(f"unknown checker {checker!r} (hint: one of {', '.join(runners)})")
    try:
        result = runners[checker](read_history(history, independent=independent))
    except (HistoryError, ModelError) as e:  # bad input: one located line per problem
        for line in str(e).splitlines() or [str(e)]:
            typer.echo(line if line.startswith(f"{history}:") else f"{history}: {line}",
                       err=True)
        raise typer.Exit(2) from None
    except Exception as e:  # a bug in faultlab: one line, never a traceback
        raise _error(f"internal error: {type(e).__name__}: {e} (hint: this is a bug; please "
                     "report it with the history file)", 4) from None
    typer.echo(result.render())
    raise typer.Exit({"valid": 0, "invalid": 1}.get(result.verdict.value, 3))


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
    typer.echo(__version__)


def main() -> None:
    mount_groups(sys.argv[1:])
    app(prog_name="faultlab")


if __name__ == "__main__":
    main()
    sys.exit(0)
