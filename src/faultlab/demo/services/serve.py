"""Run one demo app as a process that faultlab can start, watch, kill and restart.

The contract with whoever starts the process (faultlab's demo, the tests):

- Exactly one line ``ready on HOST:PORT`` on stdout, flushed, once the socket is listening,
  so a starter can wait for it instead of polling. With ``--port 0`` it names the port the
  kernel chose.
- If the address cannot be bound, one ``error: ...`` line on stderr and exit status 1, so a
  starter that raced another process for a free port can simply try another one.
- ``--pid-file``: the pid is written (atomically) before the ready line, and removed on a
  clean exit, but only if it still holds our pid (a restarted successor may own it by then).
- ``GET /metrics`` answers what the app served, for a Prometheus to scrape
  (:mod:`faultlab.demo.services.metrics`).
- SIGTERM and SIGINT stop the process cleanly with status 0: in-flight requests get
  :data:`SHUTDOWN_GRACE` seconds, then client sessions are closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

from aiohttp import web

__all__ = ["SHUTDOWN_GRACE", "serve"]

#: Seconds in-flight requests get on shutdown. Short: a naive service may be stuck waiting
#: on a dependency with no timeout, and an experiment's restart must not wait for that.
SHUTDOWN_GRACE = 1.0


async def serve(app: web.Application, host: str, port: int, pid_file: Path | None) -> int:
    """Serve ``app`` on ``host:port`` until SIGTERM/SIGINT; return the exit status."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    from faultlab.demo.services.metrics import add_metrics

    add_metrics(app)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, shutdown_timeout=SHUTDOWN_GRACE)
    try:
        await site.start()
    except OSError as exc:
        print(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        await runner.cleanup()
        return 1

    bound_port = _bound_port(runner, port)
    if pid_file is not None:
        _write_pid(pid_file)
    try:
        print(f"ready on {host}:{bound_port}", flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()
        if pid_file is not None:
            _remove_pid(pid_file)
    return 0


def _bound_port(runner: web.AppRunner, requested: int) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2 and isinstance(address[1], int):
            return address[1]
    return requested


def _write_pid(path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(f"{os.getpid()}\n")
    tmp.replace(path)


def _remove_pid(path: Path) -> None:
    with contextlib.suppress(OSError):  # already gone, or never ours to remove
        if path.read_text().strip() == str(os.getpid()):
            path.unlink()
