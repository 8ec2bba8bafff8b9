"""A test-only TCP proxy that holds every chunk from upstream back by a fixed delay.

It stands in for faultlab's latency fault without depending on it: the demo tests must
prove the services' behaviour on their own. It runs its own event loop in a thread so that
synchronous fixtures can start it before the services that point at it, and it counts
connections, which shows whether a circuit breaker really stopped calls to the dependency.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Callable

#: The latency fault of the demo's first scenario: data answers 800 ms late.
SLOW_DATA_DELAY = 0.8


class SlowProxy:
    """Every task it runs is its own: a thread runs ``asyncio.run`` of one accept loop, each
    connection's relay is a child of that loop's task group, and :meth:`stop` cancels the
    loop, which cancels and awaits every relay before the thread ends. (A server made by
    ``asyncio.start_server`` would own the relay tasks instead, and Python 3.11 logs an
    "Exception in callback ... CancelledError" for each one cancelled at shutdown.)
    """

    def __init__(self, upstream_port: int, delay: float) -> None:
        self.upstream_port = upstream_port
        self.delay = delay
        self.connections = 0
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._main: asyncio.Task[None] | None = None
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, name="slow-proxy", daemon=True)

    def start(self) -> SlowProxy:
        self._thread.start()
        if not self._started.wait(timeout=10):
            raise RuntimeError("slow proxy did not start")
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            assert self._loop is not None and self._main is not None
            self._loop.call_soon_threadsafe(self._main.cancel)
            self._thread.join(timeout=10)
            if self._thread.is_alive():
                raise RuntimeError("slow proxy did not stop within 10 s")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            asyncio.run(self._serve())

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        with socket.create_server(("127.0.0.1", 0)) as listener:
            listener.setblocking(False)
            self.port = listener.getsockname()[1]
            self._loop, self._main = loop, asyncio.current_task()
            self._started.set()
            async with asyncio.TaskGroup() as relays:
                while True:
                    client, _ = await loop.sock_accept(listener)
                    relays.create_task(self._relay(client))

    async def _relay(self, client: socket.socket) -> None:
        self.connections += 1
        client_r, client_w = await asyncio.open_connection(sock=client)
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            client_w.close()
            return
        async with asyncio.TaskGroup() as pipes:
            pipes.create_task(self._pipe(client_r, up_w, delayed=False))
            pipes.create_task(self._pipe(up_r, client_w, delayed=True))

    async def _pipe(
        self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, *, delayed: bool
    ) -> None:
        """Copy until end of stream; a connection error is an end too, not a crash of the
        relay (the other direction goes on until its own end)."""
        try:
            while chunk := await src.read(65536):
                if delayed:
                    await asyncio.sleep(self.delay)  # read per chunk: tests may change it
                dst.write(chunk)
                await dst.drain()
        except OSError:  # reset, broken pipe: how a connection ends under faults
            pass
        finally:
            dst.close()


class Proxies:
    """Every slow proxy a test started, so one fixture can stop them all."""

    def __init__(self) -> None:
        self.started: list[SlowProxy] = []

    def route(self, delay: float) -> Callable[[int], str]:
        """A route (see ``helpers.start_system``) through a new proxy adding ``delay``."""

        def through_proxy(port: int) -> str:
            proxy = SlowProxy(port, delay).start()
            self.started.append(proxy)
            return proxy.url

        return through_proxy

    def stop_all(self) -> None:
        for proxy in self.started:
            proxy.stop()
