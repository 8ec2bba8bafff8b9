"""``faultlab lab up|down|ls``: the typer front end of :mod:`faultlab.lab.control`."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["app"]

app = typer.Typer(rich_markup_mode=None, no_args_is_help=True, add_completion=False)


@app.callback()
def _lab() -> None:
    """Clusters on this machine: hosts in network namespaces on a shared bridge."""


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"faultlab: {message}", err=True)
    return typer.Exit(code)


@app.command()
def up(
    file: Path,
    var: Annotated[list[str], typer.Option(
        "--var", "-v", help="Set a variable used as ${NAME} in the file (repeatable).")] = [],  # noqa: B006
) -> None:
    """Bring a lab up from a lab file; it stays up until `faultlab lab down NAME`."""
    from faultlab.cli import _parse_vars
    from faultlab.experiment.errors import ExperimentError
    from faultlab.experiment.loader import load_document
    from faultlab.lab.control import LabError, lab_up
    from faultlab.lab.spec import LabFile

    try:
        spec = load_document(file, LabFile, _parse_vars(var)).lab()
    except ExperimentError as e:
        for problem in e.problems:
            typer.echo(str(problem), err=True)
        raise typer.Exit(2) from None
    started = time.perf_counter()
    try:
        state = asyncio.run(lab_up(spec))
    except LabError as e:
        raise _fail(str(e), 4) from None
    except KeyboardInterrupt:
        raise _fail("interrupted; nothing of the lab is left", 3) from None
    took = time.perf_counter() - started
    typer.echo(f"lab '{state.name}' up in {took:.2f}s: subnet {state.subnet}, this machine "
               f"{state.bridge_address}")
    for h in state.hosts:
        procs = [p.name for p in state.processes if p.host == h.name]
        typer.echo(f"  {h.name:<12} {h.address:<15} netns {h.netns}"
                   + (f"  processes: {', '.join(procs)}" if procs else ""))
    typer.echo(f"run inside a host: ip netns exec {state.hosts[0].netns} COMMAND; "
               f"remove: faultlab lab down {state.name}")


@app.command()
def down(names: Annotated[list[str], typer.Argument(help="Labs to remove.")]) -> None:
    """Remove labs and everything in them (idempotent: what is gone is skipped)."""
    from faultlab.lab.control import LabError, lab_down

    failed = False
    for name in names:
        try:
            typer.echo(lab_down(name))
        except LabError as e:
            typer.echo(f"faultlab: {e}", err=True)
            failed = True
    if failed:
        raise typer.Exit(4)


@app.command("ls")
def ls(as_json: Annotated[bool, typer.Option("--json", help="As JSON.")] = False) -> None:
    """List the labs on this machine."""
    from dataclasses import asdict

    from faultlab.lab.control import list_labs

    labs = list_labs()
    if as_json:
        typer.echo(json.dumps([asdict(lab) for lab in labs], indent=2))
        return
    if not labs:
        typer.echo("no labs")
        return
    for lab in labs:
        if lab.problem:
            typer.echo(f"{lab.name}: {lab.problem}")
            continue
        owner = " (owned by a run)" if lab.owner else ""
        typer.echo(f"{lab.name}: {lab.status}, {len(lab.hosts)} hosts in {lab.subnet}, "
                   f"{lab.running}/{lab.processes} processes running{owner}")
        for host, address in lab.hosts.items():
            typer.echo(f"  {host:<12} {address}")
