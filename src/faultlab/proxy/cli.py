"""``faultlab proxy serve``: the typer front end of :mod:`faultlab.proxy.command`.

faultlab's CLI mounts :data:`app` as ``faultlab proxy``; ``python -m faultlab.proxy`` uses
the stdlib front end in :mod:`faultlab.proxy.command`, with the same options. Only typer
is imported here; the server is imported when the command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from faultlab.proxy.command import DEFAULT_API, OPTIONS, SERVE_HELP, TOKEN_ENV, UsageError
from faultlab.proxy.command import serve as serve_command

__all__ = ["app"]

app = typer.Typer(rich_markup_mode=None, no_args_is_help=True, add_completion=False)


@app.callback()
def _proxy() -> None:
    """The fault-injection TCP proxy, with a Toxiproxy-compatible HTTP API."""


def _option(name: str) -> Any:
    option = OPTIONS[name]
    if name == "token":
        return typer.Option(option.flag, metavar=option.metavar, help=option.help,
                            envvar=TOKEN_ENV, show_envvar=True)
    return typer.Option(option.flag, metavar=option.metavar, help=option.help)


@app.command(help=SERVE_HELP)
def serve(
    api: Annotated[str, _option("api")] = DEFAULT_API,
    config: Annotated[Path | None, _option("config")] = None,
    ready_file: Annotated[Path | None, _option("ready_file")] = None,
    seed: Annotated[str | None, _option("seed")] = None,
    token: Annotated[str | None, _option("token")] = None,
    instance_id: Annotated[str | None, _option("instance_id")] = None,
) -> None:
    try:
        code = serve_command(api, config, ready_file, seed, token, instance_id)
    except UsageError as exc:
        flag, _, message = str(exc).partition(": ")
        raise typer.BadParameter(message, param_hint=flag) from None
    raise typer.Exit(code)
