"""The ``serve`` command's options and its stdlib front end, ``python -m faultlab.proxy``.

:data:`OPTIONS` is the one list of options; :mod:`faultlab.proxy.cli` builds the typer
command (``faultlab proxy serve``) from it, and :func:`main` an ``argparse`` parser. The
runner spawns the server through :func:`main`, which imports neither typer nor pydantic
(typer builds a pydantic adapter per option, which took longer than the rest of the
start-up): a test locks the two front ends to the same options.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DEFAULT_API", "OPTIONS", "SERVE_HELP", "TOKEN_ENV", "UsageError", "main", "serve"]

TOKEN_ENV = "FAULTLAB_PROXY_TOKEN"
DEFAULT_API = "127.0.0.1:8474"
SERVE_HELP = ("Serve proxies until SIGTERM or SIGINT. Prints one line when ready; the event "
              "log is JSON lines on stderr.")


@dataclass(frozen=True, slots=True)
class Option:
    flag: str
    metavar: str
    help: str


OPTIONS = {
    "api": Option("--api", "HOST:PORT",
                  "Where the control API listens; port 0 picks a free port."),
    "config": Option("--config", "FILE", "JSON array of proxies to create at start "
                     "(Toxiproxy's -config format; each may also list its toxics)."),
    "ready_file": Option("--ready-file", "PATH",
                         "Write the API's bound host:port here (atomically) once it is ready."),
    "seed": Option("--seed", "N",
                   "Seed of the toxicity and jitter draws; random (and logged) if omitted."),
    "token": Option("--token", "TOKEN",
                    "API token (visible ASCII, no spaces); clients send 'Authorization: "
                    "Bearer <token>'. Required when --api is not a loopback address."),
    "instance_id": Option("--instance-id", "ID",
                          "This server's identity (1-128 of A-Z a-z 0-9 . _ : -), in every "
                          "response's X-Faultlab-Instance header and at /faultlab/instance; "
                          "random if omitted."),
}


class UsageError(ValueError):
    """A bad option value; the message starts with the option's flag."""


def _seed(text: str | None) -> int | None:
    if text is None:
        return None
    # int() alone would take "١٢" (Arabic-Indic digits) and "1_000".
    if not re.fullmatch(r"-?[0-9]{1,19}", text.strip()):
        raise UsageError(f"--seed: {text!r} is not an integer")
    return int(text)


@contextlib.contextmanager
def _without_ca_store() -> Iterator[None]:
    """Import aiohttp without loading the system's CA certificates.

    aiohttp's client module builds two TLS client contexts when it is imported, reading
    the whole CA store: the largest single cost of the server's start-up (70 ms on an idle
    machine, several times that on a busy one). The proxy server makes no TLS connection,
    so in its own process those contexts are built without the store (one that needed it
    would fail to verify, never succeed wrongly). Only the server process's entry point
    uses this, and only if aiohttp is not loaded yet: a process that imports the server
    as a library is untouched.
    """
    if "aiohttp" in sys.modules:
        yield
        return
    import ssl

    saved = ssl.SSLContext.load_default_certs, ssl.SSLContext.set_default_verify_paths
    ssl.SSLContext.load_default_certs = lambda self, purpose=None: None  # type: ignore[method-assign]
    ssl.SSLContext.set_default_verify_paths = lambda self: None  # type: ignore[method-assign]
    try:
        yield
    finally:
        ssl.SSLContext.load_default_certs, ssl.SSLContext.set_default_verify_paths = saved  # type: ignore[method-assign]


def serve(api: str, config: Path | None, ready_file: Path | None, seed: str | None,
          token: str | None, instance_id: str | None) -> int:
    """Run the server in this process until it is stopped; returns the exit status.
    Raises :class:`UsageError` for a malformed ``api`` or ``seed``."""
    with _without_ca_store():
        import aiohttp  # noqa: F401  (the server's first import of it)
    from faultlab.proxy.addresses import AddressError, HostPort
    from faultlab.proxy.server import ServeOptions, run

    try:
        address = HostPort.parse(api)
    except AddressError as exc:
        raise UsageError(f"--api: {exc}") from None
    return run(ServeOptions(api=address, config=config, ready_file=ready_file,
                            seed=_seed(seed), token=token, instance_id=instance_id))


def parser(prog: str) -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog=prog, description="The fault-injection TCP proxy, "
                                  "with a Toxiproxy-compatible HTTP API.")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve_parser = commands.add_parser("serve", help=SERVE_HELP, description=SERVE_HELP)
    for name, option in OPTIONS.items():
        extra = {"api": f" [default: {DEFAULT_API}]", "token": f" [env var: {TOKEN_ENV}]"}
        serve_parser.add_argument(option.flag, dest=name, metavar=option.metavar,
                                  help=option.help + extra.get(name, ""))
    return top


def main(argv: list[str] | None = None, prog: str = "python -m faultlab.proxy") -> int:
    """``python -m faultlab.proxy serve ...``; returns the exit status."""
    top = parser(prog)
    args = top.parse_args(sys.argv[1:] if argv is None else argv)
    token = args.token if args.token is not None else os.environ.get(TOKEN_ENV)
    try:
        return serve(args.api or DEFAULT_API,
                     None if args.config is None else Path(args.config),
                     None if args.ready_file is None else Path(args.ready_file),
                     args.seed, token, args.instance_id)
    except UsageError as exc:
        top.error(str(exc))  # exits with status 2
        raise  # unreachable: error() does not return
