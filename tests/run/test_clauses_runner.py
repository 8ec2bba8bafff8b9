"""Clauses as a whole run produces them, in virtual time: abort, warm-up, several workloads.

Two test-only plug-ins, registered in-process as a third party would: a measured workload
kind ("scripted") that drives the shared open-loop scheduler on the
:class:`~faultlab.clock.ManualClock` and answers after a fixed latency, failing every request
of a fragile one while the "breaker" fault (the other plug-in) is injected. No real sleeps
and no timing bounds: the clock moves only when the test advances it, so every figure is
exact.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

import pytest

from faultlab.clock import ManualClock
from faultlab.experiment import load_experiment_text
from faultlab.experiment.types import Duration, Rate
from faultlab.faults import FAULT_KINDS, Fault, FaultKind, FaultSpec, Undo
from faultlab.run.outputs import result_document
from faultlab.run.runner import Runner
from faultlab.run.verdict import ClauseResult, Status, Verdict
from faultlab.workload.base import WorkloadContext, WorkloadSummary
from faultlab.workload.openloop import LoadSummary, OpenLoop
from faultlab.workload.spec import WORKLOAD_KINDS, WorkloadKind, WorkloadSpec
from faultlab.workload.stats import Outcome, StatsRecorder

STATE: dict[str, Any] = {"broken": False}


class ScriptedSpec(WorkloadSpec):
    """Requests that take ``latency``; the first ``cold_for`` of the run take ``cold``."""

    measured: ClassVar[bool] = True
    kind: Literal["scripted"] = "scripted"
    rate: Rate = 10.0
    latency: Duration = 0.01
    cold: Duration = 0.0
    cold_for: Duration = 0.0
    fragile: bool = True  # fails while the breaker is injected


class Scripted:
    measured = True

    def __init__(self, name: str, spec: ScriptedSpec, ctx: WorkloadContext) -> None:
        self.name, self.spec, self.clock = name, spec, ctx.clock
        self._stop = math.inf
        self._loop: OpenLoop | None = None

    async def prepare(self) -> None:
        pass

    async def run(self, start: float, origin: float, recorder: StatsRecorder | None) -> None:
        assert recorder is not None
        clock, spec = self.clock, self.spec
        loop = self._loop = OpenLoop(spec.rate, max_in_flight=100, clock=clock,
                                     recorder=recorder)
        loop.stop_at(self._stop)

        async def launch(intended: float, i: int) -> None:
            cold = intended < start + spec.cold_for
            broken = STATE["broken"] and spec.fragile
            await clock.sleep_until(intended + (spec.cold if cold else spec.latency))
            recorder.on_done(intended, Outcome.FAILED if broken else Outcome.OK,
                             clock.now() - intended)

        await loop.run(start, math.inf, launch, origin=origin)

    def stop_at(self, t: float) -> None:
        self._stop = min(self._stop, t)
        if self._loop is not None:
            self._loop.stop_at(t)

    def summary(self) -> WorkloadSummary:
        load = (self._loop.summary() if self._loop is not None
                else LoadSummary(0, 0, 0, 0.0, 0, False, ""))
        return WorkloadSummary("scripted", load)


class BreakerSpec(FaultSpec):
    """Every fragile scripted request fails while it is injected."""

    target_kinds: ClassVar[frozenset[str]] = frozenset({"host"})
    default_target: ClassVar[str | None] = "local"
    exclusive: ClassVar[bool] = False
    kind: Literal["breaker"]


class Breaker(Fault[BreakerSpec]):
    async def prepare(self) -> Undo:
        self.undo = Undo("nothing", {"reason": "breaker"})
        return self.undo

    async def inject(self) -> None:
        STATE["broken"] = True

    async def revert(self) -> None:
        STATE["broken"] = False


@pytest.fixture(autouse=True)
def plugins() -> Iterator[None]:
    WORKLOAD_KINDS.register(WorkloadKind("scripted", ScriptedSpec, Scripted))
    FAULT_KINDS.register(FaultKind("breaker", BreakerSpec, Breaker))
    STATE["broken"] = False
    yield
    WORKLOAD_KINDS.unregister("scripted")
    FAULT_KINDS.unregister("breaker")


async def _run(tmp_path: Path, text: str) -> tuple[Runner, Verdict]:
    clock = ManualClock()
    runner = Runner(load_experiment_text(text, "virtual.yaml"), tmp_path / "run", clock,
                    seed=3, argv=["test"])
    task = asyncio.create_task(runner.run())
    while not task.done():
        await clock.advance(0.05)
        await asyncio.sleep(0)
    return runner, task.result()


def _journal(runner: Runner) -> list[dict[str, Any]]:
    return [json.loads(line) for line in
            (runner.run_dir / "journal.jsonl").read_text().splitlines()]


def _clauses(verdict: Verdict) -> dict[str, ClauseResult]:
    return {c.name: c for c in verdict.clauses}


ABORT = """
name: abort
warmup: 1s
workloads:
  shop: {kind: scripted, rate: 10/s}
slos:
  - {name: fast, latency: {p99: 100ms}, window: 1s}
  - {name: served, success_ratio: 90%, window: 1s}
hypothesis:
  before: {hold: [fast, served], for: 2s}
  during: {hold: [served]}
  after: {hold: [served], recover_within: 2s}
faults:
  - {name: outage, kind: breaker, duration: 20s}
abort:
  - {success_ratio_below: 50%, for: 2s}
"""


async def test_an_abort_shows_every_clause_evaluated_up_to_it(tmp_path: Path) -> None:
    """Trust item 16: "ABORTED, clauses 2 of 2 held" while the during clause had failed."""
    runner, verdict = await _run(tmp_path, ABORT)
    assert verdict.status is Status.ABORTED
    # the request planned at 2.0 s went out just before the inject (a tick later)
    assert re.match(r"aborted: success ratio \d+\.\d\d% below 50\.00% over seconds 2-4 of "
                    r"workload 'shop'; every fault was reverted", verdict.reasons[0])
    clauses = _clauses(verdict)
    assert list(clauses) == ["before: fast", "before: served", "during: served",
                             "after: served"]
    assert clauses["before: fast"].held and clauses["before: served"].held
    during = clauses["during: served"]
    assert not during.held
    assert during.measured == 0.0
    assert (during.windows, during.failed_windows) == (2, 2)  # seconds 2 and 3, not later
    after = clauses["after: served"]
    assert not after.held and after.windows == 0
    assert after.detail.startswith("not evaluated: the run was aborted")
    assert {c.workload for c in verdict.clauses} == {"shop"}
    # The fault was reverted by tear-down, and no second after the abort was judged.
    assert not STATE["broken"] and runner.active == {}
    doc = result_document(verdict, runner.loaded, runner.run_dir, runner.seed, ["test"])
    assert [c["name"] for c in doc["clauses"]] == list(clauses)
    assert doc["clauses"][2]["held"] is False and doc["clauses"][2]["workload"] == "shop"


WARMUP = """
name: warm
warmup: {warmup}
workloads:
  shop: {{kind: scripted, rate: 10/s, cold: 800ms, cold_for: 500ms}}
slos:
  - {{name: fast, latency: {{p99: 100ms}}, window: 1s}}
hypothesis:
  before: {{hold: [fast], for: 2s}}
faults:
  - {{name: outage, kind: breaker, duration: 1s}}
"""


@pytest.mark.parametrize(("warmup", "status"), [("0s", Status.STEADY_STATE_FAILED),
                                                 ("1s", Status.HELD)])
async def test_warm_up_keeps_a_cold_start_out_of_the_steady_state(
        tmp_path: Path, warmup: str, status: Status) -> None:
    """Trust item 14: the first requests of a run are slow (connections, imports). Without
    a warm-up they fail the steady-state gate; with one they are driven but not measured."""
    runner, verdict = await _run(tmp_path, WARMUP.format(warmup=warmup))
    assert verdict.status is status, verdict.reasons
    shop = verdict.workloads["shop"]
    warm: Any = shop["generator"]
    assert warm["warmup"]["planned"] == (10 if warmup == "1s" else 0)
    totals: Any = shop["totals"]
    seconds = [e for e in _journal(runner) if e["event"] == "second"]
    assert [e["second"] for e in seconds] == list(range(len(seconds)))  # nothing below 0
    assert all(e["workload"] == "shop" for e in seconds)
    assert totals["planned"] == sum(e["sent"] + e["dropped"] for e in seconds)
    if warmup == "1s":
        assert totals["max"] == pytest.approx(0.01, abs=1e-3)  # no cold request counted
        notes = [e["note"] for e in _journal(runner) if e["event"] == "note"]
        # (its lag is whatever the start-up took: here one step of the test's clock)
        assert any(re.fullmatch(r"warm-up of 1s before second 0, not measured \(shop: 10 "
                                r"sent, 0 dropped, max lag \d+ ms\)", n) for n in notes)


TWO = """
name: two
warmup: 500ms
workloads:
  shop: {kind: scripted, rate: 20/s}
  api: {kind: scripted, rate: 10/s, latency: 50ms, fragile: false}
slos:
  - {name: shop-served, workload: shop, success_ratio: 90%, window: 1s}
  - {name: api-fast, workload: api, latency: {p99: 20ms}, window: 1s}
hypothesis:
  before: {hold: [shop-served], for: 2s}
  during: {hold: [shop-served, api-fast]}
faults:
  - {name: outage, kind: breaker, duration: 2s}
"""


async def test_each_slo_is_judged_on_the_workload_it_names(tmp_path: Path) -> None:
    runner, verdict = await _run(tmp_path, TWO)
    assert verdict.status is Status.VIOLATED
    clauses = _clauses(verdict)
    assert [(c.name, c.workload, c.held) for c in verdict.clauses] == [
        ("before: shop-served", "shop", True),
        ("during: shop-served", "shop", False),
        ("during: api-fast", "api", False)]
    # api's 50 ms requests never fail: only its own latency breaks api-fast
    assert clauses["during: api-fast"].measured == pytest.approx(0.05, abs=1e-3)
    assert clauses["during: shop-served"].measured == 0.0
    assert set(verdict.workloads) == {"shop", "api"}
    shop: Any = verdict.workloads["shop"]["totals"]
    api: Any = verdict.workloads["api"]["totals"]
    assert shop["planned"] == 2 * api["planned"]
    assert api["failed"] == 0 and shop["failed"] > 0
    per_workload = {e["workload"] for e in _journal(runner) if e["event"] == "second"}
    assert per_workload == {"shop", "api"}
    assert verdict.workload == verdict.workloads["shop"]["totals"]  # the first measured one
