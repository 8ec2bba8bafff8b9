"""``faultlab export ...``: faultlab's files in other tools' formats (OpenSLO)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, rich_markup_mode=None,
                  help="Write faultlab's files in other tools' formats.")


@app.command("openslo")
def openslo(
    experiment: Annotated[Path, typer.Argument(help="The experiment file.")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="The OpenSLO file to "
                                                "write (default: stdout).")] = None,
    var: Annotated[list[str] | None, typer.Option("--var", help="NAME=VALUE for the "
                                                  "experiment's vars.")] = None,
) -> None:
    """Every SLO of an experiment as an OpenSLO v1 SLO over the series `faultlab run
    --metrics` serves; `slos: [{openslo: FILE, measure: workload}]` reads them back."""
    from faultlab.cli import _load
    from faultlab.slo.openslo import export_openslo

    loaded = _load(experiment, var or [])
    if not loaded.experiment.slos:
        typer.echo(f"faultlab: {experiment}: the experiment has no SLOs to export (hint: "
                   "declare them under slos:)", err=True)
        raise typer.Exit(2)
    text = export_openslo(loaded.experiment)
    if output is None:
        typer.echo(text, nl=False)
        return
    from faultlab.importers.ctk_io import write_atomically

    try:
        write_atomically(output, text)
    except OSError as e:
        typer.echo(f"faultlab: {output}: cannot write: {e.strerror or e} (hint: does its "
                   "directory exist?)", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"wrote {output} ({len(loaded.experiment.slos)} SLOs)", err=True)
