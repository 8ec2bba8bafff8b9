"""An event loop on a thread of its own, for one pytest session.

Synchronous fixtures and ``with`` fault blocks run faultlab's coroutines here: the proxy
server (whose process handle belongs to the loop that spawned it, for the whole session),
the proxies, and the faults of sync tests. Async tests use their own loop for their
``async with`` blocks; this one is still there for the sync fixtures they request.

What interrupts the calling thread (KeyboardInterrupt, a pytest-timeout alarm) never reaches
a coroutine running here. So the caller chooses, per call, what an interruption means:
``cancel_on_interrupt=True`` cancels the coroutine (applying a fault: stop at once), and
``False`` waits for it to end (reverting a fault: it must finish); either way the
interruption is raised again once the coroutine has ended, and nothing is left running.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["LoopThread"]

T = TypeVar("T")


class _Call:
    """One coroutine's run on the loop: its task and how it ended."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.task: asyncio.Task[Any] | None = None
        self.result: Any = None
        self.error: BaseException | None = None

    def finished(self, task: asyncio.Task[Any]) -> None:
        if task.cancelled():
            self.error = asyncio.CancelledError()
        elif (error := task.exception()) is not None:
            self.error = error
        else:
            self.result = task.result()
        self.done.set()


class LoopThread:
    def __init__(self, name: str = "faultlab-loop") -> None:
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        loop = asyncio.new_event_loop()

        def main() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_forever()
            finally:
                # What is left was abandoned by a caller that is gone: cancel it and let
                # it run its cleanup, so the loop closes with no task pending.
                tasks = asyncio.all_tasks(loop)
                for task in tasks:
                    task.cancel()
                if tasks:
                    loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=main, name=self._name, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], *, cancel_on_interrupt: bool) -> T:
        """Run ``coro`` on the loop and wait for its end; see the module's docstring for
        what an interruption of the waiting thread does."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            coro.close()
            raise RuntimeError("the faultlab loop is not running")
        if threading.current_thread() is thread:
            coro.close()
            raise RuntimeError("a faultlab loop call from the loop's own thread would "
                               "never end")
        call = _Call()

        def begin() -> None:
            call.task = loop.create_task(coro)
            call.task.add_done_callback(call.finished)

        def cancel() -> None:
            if call.task is not None:
                call.task.cancel()

        loop.call_soon_threadsafe(begin)
        interruption: BaseException | None = None
        while True:
            try:
                call.done.wait()
                break
            except BaseException as e:  # KeyboardInterrupt, a timeout alarm, SystemExit
                interruption = interruption or e
                if cancel_on_interrupt:
                    loop.call_soon_threadsafe(cancel)
        if interruption is not None and (cancel_on_interrupt or call.error is None):
            raise interruption
        if call.error is not None:
            raise call.error
        result: T = call.result
        return result

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        self._loop = self._thread = None
