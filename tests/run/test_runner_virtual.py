"""The runner's phase, plan, interrupt and tear-down logic, in virtual time.

A test-only fault kind ("probe", registered in-process like a plug-in) records when it is
injected and reverted on the :class:`~faultlab.clock.ManualClock`; its revert can be made to
block until the test releases it, so interrupts that arrive *during* tear-down are produced
by construction, not by timing luck. No real sleeps: the clock only moves when the test
advances it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

import pytest

from faultlab.clock import ManualClock
from faultlab.experiment import load_experiment_text
from faultlab.faults import FAULT_KINDS, Fault, FaultKind, FaultSpec, Undo
from faultlab.run.runner import Runner
from faultlab.run.verdict import Status, Verdict


class ProbeSpec(FaultSpec):
    """A fault that only records what happens to it."""

    target_kinds: ClassVar[frozenset[str]] = frozenset({"host"})
    default_target: ClassVar[str | None] = "local"
    exclusive: ClassVar[bool] = False
    kind: Literal["probe"]
    fail_inject: bool = False


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, float]] = []
        self.release = asyncio.Event()
        self.block_revert = False
        self.fail_revert = False


RECORDER: dict[str, Any] = {}


class ProbeFault(Fault[ProbeSpec]):
    async def prepare(self) -> Undo:
        self.undo = Undo("nothing", {"reason": "probe"})
        return self.undo

    async def inject(self) -> None:
        rec: Recorder = RECORDER["rec"]
        rec.events.append(("inject", self.name, RECORDER["clock"].now()))
        if self.spec.fail_inject:
            raise RuntimeError("inject refused")

    async def revert(self) -> None:
        rec: Recorder = RECORDER["rec"]
        if rec.block_revert:
            await rec.release.wait()
        if rec.fail_revert:
            raise RuntimeError("cannot put it back")
        rec.events.append(("revert", self.name, RECORDER["clock"].now()))


@pytest.fixture(autouse=True)
def probe_kind() -> Iterator[Recorder]:
    kind = FaultKind("probe", ProbeSpec, ProbeFault)
    FAULT_KINDS.register(kind)
    rec = Recorder()
    RECORDER["rec"] = rec
    yield rec
    FAULT_KINDS.unregister("probe")


def _runner(tmp_path: Path, text: str, clock: ManualClock) -> Runner:
    RECORDER["clock"] = clock
    loaded = load_experiment_text(text, "virtual.yaml")
    return Runner(loaded, tmp_path / "run", clock, seed=7, argv=["test"])


async def _drive(clock: ManualClock, task: asyncio.Task[Verdict], step: float = 0.25
                 ) -> Verdict:
    while not task.done():
        await clock.advance(step)
        await asyncio.sleep(0)
    return task.result()


async def _until_injected(clock: ManualClock, rec: Recorder) -> None:
    while not any(e[0] == "inject" for e in rec.events):
        await clock.advance(0.25)
        await asyncio.sleep(0)


def _journal(runner: Runner) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (runner.run_dir / "journal.jsonl").read_text()
            .splitlines()]


FIXED = """
name: virtual
faults:
  - {name: a, kind: probe, start: 1s, duration: 2s}
  - {name: b, kind: probe, start: 2s, duration: 3s}
revert: {lease_grace: 1s}
"""


async def test_faults_follow_their_start_and_duration(tmp_path: Path,
                                                      probe_kind: Recorder) -> None:
    clock = ManualClock()
    runner = _runner(tmp_path, FIXED, clock)
    clock.now()
    verdict = await _drive(clock, asyncio.create_task(runner.run()))
    assert verdict.status is Status.HELD
    phase = next(e["t"] for e in _journal(runner) if e.get("phase") == "faults")
    start = runner.origin + phase
    times = {(what, name): round(t - start, 2) for what, name, t in probe_kind.events}
    assert times == {("inject", "a"): 1.0, ("revert", "a"): 3.0,
                     ("inject", "b"): 2.0, ("revert", "b"): 5.0}
    plan = next(e for e in _journal(runner) if e["event"] == "plan")
    assert [p["fault"] for p in plan["faults"]] == ["a", "b"]


RANDOM = """
name: nemesis
faults:
  - {name: a, kind: probe}
  - {name: b, kind: probe}
schedule:
  random: {faults: [a, b], interval: 1s..3s, hold: 1s..2s, max_active: 1, length: 20s}
"""


async def test_random_schedule_is_replayed_by_its_seed(tmp_path: Path,
                                                       probe_kind: Recorder) -> None:
    plans = []
    for attempt in range(2):
        clock = ManualClock()
        runner = _runner(tmp_path / str(attempt), RANDOM, clock)
        verdict = await _drive(clock, asyncio.create_task(runner.run()))
        assert verdict.status is Status.HELD
        plans.append(next(e for e in _journal(runner) if e["event"] == "plan")["faults"])
        spans = sorted((p["start"], p["start"] + p["duration"]) for p in plans[-1])
        assert all(end <= nxt for (_, end), (nxt, _) in itertools.pairwise(spans))
        assert len(spans) >= 4
    assert plans[0] == plans[1]
    injected = [e for e in probe_kind.events if e[0] == "inject"]
    assert len(injected) == 2 * len(plans[0])


async def test_interrupt_during_a_fault_reverts_it(tmp_path: Path,
                                                   probe_kind: Recorder) -> None:
    clock = ManualClock()
    runner = _runner(tmp_path, FIXED, clock)
    task = asyncio.create_task(runner.run())
    await _until_injected(clock, probe_kind)
    runner.interrupt()
    verdict = await _drive(clock, task)
    assert verdict.status is Status.INTERRUPTED
    assert [e[:2] for e in probe_kind.events] == [("inject", "a"), ("revert", "a")]
    assert "every fault was reverted" in verdict.reasons[0]
    teardown = next(e for e in _journal(runner) if e["event"] == "teardown")
    assert teardown["active"] == [] and teardown["still_running"] == []


async def test_signals_during_teardown_never_skip_the_revert(tmp_path: Path,
                                                             probe_kind: Recorder) -> None:
    """SIGINT, then a second and a third while the revert is still running: the revert
    finishes, and the run reports what tear-down measured."""
    clock = ManualClock()
    runner = _runner(tmp_path, FIXED, clock)
    probe_kind.block_revert = True
    task = asyncio.create_task(runner.run())
    await _until_injected(clock, probe_kind)
    runner.interrupt()
    for _ in range(20):
        await asyncio.sleep(0)
    runner.interrupt()
    runner.interrupt()
    task.cancel()  # the caller's cancellation counts as one more interrupt, nothing more
    for _ in range(20):
        await asyncio.sleep(0)
    assert not task.done()
    probe_kind.release.set()
    verdict = await _drive(clock, task)
    assert verdict.status is Status.INTERRUPTED
    assert ("revert", "a") in [e[:2] for e in probe_kind.events]
    assert runner.active == {}


async def test_a_failed_revert_is_reported_and_others_still_revert(
        tmp_path: Path, probe_kind: Recorder) -> None:
    clock = ManualClock()
    runner = _runner(tmp_path, FIXED, clock)
    probe_kind.fail_revert = True
    verdict = await _drive(clock, asyncio.create_task(runner.run()))
    assert verdict.status is Status.REVERT_FAILED
    assert any("REVERT FAILED for fault 'a'" in r and "cannot put it back" in r
               for r in verdict.reasons)
    failed = [e["fault"] for e in _journal(runner) if e["event"] == "revert_failed"]
    assert sorted(set(failed)) == ["a", "b"]  # each: at its end, and again at tear-down


async def test_a_failed_inject_is_an_error_and_is_still_reverted(
        tmp_path: Path, probe_kind: Recorder) -> None:
    clock = ManualClock()
    text = FIXED.replace("{name: a, kind: probe,", "{name: a, kind: probe, fail_inject: true,")
    runner = _runner(tmp_path, text, clock)
    verdict = await _drive(clock, asyncio.create_task(runner.run()))
    assert verdict.status is Status.ERROR
    assert any("fault 'a' could not be applied: inject refused" in r for r in verdict.reasons)
    assert ("revert", "a") in [e[:2] for e in probe_kind.events]
