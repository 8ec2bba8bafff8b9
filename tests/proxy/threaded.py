"""A proxy server on its own event loop in a background thread, for blocking clients
(toxiproxy-python, the fuzzer's http.client) that cannot share the test's loop."""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from faultlab.proxy.events import EventLog
from faultlab.proxy.server import ProxyServer

T = TypeVar("T")


class ThreadedServer:
    def __init__(self, server: ProxyServer, loop: asyncio.AbstractEventLoop) -> None:
        self.server = server
        self.loop = loop

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` in the server's loop thread and return its result."""
        async def run() -> T:
            return fn()
        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)


@contextmanager
def threaded_server(seed: int = 7) -> Iterator[ThreadedServer]:
    loop = asyncio.new_event_loop()
    started = threading.Event()
    stop: asyncio.Event | None = None
    server = ProxyServer(events=EventLog(io.StringIO()), seed=seed)

    async def main() -> None:
        nonlocal stop
        stop = asyncio.Event()
        async with server:
            started.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    assert started.wait(10), "the proxy server did not start"
    try:
        yield ThreadedServer(server, loop)
    finally:
        assert stop is not None
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()
