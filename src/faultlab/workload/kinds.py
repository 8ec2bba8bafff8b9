"""faultlab's own workload kinds, registered here (the one place): ``http``, ``history`` and
``probe`` (:mod:`faultlab.workload.probe`).

Each factory imports its machinery (aiohttp, the client drivers) when it is called, which the
runner does before the warm-up: validating an experiment never pays for it, and a run never
pays for it inside the measured window.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from faultlab.workload.probe import ProbeWorkload
from faultlab.workload.scheduled import Scheduled
from faultlab.workload.spec import WORKLOAD_KINDS, HistoryWorkload, HttpWorkload, WorkloadKind

if TYPE_CHECKING:
    from faultlab.history import History
    from faultlab.workload.base import WorkloadContext, WorkloadSummary
    from faultlab.workload.history_load import HistoryLoad
    from faultlab.workload.http import HttpRequestSpec
    from faultlab.workload.probe import RunningProbe
    from faultlab.workload.stats import StatsRecorder
    from faultlab.workload.worker import WorkerPool

__all__ = ["HISTORY", "HTTP", "PROBE", "RunningHistoryLoad", "RunningHttpLoad", "history_file_name"]


class RunningHttpLoad(Scheduled):
    """An ``http`` workload in a run: :class:`~faultlab.workload.http.HttpLoad` (measured)."""

    measured = True
    kind = "http"

    def __init__(self, name: str, spec: HttpWorkload, ctx: WorkloadContext) -> None:
        from faultlab.workload.http import HttpRequestSpec

        self.name = name
        self.spec = spec
        self._ctx = ctx
        self._pool: WorkerPool | None = None  # with workers: spawned by prepare
        expect = (frozenset(spec.expect_status) if spec.expect_status
                  else frozenset(range(200, 400)))
        self.request: HttpRequestSpec = HttpRequestSpec(
            url=spec.url, method=spec.method, headers=tuple(spec.headers.items()),
            body=spec.body.encode() if spec.body is not None else None,
            timeout=spec.timeout, expect_status=expect, traceparent=spec.traceparent)

    @property
    def pool(self) -> WorkerPool | None:
        """The worker processes (``workers`` above 1), once :meth:`prepare` spawned them."""
        return self._pool

    @property
    def workers(self) -> int:
        return min(self.spec.worker_count, self.spec.max_in_flight)

    async def prepare(self) -> None:
        """Spawn the worker processes (``workers`` above 1), so their start-up (imports, a
        few hundred ms) is over before the warm-up; connections open during the warm-up,
        with the load itself. The workers live at most as long as the task preparing them
        (:meth:`~faultlab.workload.worker.WorkerPool.spawn`): a run that fails before
        :meth:`run` still ends them."""
        if self.workers > 1:
            from faultlab.workload.worker import WorkerPlan, WorkerPool, run_marker

            plan = WorkerPlan(self.request, self.spec.rate, self.workers,
                              self.spec.max_in_flight)
            self._pool = WorkerPool(plan, self._ctx.clock, run_marker(self._ctx.run_dir))
            await self._pool.spawn()

    async def run(self, start: float, origin: float, recorder: StatsRecorder | None) -> None:
        from faultlab.workload.http import HttpLoad

        if recorder is None:
            raise ValueError(f"workload '{self.name}' is measured: it needs a recorder")
        load = HttpLoad(self.request, self.spec.rate, max_in_flight=self.spec.max_in_flight,
                        clock=self._ctx.clock, recorder=recorder, workers=self.workers,
                        pool=self._pool)
        self._drive(load)
        await load.run(start, math.inf, origin=origin)


def history_file_name(name: str) -> str:
    """The history file of workload ``name`` in the run directory: ``history.jsonl`` for the
    one the ``workload: {history: ...}`` shorthand names ``history``."""
    return "history.jsonl" if name == "history" else f"history-{name}.jsonl"


class RunningHistoryLoad:
    """A ``history`` workload in a run: :class:`~faultlab.workload.history_load.HistoryLoad`,
    recording into :func:`history_file_name` (not measured: its outcome is the checks')."""

    measured = False

    def __init__(self, name: str, spec: HistoryWorkload, ctx: WorkloadContext) -> None:
        from faultlab.workload.clients import Client, make_client
        from faultlab.workload.history_load import HistoryLoad, HistorySpec

        self.name = name
        self.spec = spec
        self.history_file = history_file_name(name)
        self.history: History | None = None
        h = spec
        nodes = h.nodes
        load_spec = HistorySpec(client=h.client, address=nodes[0], addresses=tuple(nodes),
                                model=h.model,
                                processes=h.processes, keys=h.keys, rate=h.rate,
                                timeout=h.timeout, seed=ctx.seed, accounts=h.accounts,
                                balance=h.balance)

        def factory(slot: int) -> Client:
            return make_client(h.client, nodes[slot % len(nodes)], timeout=h.timeout,
                               user=h.user, database=h.database, password=h.password,
                               serializable=h.reads == "serializable",
                               wait=(h.wait.replicas, h.wait.timeout) if h.wait else None)

        self._load: HistoryLoad = HistoryLoad(load_spec, clock=ctx.clock,
                                              sink=ctx.run_dir / self.history_file,
                                              client_factory=factory)

    @property
    def history_spec(self) -> HistoryWorkload:
        return self.spec

    async def prepare(self) -> None:
        await self._load.prepare()

    async def run(self, start: float, origin: float, recorder: StatsRecorder | None) -> None:
        self.history = await self._load.run(start, math.inf, origin=origin)

    def stop_at(self, t: float) -> None:
        self._load.stop_at(t)

    def summary(self) -> WorkloadSummary:
        from faultlab.workload.base import HistoryCounts, WorkloadSummary

        st = self._load.stats
        outcomes = [op.outcome.value for op in self.history] if self.history is not None else []
        counts = HistoryCounts(self.history_file, st.planned, st.invoked, st.dropped,
                               st.retired, st.final, outcomes.count("ok"),
                               outcomes.count("fail"), outcomes.count("info"))
        return WorkloadSummary(self.spec.kind, self._load.summary(), counts)


def _build_http(name: str, spec: HttpWorkload, ctx: WorkloadContext) -> RunningHttpLoad:
    return RunningHttpLoad(name, spec, ctx)


def _build_history(name: str, spec: HistoryWorkload, ctx: WorkloadContext
                   ) -> RunningHistoryLoad:
    return RunningHistoryLoad(name, spec, ctx)


HTTP = WORKLOAD_KINDS.register(WorkloadKind("http", HttpWorkload, _build_http))
HISTORY = WORKLOAD_KINDS.register(WorkloadKind("history", HistoryWorkload, _build_history))


def _build_probe(name: str, spec: ProbeWorkload, ctx: WorkloadContext) -> RunningProbe:
    from faultlab.workload.probe import RunningProbe

    return RunningProbe(name, spec, ctx)


PROBE = WORKLOAD_KINDS.register(WorkloadKind("probe", ProbeWorkload, _build_probe))
