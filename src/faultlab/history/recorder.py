"""The recorder: how workload clients write a history while they run.

``handle = recorder.invoke(process, "write", 3, key="k")`` stamps the invocation;
``handle.ok()`` / ``handle.ok(value)`` / ``handle.fail()`` / ``handle.info()`` stamps the
completion and appends the operation (and, with a sink, writes its JSON line at once, so a
crash of the controller loses at most the operations still in flight). :meth:`Recorder.close`
turns every operation still in flight into ``info`` with no completion time: its effect is
unknown.

Invariants: an operation completes exactly once (a second completion is a bug in the client
and raises); ``index`` is the order of invocation; all methods take one lock and never block
on I/O of other callers for long, so the recorder is safe from threads and from asyncio tasks
(it never awaits).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol, TextIO

from faultlab.history.jsonl import dump_op
from faultlab.history.model import History, Key, Op, Outcome, Process, Value

__all__ = ["OpHandle", "Recorder"]


class _Now(Protocol):
    def now(self) -> float: ...


_UNSET: object = object()


class OpHandle:
    """An invoked operation waiting for its completion."""

    __slots__ = ("_done", "_recorder", "f", "index", "invoke_ns", "key", "process", "value")

    def __init__(self, recorder: Recorder, index: int, process: Process, f: str, value: Value,
                 key: Key, invoke_ns: int) -> None:
        self._recorder = recorder
        self.index, self.process, self.f, self.value = index, process, f, value
        self.key, self.invoke_ns = key, invoke_ns
        self._done = False

    def ok(self, value: Value | object = _UNSET) -> Op:
        """It happened; ``value`` is what it returned (default: the invoked value)."""
        result: Value = self.value if value is _UNSET else value  # type: ignore[assignment]
        return self._recorder._complete(self, Outcome.OK, result, None)

    def fail(self, error: str | None = None) -> Op:
        """It certainly did not happen (e.g. the server refused it)."""
        return self._recorder._complete(self, Outcome.FAIL, self.value, error)

    def info(self, error: str | None = None) -> Op:
        """Unknown whether it happened (timeout, connection lost)."""
        return self._recorder._complete(self, Outcome.INFO, self.value, error)


class Recorder:
    """Collects operations from concurrent clients; optionally streams them to ``sink``.

    Time comes from ``clock`` (anything with ``now() -> seconds``, e.g. faultlab's
    :class:`~faultlab.clock.Clock`), or ``time.monotonic_ns`` when none is given.
    """

    def __init__(self, clock: _Now | None = None, sink: TextIO | None = None) -> None:
        self._now_ns: Callable[[], int] = (
            time.monotonic_ns if clock is None else (lambda: round(clock.now() * 1e9)))
        self._sink = sink
        self._lock = threading.Lock()
        self._ops: list[Op] = []
        self._pending: dict[int, OpHandle] = {}
        self._next = 0
        self._closed = False

    def invoke(self, process: Process, f: str, value: Value = None, *, key: Key = None
               ) -> OpHandle:
        """Record an invocation now; complete it with the returned handle."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the recorder is closed")
            handle = OpHandle(self, self._next, process, f, value, key, self._now_ns())
            self._next += 1
            self._pending[handle.index] = handle
            return handle

    def _complete(self, handle: OpHandle, outcome: Outcome, value: Value, error: str | None
                  ) -> Op:
        with self._lock:
            if handle._done:
                raise RuntimeError(f"operation #{handle.index} was already completed")
            now = self._now_ns()
            return self._append(handle, outcome, value, error, max(now, handle.invoke_ns))

    def _append(self, handle: OpHandle, outcome: Outcome, value: Value, error: str | None,
                complete_ns: int | None) -> Op:
        handle._done = True
        del self._pending[handle.index]
        op = Op(handle.index, handle.process, handle.f, value, handle.invoke_ns, complete_ns,
                outcome, handle.key, error)
        self._ops.append(op)
        if self._sink is not None:
            self._sink.write(dump_op(op) + "\n")
            self._sink.flush()
        return op

    @property
    def in_flight(self) -> int:
        with self._lock:
            return len(self._pending)

    def close(self) -> History:
        """Mark operations still in flight as ``info`` (never completed); return the history."""
        with self._lock:
            self._closed = True
            for index in sorted(self._pending):
                handle = self._pending[index]
                self._append(handle, Outcome.INFO, handle.value, "never completed", None)
            return History(tuple(sorted(self._ops, key=lambda op: op.index)))

    def history(self) -> History:
        """The completed operations so far, in invocation order."""
        with self._lock:
            return History(tuple(sorted(self._ops, key=lambda op: op.index)))
