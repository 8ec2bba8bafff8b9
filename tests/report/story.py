"""Real run directories for the report tests, made by the real runner in virtual time.

Three test-only plug-ins, registered in-process as a third party would:

- workload kind ``story``: a measured open-loop load at ``rate`` whose answers are scripted.
  While a ``story-outage`` fault is injected a ``broken`` system fails (per ten requests: two
  answer after 800 ms, five fail, three time out at 1 s) and a resilient one slows to 40 ms;
  otherwise requests take 4-6 ms (every 50th 20 ms). It reports every arrival to the run's
  :class:`StatsRecorder` at its intended time and every answer when the clock reaches it, and
  drops an arrival when ``max_in_flight`` answers are pending, as the shared scheduler does.
- workload kind ``story-history``: records a history (``history.jsonl``, through the real
  :class:`~faultlab.history.Recorder`) for the real checkers; unmeasured.
- fault kind ``story-outage``: sets the outage while injected; ``stuck: true`` makes its
  revert fail with ``message``.

Everything else is faultlab's own: the runner, journal, evaluator, clauses, checks, verdict,
and ``faultlab.api.finish`` writing ``result.json`` and ``junit.xml`` from the run record.
The clock moves only when the driver advances it, so every figure is exact.
"""

from __future__ import annotations

import asyncio
import heapq
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar, Literal

from faultlab.api import finish
from faultlab.clock import ManualClock
from faultlab.experiment import load_experiment_text
from faultlab.experiment.types import Duration, Rate
from faultlab.faults import FAULT_KINDS, Fault, FaultKind, FaultSpec, Undo
from faultlab.history import History
from faultlab.run.runner import Runner
from faultlab.run.verdict import Verdict
from faultlab.workload.base import HistoryCounts, WorkloadContext, WorkloadSummary
from faultlab.workload.openloop import LoadSummary, WarmupSummary
from faultlab.workload.spec import WORKLOAD_KINDS, HistoryWorkload, WorkloadKind, WorkloadSpec
from faultlab.workload.stats import Outcome, StatsRecorder

from .histories import register_history, set_history

OUTAGES: set[str] = set()  # story-outage faults injected now


class StorySpec(WorkloadSpec):
    """Scripted answers at ``rate``; see the module docstring."""

    measured: ClassVar[bool] = True
    kind: Literal["story"] = "story"
    rate: Rate = 20.0
    broken: bool = True
    max_in_flight: int = 1000
    timeout: Duration = 1.0
    step: Duration = 0.01  # how often the clock is read (answers are timed exactly)


class Story:
    measured = True

    def __init__(self, name: str, spec: StorySpec, ctx: WorkloadContext) -> None:
        self.name, self.spec, self.clock = name, spec, ctx.clock
        self._stop = math.inf
        self._counts = {"planned": 0, "sent": 0, "dropped": 0}
        self._answered = 0  # answers follow the sent requests, not the planned ones
        self._warmup = {"planned": 0, "sent": 0, "dropped": 0}

    async def prepare(self) -> None:
        pass

    def _answer(self, i: int, hit: bool) -> tuple[Outcome, float]:
        if not hit:
            return Outcome.OK, 0.02 if i % 50 == 49 else 0.004 + (i % 5) * 0.0005
        if not self.spec.broken:
            return Outcome.OK, 0.04 + (i % 3) * 0.004
        tenth = i % 10
        if tenth < 2:
            return Outcome.OK, 0.8
        if tenth < 7:
            return Outcome.FAILED, 0.02
        return Outcome.TIMED_OUT, self.spec.timeout

    async def run(self, start: float, origin: float, recorder: StatsRecorder | None) -> None:
        assert recorder is not None
        pending: list[tuple[float, int, float, Outcome, float]] = []
        i = 0
        while True:
            now = self.clock.now()
            while (intended := start + i / self.spec.rate) <= now and intended < self._stop:
                counts = self._counts if intended >= origin else self._warmup
                counts["planned"] += 1
                if len(pending) >= self.spec.max_in_flight:
                    counts["dropped"] += 1
                    recorder.on_dropped(intended)
                else:
                    counts["sent"] += 1
                    recorder.on_sent(intended, intended)
                    outcome, latency = self._answer(self._answered, bool(OUTAGES))
                    self._answered += 1
                    heapq.heappush(pending, (intended + latency, i, intended, outcome, latency))
                i += 1
            while pending and pending[0][0] <= now:
                _, _, intended, outcome, latency = heapq.heappop(pending)
                recorder.on_done(intended, outcome, latency)
            if intended >= self._stop and not pending:
                return
            await self.clock.sleep_until(now + self.spec.step)

    def stop_at(self, t: float) -> None:
        self._stop = min(self._stop, t)

    def summary(self) -> WorkloadSummary:
        c, w = self._counts, self._warmup
        reason = (f"{c['dropped']} of {c['planned']} planned requests were dropped because "
                  f"{self.spec.max_in_flight} requests were already in flight"
                  if c["dropped"] else "")
        return WorkloadSummary("story", LoadSummary(
            c["planned"], c["sent"], c["dropped"], 0.0, 0, bool(c["dropped"]), reason,
            WarmupSummary(w["planned"], w["sent"], w["dropped"], 0.0)))


class StoryHistorySpec(WorkloadSpec):
    """A history recorded for the checkers (``model``: cas-register or set)."""

    kind: Literal["story-history"] = "story-history"
    model: Literal["cas-register", "set"] = "cas-register"
    dropped: int = 0
    retired: int = 0


class StoryHistory:
    measured = False

    def __init__(self, name: str, spec: StoryHistorySpec, ctx: WorkloadContext) -> None:
        self.name, self.spec, self.run_dir = name, spec, ctx.run_dir
        self._history: History | None = None
        self._stopped = asyncio.Event()

    async def prepare(self) -> None:
        pass

    async def run(self, start: float, origin: float, recorder: StatsRecorder | None) -> None:
        make: Callable[[Path], History] = (register_history if self.spec.model == "cas-register"
                                           else set_history)
        self._history = make(self.run_dir / "history.jsonl")
        await self._stopped.wait()

    def stop_at(self, t: float) -> None:
        self._stopped.set()

    @property
    def history(self) -> History | None:
        return self._history

    @property
    def history_spec(self) -> HistoryWorkload:
        return HistoryWorkload.model_validate({"client": "kv-http", "model": self.spec.model,
                                               "address": "127.0.0.1:8080"})

    def summary(self) -> WorkloadSummary:
        h = list(self._history or [])
        n = len(h)
        counts = {k: sum(op.outcome.value == k for op in h) for k in ("ok", "fail", "info")}
        load = LoadSummary(n + self.spec.dropped, n, self.spec.dropped, 0.0, 0, False, "")
        return WorkloadSummary("story-history", load, HistoryCounts(
            "history.jsonl", n + self.spec.dropped, n, self.spec.dropped, self.spec.retired, 0,
            counts["ok"], counts["fail"], counts["info"]))


class OutageSpec(FaultSpec):
    """The story workloads' system is down while this is injected."""

    target_kinds: ClassVar[frozenset[str]] = frozenset({"host"})
    default_target: ClassVar[str | None] = "local"
    exclusive: ClassVar[bool] = False
    kind: Literal["story-outage"]
    stuck: bool = False
    message: str = "boom"
    note: str = ""


class Outage(Fault[OutageSpec]):
    async def prepare(self) -> Undo:
        self.undo = Undo("nothing", {"reason": "story outage"})
        return self.undo

    async def inject(self) -> None:
        OUTAGES.add(self.spec.label)

    async def revert(self) -> None:
        if self.spec.stuck:
            raise RuntimeError(self.spec.message)
        OUTAGES.discard(self.spec.label)


@contextmanager
def story_plugins() -> Iterator[None]:
    WORKLOAD_KINDS.register(WorkloadKind("story", StorySpec, Story))
    WORKLOAD_KINDS.register(WorkloadKind("story-history", StoryHistorySpec, StoryHistory))
    FAULT_KINDS.register(FaultKind("story-outage", OutageSpec, Outage))
    OUTAGES.clear()
    try:
        yield
    finally:
        WORKLOAD_KINDS.unregister("story")
        WORKLOAD_KINDS.unregister("story-history")
        FAULT_KINDS.unregister("story-outage")
        OUTAGES.clear()


def story_text(name: str = "story", *, broken: bool = True, rate: int = 20,
               before: str = "10s", faults: str = "", cap: int = 10, description: str = "",
               extra_workloads: str = "", step: str = "10ms") -> str:
    faults = faults or "  - {name: slow-data, kind: story-outage, duration: 8s}\n"
    return f"""version: 1
name: {name}
description: {description!r}
warmup: 0s
workloads:
  shop: {{kind: story, rate: {rate}/s, broken: {str(broken).lower()}, max_in_flight: {cap},
         step: {step}}}
{extra_workloads}slos:
  - {{name: fast-pages, workload: shop, latency: {{p99: 300ms}}, window: 2s}}
  - {{name: pages-served, workload: shop, success_ratio: 99%, window: 2s}}
hypothesis:
  before: {{hold: [fast-pages, pages-served], for: {before}}}
  during: {{hold: [fast-pages, pages-served]}}
  after: {{hold: [fast-pages, pages-served], recover_within: 3s}}
faults:
{faults}"""


async def _drive(runner: Runner, clock: ManualClock) -> Verdict:
    task = asyncio.create_task(runner.run())
    while not task.done():
        await clock.advance(0.05)
        await asyncio.sleep(0)
    return task.result()


def run_story(run_dir: Path, text: str, *, file: str = "story.yaml", seed: int = 42,
              argv: list[str] | None = None) -> tuple[Path, Verdict]:
    """Run ``text`` (plug-ins registered) into ``run_dir``; result.json and junit.xml are
    written as ``faultlab run`` writes them (no report)."""
    with story_plugins():
        clock = ManualClock()
        runner = Runner(load_experiment_text(text, file), run_dir, clock, seed=seed,
                        argv=argv if argv is not None else ["faultlab", "run", file])
        verdict = asyncio.run(_drive(runner, clock))
        finish(runner, verdict, report=False)
    return run_dir, verdict


def story_variant(run_dir: Path, variant: str, *, broken: bool, name: str = "data-down",
                  **kw: Any) -> Path:
    """A comparison member: the same experiment file, ``--var variant=...`` on its line."""
    file = f"{name}.yaml"
    return run_story(run_dir, story_text(name, broken=broken, **kw), file=file,
                     argv=["faultlab", "run", file, "--var", f"variant={variant}"])[0]
