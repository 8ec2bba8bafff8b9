"""An HTTP load spread over worker processes, and the worker process itself.

``workers: N`` on an ``http`` workload runs its open loop in ``N`` OS processes
(``python -m faultlab.workload.worker``), each the same :class:`~faultlab.workload.http.HttpLoad`
on its *share* of the plan: arrival ``i`` is worker ``i mod N``'s, at the same intended time
``start + i / rate`` (:class:`~faultlab.workload.openloop.OpenLoop`'s ``share``), so the union
of the shares is the single-process plan, and latency is still measured from each request's
intended time. Every process on one host reads the same CLOCK_MONOTONIC, so the parent's
``start``, ``origin`` and ``stop_at`` times are valid in the workers as they are.

The protocol is lines of JSON over a pair of byte streams (here a worker's stdin and stdout;
an SSH channel later), so it does not care what carries it:

- parent -> worker: ``{"type": "start", ...}`` once (the request, rate, share, in-flight cap,
  ``start``, ``origin``, ``stop``), then ``{"type": "stop_at", "t": ...}`` as the run ends.
  The end of the stream means "stop now": the worker cancels its requests and exits, so a
  parent that dies (even by SIGKILL) leaves no worker behind.
- worker -> parent: ``{"type": "ready"}`` once its code is imported (the parent spawns the
  workers in the workload's ``prepare`` and waits for it, so their start-up is paid before
  the warm-up, not in it); then ``{"type": "progress", "seconds": [...], "load": {...}}``
  about every 0.1 s, with the seconds its recorder completed since the last one (in order,
  every index from 0, empty ones too; :func:`~faultlab.workload.stats.second_to_wire`) and
  its scheduler's figures so far; then one ``{"type": "end", ...}`` with the rest, forced
  closed, and its warm-up.

Invariants of :class:`WorkerPool` (the parent):

- *Exact merge.* The runner's recorder is fed whole seconds from ``N`` sources
  (:meth:`StatsRecorder.expect_sources`): a second completes once every worker has sent it,
  and it is their exact sum, histograms included. The runner, the evaluator and the journal
  see one recorder whose seconds are shaped as in a single process.
- *Nothing invented.* A worker that exits without its ``end`` line (killed, crashed) ends the
  load with :class:`WorkerDied`, a run error naming it and the seconds it never sent; the
  seconds it did not send are never completed from the others' alone, not even by the run's
  final forced close. The same holds when the load is cancelled (an interrupted run): a
  worker told to stop at once sends nothing more, so the run keeps the seconds every worker
  had sent, where a single process would force-close its partial last seconds.
- *Owned processes.* Every worker carries the run's marker (``FAULTLAB_RUN``) like every
  process faultlab starts, runs in its own session (a Ctrl-C reaches the run, which then stops
  it, not the workers directly), and is reaped before :meth:`WorkerPool.run` returns or raises:
  on cancellation or error its stdin is closed, it gets ``REAP_GRACE_S`` to exit, then SIGKILL.
  Spawned ahead of the run (:meth:`WorkerPool.spawn`), the workers live at most as long as
  the task that spawned them: if it ends without a run having reaped them (the run failed
  or was interrupted between prepare and start), their stdin is closed then and there.
- *Figures.* :meth:`WorkerPool.summary` is the sum of the workers' latest figures, with
  saturation judged on the sums as one process's would be; it lags the workers by up to one
  progress interval while they run, and is exact once they have ended.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import math
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faultlab.clock import Clock, MonotonicClock
from faultlab.workload.base import WorkloadError
from faultlab.workload.openloop import LoadSummary, WarmupSummary, load_summary
from faultlab.workload.stats import StatsRecorder, second_from_wire, second_to_wire

if TYPE_CHECKING:
    from faultlab.workload.http import ClientChoice, HttpRequestSpec

__all__ = ["READY_S", "REAP_GRACE_S", "WorkerDied", "WorkerPlan", "WorkerPool", "run_marker",
           "serve"]

PROGRESS_S = 0.1  # how often a worker sends the seconds it completed
REAP_GRACE_S = 2.0  # how long a worker whose stdin closed gets to exit before SIGKILL
READY_S = 60.0  # how long the workers get to start (imports) before the load gives up
_STDERR_TAIL = 2000  # the end of a dead worker's stderr that its error quotes
_LINE_LIMIT = 1 << 24  # the longest line either side reads (a second with two histograms: KBs)


class WorkerDied(WorkloadError):
    """A worker process of an HTTP load ended without finishing its share: a run error."""


@dataclass(frozen=True)
class WorkerPlan:
    """What every worker of one load is told (its share apart)."""

    spec: HttpRequestSpec
    rate: float
    workers: int
    max_in_flight: int  # over all the workers
    client: ClientChoice = "auto"

    def start_line(self, k: int, start: float, origin: float, stop: float) -> bytes:
        s = self.spec
        cap = self.max_in_flight // self.workers + (k < self.max_in_flight % self.workers)
        msg = {"type": "start", "share": [k, self.workers], "rate": self.rate,
               "max_in_flight": max(1, cap), "client": self.client, "start": start,
               "origin": origin, "stop": None if math.isinf(stop) else stop,
               "request": {"url": s.url, "method": s.method, "headers": list(s.headers),
                           "body": None if s.body is None else
                           base64.b64encode(s.body).decode("ascii"),
                           "timeout": s.timeout, "expect_status": sorted(s.expect_status),
                           "traceparent": s.traceparent}}
        return _line(msg)


def _line(msg: dict[str, Any]) -> bytes:
    return json.dumps(msg, separators=(",", ":")).encode() + b"\n"


def run_marker(run_dir: Path) -> str | None:
    """The marker of the run whose journal is in ``run_dir`` (its ``run_started`` event), or
    None when there is no journal (a load outside a run)."""
    from faultlab.journal import JOURNAL_NAME, read_journal

    path = run_dir / JOURNAL_NAME
    if not path.exists():
        return None
    for record in read_journal(path):
        if record.get("event") == "run_started":
            marker = record.get("marker")
            return marker if isinstance(marker, str) else None
    return None


# --- the parent ----------------------------------------------------------------------------


@dataclass
class _Worker:
    k: int
    proc: asyncio.subprocess.Process
    load: dict[str, Any] = field(default_factory=dict)  # its latest figures
    client: str = ""
    ended: bool = False
    stderr: bytes = b""


class WorkerPool:
    """The parent of one load's workers (see the module docstring).

    Two steps, so that the workers' start-up is paid before anything is timed:
    :meth:`spawn` (a workload's ``prepare``) starts the processes and waits until each is
    ready (imported, waiting for its plan); :meth:`run` sends each its share of the plan and
    follows it to its end (spawning first if :meth:`spawn` was not called)."""

    def __init__(self, plan: WorkerPlan, clock: Clock, marker: str | None) -> None:
        if not isinstance(clock, MonotonicClock):
            raise ValueError("a load over worker processes needs the real clock (they "
                             "share CLOCK_MONOTONIC, not a virtual one)")
        self.plan = plan
        self.marker = marker
        self.workers: list[_Worker] = []
        self._stop = math.inf
        self._started = False  # the start lines were sent
        self._done = False  # reaped, or abandoned by the task that spawned them
        self._recorder: StatsRecorder | None = None

    def stop_at(self, t: float) -> None:
        self._stop = min(self._stop, t)
        if not self._started:
            return  # their start line carries it (a worker reads its first line as the plan)
        for w in self.workers:
            stdin = w.proc.stdin
            if stdin is not None and not stdin.is_closing() and not w.ended:
                stdin.write(_line({"type": "stop_at", "t": self._stop}))

    def summary(self) -> LoadSummary:
        loads = [w.load for w in self.workers if w.load]

        def total(key: str, part: str | None = None) -> int:
            return sum(int((ld[part] if part else ld)[key]) for ld in loads)

        def peak(key: str, part: str | None = None) -> float:
            return max((float((ld[part] if part else ld)[key]) for ld in loads), default=0.0)

        warmup = WarmupSummary(total("planned", "warmup"), total("sent", "warmup"),
                               total("dropped", "warmup"), peak("max_lag", "warmup"))
        cap = self.plan.max_in_flight
        return load_summary(
            total("sent"), total("dropped"), total("late"), peak("max_lag"), warmup,
            cap_reason=f"{cap} requests were already in flight (over {self.plan.workers} "
                       "worker processes)")

    @property
    def client(self) -> str:
        return next((w.client for w in self.workers if w.client), "")

    @property
    def spawned(self) -> bool:
        return bool(self.workers)

    async def spawn(self) -> None:
        """Start every worker and wait until each says it is ready (``READY_S`` at most).

        The workers live at most as long as the task that calls this (the runner's main
        task, which prepares the workloads and owns the task group that runs them): when
        that task ends without :meth:`run` having reaped them (the run failed or was
        interrupted between prepare and start) their input is closed, so they exit at once,
        and any still there ``REAP_GRACE_S`` later is killed. A worker that dies or hangs
        before it is ready raises :class:`WorkerDied`; then, as on cancellation, every worker
        is reaped before this returns."""
        from faultlab.run.setup import MARKER_ENV

        if self.workers or self._done:
            raise RuntimeError("a worker pool is spawned once")
        env = {**os.environ, **({MARKER_ENV: self.marker} if self.marker else {})}
        try:
            for k in range(self.plan.workers):
                proc = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "faultlab.workload.worker", env=env,
                    stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE, start_new_session=True,
                    limit=_LINE_LIMIT)
                self.workers.append(_Worker(k, proc))
            async with asyncio.timeout(READY_S):
                for w in self.workers:
                    await self._ready(w)
        except TimeoutError:
            await asyncio.shield(self._reap())
            raise WorkerDied(f"the {self.plan.workers} load workers were not all ready "
                             f"within {READY_S:g} s") from None
        except BaseException:
            await asyncio.shield(self._reap())
            raise
        owner = asyncio.current_task()
        if owner is not None:
            owner.add_done_callback(self._abandon)

    async def _ready(self, w: _Worker) -> None:
        assert w.proc.stdout is not None and w.proc.stderr is not None
        line = await w.proc.stdout.readline()
        if line and json.loads(line).get("type") == "ready":
            return
        w.stderr = (await w.proc.stderr.read())[-_STDERR_TAIL:]
        raise self._died(w, await w.proc.wait(), "getting ready")

    def _abandon(self, _owner: object) -> None:
        """The spawning task ended: end the workers :meth:`run` did not reap (see
        :meth:`spawn`). Synchronous (a done callback): close their input, kill them later."""
        if self._done:
            return
        self._done = True
        for w in self.workers:
            if w.proc.stdin is not None and not w.proc.stdin.is_closing():
                w.proc.stdin.close()

        def kill_left() -> None:
            for w in self.workers:
                if w.proc.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        w.proc.kill()

        asyncio.get_running_loop().call_later(REAP_GRACE_S, kill_left)

    async def run(self, start: float, origin: float, recorder: StatsRecorder) -> None:
        """Send each worker its share of the plan, feed ``recorder`` their seconds until
        every one has ended; every worker is reaped before this returns or raises."""
        if self._done:
            raise RuntimeError("the load workers were already stopped")
        # first: until then the recorder would close the seconds that pass as empty ones
        recorder.expect_sources(self.plan.workers)
        self._recorder = recorder
        try:
            if not self.workers:
                await self.spawn()
            self._started = True
            for w in self.workers:
                assert w.proc.stdin is not None
                w.proc.stdin.write(self.plan.start_line(w.k, start, origin, self._stop))
            async with asyncio.TaskGroup() as tg:
                for w in self.workers:
                    tg.create_task(self._follow(w))
        except BaseExceptionGroup as group:
            died = [e for e in group.exceptions if isinstance(e, WorkerDied)]
            if died:
                raise died[0] from None
            raise
        finally:
            await asyncio.shield(self._reap())

    async def _follow(self, w: _Worker) -> None:
        proc, recorder = w.proc, self._recorder
        assert proc.stdout is not None and proc.stderr is not None and recorder is not None
        err = asyncio.create_task(proc.stderr.read())
        try:
            while line := await proc.stdout.readline():
                msg = json.loads(line)
                for wire in msg["seconds"]:
                    recorder.add_second(w.k, second_from_wire(wire))
                w.load, w.client = msg["load"], msg["client"]
                if msg["type"] == "end":
                    recorder.add_second(w.k, second_from_wire(msg["warmup"]))
                    recorder.end_source(w.k)
                    w.ended = True
            code = await proc.wait()
            w.stderr = (await err)[-_STDERR_TAIL:]
        finally:
            err.cancel()
        if not w.ended or code != 0:
            raise self._died(w, code, "finishing its share: its seconds from "
                             f"{recorder.sources_behind} on were never sent, so the load "
                             "cannot be measured")

    def _died(self, w: _Worker, code: int, before: str) -> WorkerDied:
        how = (f"was killed by {signal.Signals(-code).name}" if code < 0
               else f"exited with status {code}")
        tail = w.stderr.decode(errors="replace").strip().splitlines()
        said = f"; it said: {tail[-1]}" if tail else ""
        return WorkerDied(f"load worker {w.k + 1} of {self.plan.workers} (pid {w.proc.pid}) "
                          f"{how} before {before}{said}")

    async def _reap(self) -> None:
        self._done = True
        for w in self.workers:
            if w.proc.stdin is not None and not w.proc.stdin.is_closing():
                w.proc.stdin.close()  # "stop now" to a worker still running
        for w in self.workers:
            if w.proc.returncode is None:
                try:
                    await asyncio.wait_for(w.proc.wait(), REAP_GRACE_S)
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        w.proc.kill()
                    await w.proc.wait()


# --- the worker ----------------------------------------------------------------------------


async def serve(read_line: Callable[[], Awaitable[bytes]], write: Callable[[bytes], None]
                ) -> None:
    """One worker: read the start line, run the share, report; see the module docstring.

    ``read_line`` returns b"" at the end of the stream; ``write`` sends one line."""
    from faultlab.clock import MonotonicClock
    from faultlab.workload.http import HttpLoad, HttpRequestSpec

    write(_line({"type": "ready"}))  # imported: the parent may now time the load
    first = await read_line()
    if not first:
        return
    msg = json.loads(first)
    req = msg["request"]
    spec = HttpRequestSpec(
        url=req["url"], method=req["method"], headers=tuple(tuple(h) for h in req["headers"]),
        body=None if req["body"] is None else base64.b64decode(req["body"]),
        timeout=req["timeout"], expect_status=frozenset(req["expect_status"]),
        traceparent=req["traceparent"])
    clock = MonotonicClock()
    recorder = StatsRecorder(msg["origin"], keep_seconds=1)
    k, n = msg["share"]
    load = HttpLoad(spec, msg["rate"], max_in_flight=msg["max_in_flight"], clock=clock,
                    recorder=recorder, client=msg["client"], share=(k, n))
    if msg["stop"] is not None:
        load.stop_at(msg["stop"])
    running = asyncio.create_task(load.run(msg["start"], math.inf, origin=msg["origin"]))

    async def commands() -> None:
        while line := await read_line():
            command = json.loads(line)
            if command["type"] == "stop_at":
                load.stop_at(command["t"])
        running.cancel()  # the parent is gone or wants us gone: stop now

    listener = asyncio.create_task(commands())

    def report(kind: str, force: bool) -> dict[str, Any]:
        closed = recorder.complete_until(clock.now(), force=force)
        s = load.summary()
        w = s.warmup
        return {"type": kind, "client": load.client, "seconds": [second_to_wire(c) for c in closed],
                "load": {"sent": s.sent, "dropped": s.dropped, "late": s.late,
                         "max_lag": s.max_lag,
                         "warmup": {"planned": w.planned, "sent": w.sent, "dropped": w.dropped,
                                    "max_lag": w.max_lag}}}

    try:
        while not running.done():
            await asyncio.wait([running], timeout=PROGRESS_S)
            write(_line(report("progress", False)))
        await running  # raises CancelledError when told to stop now
        end = report("end", True)
        end["warmup"] = second_to_wire(recorder.warmup)
        write(_line(end))
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener


async def _main() -> int:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=_LINE_LIMIT)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    out = sys.stdout.buffer

    def write(line: bytes) -> None:
        out.write(line)
        out.flush()

    try:
        await serve(reader.readline, write)
    except asyncio.CancelledError:
        return 3  # stopped before the end of its share: the parent knows why
    return 0


def main() -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency where it builds
        sys.exit(asyncio.run(_main()))
    sys.exit(uvloop.run(_main()))


if __name__ == "__main__":
    main()
