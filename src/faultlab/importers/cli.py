"""``faultlab import ...``: experiments of other tools as faultlab experiments."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, rich_markup_mode=None,
                  help="Convert experiments of other tools into faultlab's.")


def seconds(text: str, option: str, *, whole: bool = False, least: float = 0.1) -> float:
    from faultlab.units import UnitError, parse_duration

    try:
        value = parse_duration(text)
    except UnitError as e:
        raise _fail(f"{option} {text!r}: {e}") from None
    if value < least or (whole and not float(value).is_integer()):
        raise _fail(f"{option} {text!r}: give {'whole seconds, ' if whole else ''}at least "
                    f"{least:g}s, e.g. {option} {'3s' if whole else '1s'}")
    return value


def _fail(message: str) -> typer.Exit:
    typer.echo(f"faultlab: {message}", err=True)
    return typer.Exit(2)


@app.command("chaostoolkit")
def chaostoolkit(
    experiment: Annotated[Path, typer.Argument(help="The Chaos Toolkit experiment (.json, "
                                               ".yaml or .yml).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The faultlab experiment "
                                         "file to write.")],
    every: Annotated[str, typer.Option(help="How often each hypothesis probe is asked.")] = "1s",
    steady_for: Annotated[str, typer.Option(help="How long the steady state is observed "
                                            "before the method (whole seconds).")] = "2s",
    check_for: Annotated[str, typer.Option(help="How long the hypothesis is judged after the "
                                           "method, before the rollbacks (whole seconds).")
                         ] = "3s",
    continuous: Annotated[bool, typer.Option(help="Judge the hypothesis during the whole "
                                             "method (and journal the rollbacks before its "
                                             "first action).")] = False,
    python: Annotated[str, typer.Option(help="The Python that runs python providers and "
                                        "http actions.")] = "python3",
    strict: Annotated[bool, typer.Option(help="Exit 1 (and write nothing) when a construct "
                                         "is not converted.")] = False,
) -> None:
    """Convert a Chaos Toolkit experiment; every construct not converted is named (here and
    at the top of the file written). Exit 0 written, 1 with --strict and something not
    converted, 2 bad input."""
    from faultlab.experiment.errors import ExperimentError
    from faultlab.importers.chaostoolkit import Options
    from faultlab.importers.ctk_io import import_chaostoolkit, write_atomically

    options = Options(every=seconds(every, "--every"),
                      steady_for=int(seconds(steady_for, "--steady-for", whole=True, least=1)),
                      check_for=int(seconds(check_for, "--check-for", whole=True, least=1)),
                      continuous=continuous, python=python)
    try:
        conv = import_chaostoolkit(experiment, options)
    except ExperimentError as e:
        for problem in e.problems:
            typer.echo(f"faultlab: {problem}", err=True)
        raise typer.Exit(2) from None
    source = str(experiment)
    for line in conv.lines(source):
        typer.echo(f"faultlab: {line}", err=True)
    if strict and conv.unconverted:
        typer.echo(f"faultlab: {len(conv.unconverted)} construct(s) not converted; nothing "
                   "written (--strict)", err=True)
        raise typer.Exit(1)
    try:
        write_atomically(output, conv.text)
    except OSError as e:
        raise _fail(f"{output}: cannot write: {e.strerror or e} (hint: check the directory "
                    "exists and is writable)") from None
    exp = conv.experiment
    typer.echo(f"wrote {output}: {len(exp.get('workloads', {}))} probe(s), "
               f"{len(exp.get('faults', []))} fault(s); {len(conv.unconverted)} construct(s) "
               "not converted")
