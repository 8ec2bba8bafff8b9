"""``faultlab proxy ...`` (and ``python -m faultlab.proxy ...``): run the proxy server.

Only typer is imported at module level; the server and its dependencies are imported
inside the command, so that mounting this app in faultlab's CLI costs nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True, add_completion=False)


@app.callback()
def _proxy() -> None:
    """The fault-injection TCP proxy, with a Toxiproxy-compatible HTTP API."""


@app.command()
def serve(
    api: Annotated[str, typer.Option(
        "--api", metavar="HOST:PORT",
        help="Where the control API listens; port 0 picks a free port.")] = "127.0.0.1:8474",
    config: Annotated[Path | None, typer.Option(
        "--config", metavar="FILE", help="JSON array of proxies to create at start "
        "(Toxiproxy's -config format; each may also list its toxics).")] = None,
    ready_file: Annotated[Path | None, typer.Option(
        "--ready-file", metavar="PATH",
        help="Write the API's bound host:port here (atomically) once it is ready.")] = None,
    seed: Annotated[int | None, typer.Option(
        "--seed", help="Seed of the toxicity and jitter draws; random (and logged) if "
        "omitted.")] = None,
    token: Annotated[str | None, typer.Option(
        "--token", envvar="FAULTLAB_PROXY_TOKEN", show_envvar=True,
        help="API token; clients send 'Authorization: Bearer <token>'. Required when --api "
        "is not a loopback address.")] = None,
) -> None:
    """Serve proxies until SIGTERM or SIGINT. The event log is JSON lines on stderr."""
    from faultlab.proxy.addresses import AddressError, HostPort
    from faultlab.proxy.server import ServeOptions, run

    try:
        address = HostPort.parse(api)
    except AddressError as exc:
        raise typer.BadParameter(str(exc), param_hint="--api") from None
    raise typer.Exit(run(ServeOptions(api=address, config=config, ready_file=ready_file,
                                      seed=seed, token=token)))
