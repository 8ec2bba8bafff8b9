"""The proxy server: the registry and its HTTP API in one event loop, and the process.

:class:`ProxyServer` is what tests start in their own loop; :func:`serve` adds what the
process needs (signals, the ``--config`` file, the ready file and line, a log that is JSON
lines only) and :func:`run` gives it a loop of its own, on uvloop when it is installed.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import ipaddress
import logging
import os
import signal
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from faultlab.clock import Clock
from faultlab.proxy.addresses import HostPort
from faultlab.proxy.api import Instance, build_app, check_token
from faultlab.proxy.events import EventLog
from faultlab.proxy.listener import RequestTracer
from faultlab.proxy.model import ApiError
from faultlab.proxy.registry import Registry
from faultlab.proxy.relay import RelayLimits
from faultlab.proxy.schema import ProxyCreate, ToxicCreate, parse_config, parse_json

__all__ = ["DEFAULT_API", "ProxyServer", "ServeOptions", "is_loopback", "run", "serve",
           "tune_gc"]

DEFAULT_API = HostPort("127.0.0.1", 8474)
GC_GEN0_THRESHOLD = 10_000  # CPython's default is 700


class ProxyServer:
    """The registry plus its HTTP API, in the current event loop (tests use it directly)."""

    def __init__(self, *, api: HostPort | None = None, seed: int | None = None,
                 events: EventLog | None = None, clock: Clock | None = None,
                 limits: RelayLimits | None = None, token: str | None = None,
                 instance_id: str | None = None, tracer: RequestTracer | None = None) -> None:
        self.events = events or EventLog()
        self._token = None if token is None else check_token(token)
        self.instance = Instance.new(instance_id)  # ValueError for a malformed id
        self.registry = Registry(events=self.events, seed=seed, clock=clock, limits=limits,
                                 tracer=tracer)
        self._api = api or HostPort("127.0.0.1", 0)
        self._runner: web.AppRunner | None = None
        self.address: HostPort | None = None

    @property
    def api_url(self) -> str:
        assert self.address is not None, "the server is not started"
        return f"http://{self.address}"

    async def start(self) -> HostPort:
        """Start the lease keeper and the API; raises OSError if the API cannot bind."""
        await self.registry.start()
        runner = web.AppRunner(build_app(self.registry, self._token, self.instance),
                               access_log=None, shutdown_timeout=2.0)
        try:
            await runner.setup()
            await web.TCPSite(runner, self._api.host or None, self._api.port).start()
        except BaseException:
            await runner.cleanup()
            await self.registry.close()
            raise
        self._runner = runner
        sockname = runner.addresses[0]
        self.address = HostPort.from_sockname(tuple(sockname))
        self.events.emit("api_listening", address=str(self.address), seed=self.registry.seed,
                         pid=os.getpid(), instance=self.instance.id,
                         token_required=self._token is not None)
        return self.address

    async def close(self) -> None:
        """Stop the API first (so no change races the shutdown), then every proxy."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.registry.close()

    async def __aenter__(self) -> ProxyServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


@dataclass(frozen=True, slots=True)
class ServeOptions:
    api: HostPort = DEFAULT_API
    config: Path | None = None
    ready_file: Path | None = None
    seed: int | None = None
    token: str | None = None
    instance_id: str | None = None
    ready_line: bool = True  # print "faultlab proxy API ready at ..." on stdout


def is_loopback(host: str) -> bool:
    """Whether ``host`` is only reachable from this machine ("" is every interface)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def _load_config(path: Path) -> list[tuple[ProxyCreate, list[ToxicCreate]]]:
    try:
        return parse_config(parse_json(path.read_bytes()))
    except OSError as exc:
        raise ApiError(400, f"cannot read {path}: {exc.strerror}") from None


class _EventLogHandler(logging.Handler):
    """Library log records (aiohttp's "Error handling request" and its traceback, for
    one) as single event lines: the log stays JSON lines, one object per line."""

    def __init__(self, events: EventLog) -> None:
        super().__init__(logging.WARNING)
        self._events = events

    def emit(self, record: logging.LogRecord) -> None:
        fields: dict[str, object] = {"logger": record.name, "level": record.levelname.lower(),
                                     "message": record.getMessage()}
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            fields["error"] = "".join(traceback.format_exception_only(exc)).strip()
            fields["traceback"] = "".join(traceback.format_exception(exc))
        self._events.emit("log", **fields)


def _route_logs(events: EventLog, loop: asyncio.AbstractEventLoop) -> Callable[[], None]:
    """Send logging, warnings and the loop's unhandled errors to ``events``; returns the
    undo."""
    handler = _EventLogHandler(events)
    root = logging.getLogger()
    saved_level, saved_handlers = root.level, root.handlers[:]
    root.handlers = [handler]
    root.setLevel(logging.WARNING)
    logging.captureWarnings(True)

    def loop_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        events.emit("loop_error", message=str(context.get("message", "")),
                    error=None if exc is None else repr(exc),
                    traceback=None if exc is None else "".join(traceback.format_exception(exc)))

    loop.set_exception_handler(loop_error)

    def undo() -> None:
        loop.set_exception_handler(None)
        logging.captureWarnings(False)
        root.handlers = saved_handlers
        root.setLevel(saved_level)

    return undo


def _print_ready(server: ProxyServer) -> None:
    """One line for a person at a terminal; tools use ``--ready-file`` or the log."""
    # If stdout is closed, the log and the ready file still say it.
    with contextlib.suppress(OSError, ValueError):
        print(f"faultlab proxy API ready at {server.api_url} (instance {server.instance.id}, "
              f"pid {os.getpid()})", flush=True)


async def serve(options: ServeOptions, events: EventLog | None = None) -> int:
    """Serve until SIGTERM or SIGINT; 0 after a clean stop, 1 if it could not start, 2 if
    it refused to (an API beyond loopback without a token, a malformed token or id)."""
    events = events or EventLog()
    undo_logs = _route_logs(events, asyncio.get_running_loop())
    try:
        return await _serve(options, events)
    finally:
        undo_logs()


async def _serve(options: ServeOptions, events: EventLog) -> int:
    token = options.token or None  # an empty FAULTLAB_PROXY_TOKEN means none
    try:
        if token is not None:
            check_token(token)
        Instance.new(options.instance_id)
    except ValueError as exc:
        events.emit("startup_failed", error=str(exc))
        return 2
    if not is_loopback(options.api.host) and not token:
        events.emit("startup_failed", error=f"refusing to serve the API on {options.api}, "
                    "beyond loopback, without a token: give --token or set "
                    "FAULTLAB_PROXY_TOKEN (clients then send Authorization: Bearer <token>)")
        return 2
    try:
        config = _load_config(options.config) if options.config else []
    except ApiError as exc:
        events.emit("startup_failed", error=f"config {options.config}: {exc.message}")
        return 1
    from faultlab.telemetry.proxy import injection_tracer  # the SDK only if OTEL_* is set

    tracer = injection_tracer(lambda message: events.emit("telemetry_warning", error=message))
    if tracer is not None:
        events.emit("tracing", endpoint=tracer.endpoint)
    server = ProxyServer(api=options.api, seed=options.seed, events=events, token=token,
                         instance_id=options.instance_id, tracer=tracer)
    try:
        return await _serve_until_stopped(server, options, config, events)
    finally:
        if tracer is not None:
            await asyncio.to_thread(tracer.shutdown)  # bounded: see InjectionTracer


async def _serve_until_stopped(server: ProxyServer, options: ServeOptions,
                               config: list[tuple[ProxyCreate, list[ToxicCreate]]],
                               events: EventLog) -> int:
    try:
        await server.start()
    except OSError as exc:
        events.emit("startup_failed", error=f"API on {options.api}: {exc}")
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT)
    for signum in signals:
        loop.add_signal_handler(signum, stop.set)
    try:
        try:
            await server.registry.apply_config(config)
        except ApiError as exc:
            events.emit("startup_failed", error=f"config {options.config}: {exc.message}")
            return 1
        if options.ready_file is not None:
            _write_atomically(options.ready_file, str(server.address))
        if options.ready_line:
            _print_ready(server)
        await stop.wait()
        events.emit("stopping")
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)
        await server.close()
    events.emit("stopped")
    return 0


def raise_fd_limit() -> int:
    """Raise the soft limit on open files to the hard limit (each proxied connection holds
    two); returns the limit now in force."""
    try:
        import resource
    except ImportError:  # not POSIX
        return -1
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = 1 << 20 if hard == resource.RLIM_INFINITY else hard
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


def tune_gc() -> None:
    """Keep the cyclic collector off the relay's tail latency (the server process only).

    Everything alive once the modules are imported (aiohttp, uvloop, the proxy: some 38k
    objects) lives as long as the process, yet every full collection would walk it again,
    for milliseconds during which no byte is relayed. Frozen, those objects are never
    examined again, so a full collection only walks what the connections made. A higher
    first threshold makes collections rarer; the relay's fast path allocates about one
    container per chunk (a memoryview) and frees it at once, so what waits for the
    collector meanwhile is only cyclic garbage, which stays small.
    """
    # No gc.collect() first: after the imports it finds a handful of objects and takes
    # 10-30 ms of the start-up (measured); those few stay frozen.
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, older, oldest)


def run(options: ServeOptions) -> int:
    """Run :func:`serve` in a fresh event loop, on uvloop when it is installed."""
    raise_fd_limit()
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    try:
        import uvloop
    except ImportError:
        pass
    else:
        loop_factory = uvloop.new_event_loop
    tune_gc()  # with uvloop imported, so that its objects are frozen too
    events = EventLog()
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            return runner.run(serve(options, events))
    except Exception as exc:  # a bug: still one JSON line, with the traceback inside it
        events.emit("crashed", error=repr(exc), traceback="".join(traceback.format_exc()))
        return 1
