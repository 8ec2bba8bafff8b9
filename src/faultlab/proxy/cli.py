"""``faultlab proxy serve`` and ``python -m faultlab.proxy serve``: run the proxy server.

Two front ends, one set of options (:data:`OPTIONS`, locked together by a test):

* :data:`app`, a typer app that faultlab's CLI mounts as ``faultlab proxy``;
* :func:`main`, a stdlib ``argparse`` parser for ``python -m faultlab.proxy``, which is how
  the runner spawns the server. Typer builds pydantic adapters for every option, which
  costs more than everything else before the server is ready, so the spawned process
  does without it.

Only typer (and argparse) are imported at module level; the server and its dependencies
are imported when the command runs.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["OPTIONS", "app", "main"]

TOKEN_ENV = "FAULTLAB_PROXY_TOKEN"
SERVE_HELP = "Serve proxies until SIGTERM or SIGINT. The event log is JSON lines on stderr."


@dataclass(frozen=True, slots=True)
class _Option:
    flag: str
    metavar: str
    help: str


OPTIONS = {
    "api": _Option("--api", "HOST:PORT",
                   "Where the control API listens; port 0 picks a free port."),
    "config": _Option("--config", "FILE", "JSON array of proxies to create at start "
                      "(Toxiproxy's -config format; each may also list its toxics)."),
    "ready_file": _Option("--ready-file", "PATH",
                          "Write the API's bound host:port here (atomically) once it is "
                          "ready."),
    "seed": _Option("--seed", "N",
                    "Seed of the toxicity and jitter draws; random (and logged) if omitted."),
    "token": _Option("--token", "TOKEN",
                     "API token (visible ASCII, no spaces); clients send 'Authorization: "
                     "Bearer <token>'. Required when --api is not a loopback address."),
    "instance_id": _Option("--instance-id", "ID",
                           "This server's identity, in every response's X-Faultlab-Instance "
                           "header and at /faultlab/instance; random if omitted."),
}
DEFAULT_API = "127.0.0.1:8474"


class UsageError(ValueError):
    """A bad option value; the message names the option."""


def _seed(text: str | None) -> int | None:
    if text is None:
        return None
    # int() alone would take "١٢" (Arabic-Indic digits) and "1_000".
    if not re.fullmatch(r"-?[0-9]{1,19}", text.strip()):
        raise UsageError(f"--seed: {text!r} is not an integer")
    return int(text)


def _run(api: str, config: Path | None, ready_file: Path | None, seed: str | None,
         token: str | None, instance_id: str | None) -> int:
    from faultlab.proxy.addresses import AddressError, HostPort
    from faultlab.proxy.server import ServeOptions, run

    try:
        address = HostPort.parse(api)
    except AddressError as exc:
        raise UsageError(f"--api: {exc}") from None
    return run(ServeOptions(api=address, config=config, ready_file=ready_file,
                            seed=_seed(seed), token=token, instance_id=instance_id))


# ----------------------------------------------------------------------------- typer


app = typer.Typer(no_args_is_help=True, add_completion=False)


@app.callback()
def _proxy() -> None:
    """The fault-injection TCP proxy, with a Toxiproxy-compatible HTTP API."""


def _typer_option(name: str) -> typer.models.OptionInfo:
    option = OPTIONS[name]
    extra: dict[str, object] = {}
    if name == "token":
        extra = {"envvar": TOKEN_ENV, "show_envvar": True}
    return typer.Option(option.flag, metavar=option.metavar, help=option.help,  # type: ignore[no-any-return]
                        **extra)  # type: ignore[arg-type]


@app.command(help=SERVE_HELP)
def serve(
    api: Annotated[str, _typer_option("api")] = DEFAULT_API,
    config: Annotated[Path | None, _typer_option("config")] = None,
    ready_file: Annotated[Path | None, _typer_option("ready_file")] = None,
    seed: Annotated[str | None, _typer_option("seed")] = None,
    token: Annotated[str | None, _typer_option("token")] = None,
    instance_id: Annotated[str | None, _typer_option("instance_id")] = None,
) -> None:
    try:
        code = _run(api, config, ready_file, seed, token, instance_id)
    except UsageError as exc:
        flag, _, message = str(exc).partition(": ")
        raise typer.BadParameter(message, param_hint=flag) from None
    raise typer.Exit(code)


# -------------------------------------------------------------------------- argparse


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description="The fault-injection TCP proxy, with a Toxiproxy-compatible "
        "HTTP API.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve_parser = commands.add_parser("serve", help=SERVE_HELP, description=SERVE_HELP)
    for name, option in OPTIONS.items():
        help_text = option.help
        if name == "api":
            help_text += f" [default: {DEFAULT_API}]"
        if name == "token":
            help_text += f" [env var: {TOKEN_ENV}]"
        serve_parser.add_argument(option.flag, dest=name, metavar=option.metavar,
                                  help=help_text)
    return parser


def main(argv: list[str] | None = None, prog: str = "python -m faultlab.proxy") -> int:
    """``python -m faultlab.proxy serve ...``; returns the exit status."""
    parser = _parser(prog)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    token = args.token if args.token is not None else os.environ.get(TOKEN_ENV)
    try:
        return _run(args.api or DEFAULT_API,
                    None if args.config is None else Path(args.config),
                    None if args.ready_file is None else Path(args.ready_file),
                    args.seed, token, args.instance_id)
    except UsageError as exc:
        parser.error(str(exc))  # exits with status 2
        raise  # unreachable: parser.error does not return
