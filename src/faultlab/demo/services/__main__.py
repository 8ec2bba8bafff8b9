"""Command line of the demo services: ``python -m faultlab.demo.services SERVICE [options]``.

    python -m faultlab.demo.services data       --port P
    python -m faultlab.demo.services inventory  --port P --data-url URL --variant naive|resilient
    python -m faultlab.demo.services storefront --port P --inventory-url URL --variant ...

Common options: ``--host`` (default 127.0.0.1), ``--pid-file PATH``. Start-up is on the
critical path of every restart experiment, so only ``argparse`` is imported before the
arguments are known, the chosen service's module is imported alone, and uvloop (if
installed) runs the event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiohttp import web

__all__ = ["ServiceOptions", "main", "parse_args"]

SERVICES = ("data", "inventory", "storefront")
VARIANTS = ("naive", "resilient")


@dataclass(frozen=True)
class ServiceOptions:
    service: str
    host: str
    port: int
    pid_file: Path | None
    dependency_url: str | None  # None for data, which depends on nothing
    variant: str | None


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0-65535, got {value}")
    return value


def _url(text: str) -> str:
    if not text.startswith(("http://", "https://")) or len(text.split("://", 1)[1]) == 0:
        raise argparse.ArgumentTypeError(
            f"expected a base URL like http://127.0.0.1:8001, got {text!r}"
        )
    return text


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m faultlab.demo.services",
        description="Run one service of faultlab's built-in demo system.",
    )
    subparsers = parser.add_subparsers(dest="service", required=True, metavar="SERVICE")
    dependency = {
        "inventory": ("--data-url", "data"),
        "storefront": ("--inventory-url", "inventory"),
    }
    for name in SERVICES:
        sub = subparsers.add_parser(name, help=f"run the {name} service")
        sub.add_argument("--host", default="127.0.0.1", help="address to listen on")
        sub.add_argument("--port", type=_port, required=True, help="port (0: any free one)")
        sub.add_argument("--pid-file", type=Path, help="write the pid here while running")
        if name in dependency:
            flag, target = dependency[name]
            sub.add_argument(
                flag,
                dest="dependency_url",
                type=_url,
                required=True,
                help=f"base URL of {target} (or of the fault proxy in front of it)",
            )
            sub.add_argument("--variant", choices=VARIANTS, required=True)
    return parser


def parse_args(argv: Sequence[str] | None = None) -> ServiceOptions:
    ns = _parser().parse_args(argv)
    return ServiceOptions(
        service=str(ns.service),
        host=str(ns.host),
        port=int(ns.port),
        pid_file=ns.pid_file,
        dependency_url=getattr(ns, "dependency_url", None),
        variant=getattr(ns, "variant", None),
    )


def build_app(options: ServiceOptions) -> web.Application:
    """Import and build only the service asked for."""
    if options.service == "data":
        from faultlab.demo.services import data

        return data.make_app()
    from faultlab.demo.dependency import Variant

    if options.dependency_url is None or options.variant is None:
        raise ValueError(f"{options.service} needs its dependency's base URL and a variant")
    variant = Variant(options.variant)
    if options.service == "inventory":
        from faultlab.demo.services import inventory

        return inventory.make_app(options.dependency_url, variant)
    from faultlab.demo.services import storefront

    return storefront.make_app(options.dependency_url, variant)


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["kv"]:  # the KV store has options of its own (data file, durability)
        from faultlab.demo.services import kv

        return kv.main(args[1:])
    options = parse_args(args)
    from faultlab.demo.services.serve import serve

    async def run() -> int:
        return await serve(build_app(options), options.host, options.port, options.pid_file)

    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        return runner.run(run())


if __name__ == "__main__":
    sys.exit(main())
