"""A test-only TCP proxy that holds every chunk from upstream back by a fixed delay.

It stands in for faultlab's latency fault without depending on it: the demo tests must
prove the services' behaviour on their own. It runs its own event loop in a thread so that
synchronous fixtures can start it before the services that point at it, and it counts
connections, which shows whether a circuit breaker really stopped calls to the dependency.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable

#: The latency fault of the demo's first scenario: data answers 800 ms late.
SLOW_DATA_DELAY = 0.8


class SlowProxy:
    def __init__(self, upstream_port: int, delay: float) -> None:
        self.upstream_port = upstream_port
        self.delay = delay
        self.connections = 0
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, name="slow-proxy", daemon=True)

    def start(self) -> SlowProxy:
        self._thread.start()
        if not self._started.wait(timeout=10):
            raise RuntimeError("slow proxy did not start")
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._relay, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._started.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()
            tasks = asyncio.all_tasks(self._loop)
            for task in tasks:
                task.cancel()
            self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            self._loop.close()

    async def _relay(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(
            self._pipe(client_r, up_w, delayed=False),
            self._pipe(up_r, client_w, delayed=True),
            return_exceptions=True,
        )

    async def _pipe(
        self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, *, delayed: bool
    ) -> None:
        try:
            while chunk := await src.read(65536):
                if delayed:
                    await asyncio.sleep(self.delay)  # read per chunk: tests may change it
                dst.write(chunk)
                await dst.drain()
        finally:
            with contextlib.suppress(OSError):
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
