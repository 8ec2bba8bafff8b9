"""``faultlab canvas analyze``: the typer front end of :mod:`faultlab.canvas.analysis`.

Exit codes: 0 no finding at or above ``--fail-on``; 1 some; 2 the canvas is invalid."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

if TYPE_CHECKING:
    from faultlab.canvas.analysis import Analysis
    from faultlab.canvas.loader import LoadedCanvas

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True, add_completion=False)

FailOn = Literal["error", "warning", "info", "never"]


@app.callback()
def _canvas() -> None:
    """A model of a system: analyse its weak points before anything runs (docs/canvas.md)."""


def _load(file: Path, var: list[str]) -> LoadedCanvas:
    from faultlab.canvas.loader import load_canvas
    from faultlab.cli import _parse_vars
    from faultlab.experiment.errors import ExperimentError

    try:
        loaded = load_canvas(file, _parse_vars(var))
    except ExperimentError as e:
        for problem in e.problems:
            typer.echo(str(problem), err=True)
        raise typer.Exit(2) from None
    for warning in loaded.warnings:
        typer.echo(str(warning), err=True)
    return loaded


@app.command(epilog="Exit codes: 0 no finding at or above --fail-on; 1 some; 2 invalid "
             "canvas.")
def analyze(
    file: Path,
    json_out: Annotated[bool, typer.Option("--json", help="The analysis as JSON (the "
                                           "structure is in docs/canvas.md).")] = False,
    fail_on: Annotated[str, typer.Option(
        "--fail-on", help="Exit 1 when a finding of this severity or above exists: "
        "error, warning, info or never.")] = "error",
    amplification: Annotated[float, typer.Option(
        "--amplification", help="retries.amplification flags calls tried more than this "
        "many times per request.", min=1.0)] = 10.0,
    var: Annotated[list[str], typer.Option(
        "--var", "-v", help="Set a variable used as ${NAME} in the file (repeatable).")] = [],  # noqa: B006
) -> None:
    """Find a canvas's weak points: availability against SLOs, single points of failure,
    retry amplification, timeout budgets, pools, error budgets."""
    from faultlab.canvas.analysis import Options, analyze
    from faultlab.canvas.findings import Severity

    if fail_on not in ("error", "warning", "info", "never"):
        typer.echo(f"faultlab: --fail-on {fail_on!r}: expected error, warning, info or never",
                   err=True)
        raise typer.Exit(2)
    loaded = _load(file, var)
    result = analyze(loaded.canvas, Options(amplification_threshold=amplification))
    if json_out:
        typer.echo(json.dumps(result.to_json(), indent=2, allow_nan=False))
    else:
        _show(result, loaded)
    if fail_on != "never" and result.at_least(Severity[fail_on.upper()]):
        raise typer.Exit(1)


def _show(result: Analysis, loaded: LoadedCanvas) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from faultlab.canvas.analysis.availability import percent
    from faultlab.units import format_duration

    console = Console(soft_wrap=False)
    journeys = Table(title=f"canvas {result.canvas}: journeys", title_justify="left",
                     expand=True)
    for column in ("journey", "rps", "availability", "SLO", "", "SPOFs", "worst case",
                   "latency SLO"):
        journeys.add_column(column)
    for j in result.journeys.values():
        met = "" if j.meets_slo is None else ("[green]met" if j.meets_slo else "[red]missed")
        journeys.add_row(
            j.name, f"{j.rps:g}/s", percent(j.availability) + ("" if j.exact else " ~"),
            percent(j.slo) if j.slo is not None else "-", met,
            ", ".join([*j.spofs, *(f"zone {z}" for z in j.spof_zones)]) or "-",
            format_duration(j.worst_case) if math.isfinite(j.worst_case) else "unbounded",
            f"{j.latency_slo[0]} {format_duration(j.latency_slo[1])}" if j.latency_slo
            else "-")
    console.print(journeys)
    findings = Table(title=f"findings ({len(result.findings)}, ranked)", title_justify="left",
                     expand=True)
    findings.add_column("severity", no_wrap=True)
    findings.add_column("rule / where", overflow="fold", max_width=30)
    findings.add_column("finding, and the fix", overflow="fold", ratio=1)
    style = {"error": "red", "warning": "yellow", "info": "dim"}
    for f in result.findings:
        findings.add_row(f"[{style[str(f.severity)]}]{f.severity}",
                         f"{f.rule}\n[dim]{loaded.locate_subject(f.subject)}",
                         f"{escape(f.message)}\n[dim]fix: {escape(f.fix)}")
    console.print(findings)
