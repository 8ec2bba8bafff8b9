"""An HTTP load over worker processes: exact merging, a real run, a dead worker, cancellation.

The merging property is tested on real recorders (no fakes): events split over k recorders,
their seconds carried over the wire format and merged, equal one recorder fed every event.
The rest runs real worker processes (``python -m faultlab.workload.worker``) against real
aiohttp servers on 127.0.0.1, through the runner where the brief is about a run. Outcomes and
counts are asserted, never timings.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from hdrh.histogram import HdrHistogram
from hypothesis import given, settings
from hypothesis import strategies as st

from faultlab.clock import MonotonicClock
from faultlab.experiment import load_experiment_text
from faultlab.hosts import local_host
from faultlab.ports import free_ports
from faultlab.run.outputs import result_document
from faultlab.run.runner import Runner
from faultlab.run.setup import MARKER_ENV
from faultlab.run.verdict import Status
from faultlab.workload.http import HttpLoad, HttpRequestSpec
from faultlab.workload.kinds import RunningHttpLoad
from faultlab.workload.stats import (
    Outcome,
    SecondStats,
    StatsRecorder,
    second_from_wire,
    second_to_wire,
)
from faultlab.workload.worker import WorkerDied, WorkerPlan, WorkerPool

ORIGIN = 1000.0

# (source, intended offset from the origin, what happened, latency s, lag s)
_event = st.tuples(st.integers(0, 3), st.floats(-1.5, 6.0), st.sampled_from(
    ["ok", "failed", "timed_out", "dropped", "probe_error"]),
    st.floats(1e-6, 4.0), st.floats(0.0, 0.05))


def _feed(rec: StatsRecorder, offset: float, what: str, latency: float, lag: float) -> None:
    intended = ORIGIN + offset
    if what == "dropped":
        rec.on_dropped(intended)
    elif what == "probe_error":
        # one message per second (every warm-up second is one: the warm-up bucket), so "the
        # first one" is the same whichever source saw it
        rec.on_error(intended, f"error in second {max(rec.second_of(intended), -1)}")
    else:
        rec.on_sent(intended, intended + lag)
        rec.on_done(intended, Outcome(what), latency)


def _hist(h: HdrHistogram) -> tuple[Any, ...]:
    # every bucket's count (the ctypes array as bytes: fast), and what is derived from them
    return (h.get_total_count(), h.get_min_value(), h.get_max_value(), bytes(h.counts),
            h.get_value_at_percentile(99.0))


def _shape(s: SecondStats) -> tuple[Any, ...]:
    return (s.index, s.sent, s.ok, s.failed, s.timed_out, s.dropped, s.late, s.max_lag,
            s.errors, s.error, _hist(s.histogram), _hist(s.ok_latencies()),
            s.ok_histogram is None)


@settings(max_examples=60, deadline=None)
@given(events=st.lists(_event, max_size=80), k=st.integers(1, 4))
def test_seconds_split_over_sources_and_merged_equal_one_recorder(
        events: list[tuple[int, float, str, float, float]], k: int) -> None:
    one = StatsRecorder(ORIGIN)
    parts = [StatsRecorder(ORIGIN) for _ in range(k)]
    for source, offset, what, latency, lag in events:
        _feed(one, offset, what, latency, lag)
        _feed(parts[source % k], offset, what, latency, lag)

    merged = StatsRecorder(ORIGIN)
    merged.expect_sources(k)
    end = ORIGIN + 8.0
    for j, part in enumerate(parts):
        # what a worker sends: its seconds in order, then its warm-up, over the wire format
        for s in part.complete_until(end, force=True):
            merged.add_second(j, second_from_wire(json.loads(json.dumps(second_to_wire(s)))))
        merged.add_second(j, second_from_wire(second_to_wire(part.warmup)))
        merged.end_source(j)

    expected = one.complete_until(end)
    got = merged.complete_until(end)
    assert [_shape(s) for s in got] == [_shape(s) for s in expected]
    assert _shape(merged.warmup) == _shape(one.warmup)


def test_a_second_waits_for_every_source() -> None:
    rec = StatsRecorder(ORIGIN)
    rec.expect_sources(2)
    rec.add_second(0, SecondStats(0, sent=3, ok=3))
    rec.add_second(0, SecondStats(1, sent=4, ok=4))
    assert rec.complete_until(ORIGIN + 10) == []  # source 1 has not sent second 0
    rec.add_second(1, SecondStats(0, sent=2, ok=2))
    closed = rec.complete_until(ORIGIN + 10)
    assert [(s.index, s.sent) for s in closed] == [(0, 5)]  # second 1 waits for source 1
    with pytest.raises(RuntimeError, match="expected 1"):
        rec.add_second(1, SecondStats(2))
    # source 1 never sends second 1 (it died): even a forced close does not make it up
    assert rec.complete_until(ORIGIN + 10, force=True) == []
    rec.end_source(0)
    rec.end_source(1)  # (had it ended instead, second 1 would be source 0's alone)
    assert next((s.index, s.sent) for s in rec.complete_until(ORIGIN + 10)) == (1, 4)


# --- real processes ------------------------------------------------------------------------


def _worker_pids() -> set[int]:
    """This process's children that are load workers (from /proc; zombies included)."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == os.getpid() and b"faultlab.workload.worker" in cmdline:
            found.add(int(entry))
    return found


def _environ(pid: int) -> bytes:
    return Path(f"/proc/{pid}/environ").read_bytes()


def _gone(pid: int) -> bool:
    """True once ``pid`` is reaped (a zombie still has a /proc entry)."""
    return not Path(f"/proc/{pid}").exists()


@pytest.fixture
async def counting_server(tmp_path: Path) -> AsyncIterator[tuple[str, Path, list[int]]]:
    """Answers /buy with 503 while the flag file exists, 200 otherwise; counts requests."""
    flag = tmp_path / "outage"
    received = [0]

    async def buy(request: web.Request) -> web.Response:
        received[0] += 1
        return web.Response(status=503 if flag.exists() else 200, text="x")

    async def health(request: web.Request) -> web.Response:
        await asyncio.sleep(120)  # a store that never answers: its workload's prepare hangs
        return web.Response(text="late")

    app = web.Application()
    app.router.add_get("/buy", buy)
    app.router.add_get("/health", health)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        yield f"127.0.0.1:{runner.addresses[0][1]}", flag, received
    finally:
        await runner.cleanup()


EXPERIMENT = """
name: two-workers
warmup: 1s
workloads:
  shop: {{kind: http, url: "http://{shop}/buy", rate: 60/s, timeout: 2s, workers: 2}}
slos:
  - {{name: served, workload: shop, success_ratio: 95%, window: 1s}}
hypothesis:
  before: {{hold: [served], for: 2s}}
  during: {{hold: [served]}}
  after: {{hold: [served], recover_within: 4s}}
faults:
  - {{name: outage, kind: command, inject: [touch, "{flag}"], revert: [rm, -f, "{flag}"],
     duration: 2s}}
revert: {{lease_grace: 2s}}
"""


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_a_run_over_two_workers_records_every_request_once(
        tmp_path: Path, counting_server: tuple[str, Path, list[int]]) -> None:
    address, flag, received = counting_server
    loaded = load_experiment_text(EXPERIMENT.format(shop=address, flag=flag), "w.yaml")
    run_dir = tmp_path / "run"
    runner = Runner(loaded, run_dir, MonotonicClock(), seed=3, argv=["test"])
    verdict = await runner.run()

    # the outage shows in the merged seconds, and is judged as usual
    assert verdict.status is Status.VIOLATED, verdict.reasons
    held = {c.name: c.held for c in verdict.clauses}
    assert held == {"before: served": True, "during: served": False, "after: served": True}

    doc = result_document(verdict, loaded, run_dir, runner.seed, ["test"])
    totals, generator = doc["workloads"]["shop"]["totals"], doc["workloads"]["shop"]["generator"]
    events = [json.loads(line) for line in (run_dir / "journal.jsonl").read_text().splitlines()]
    seconds = [e for e in events if e["event"] == "second"]
    assert [e["second"] for e in seconds] == list(range(len(seconds)))  # in order, no gap
    assert sum(e["sent"] + e["dropped"] for e in seconds) == totals["planned"]
    assert sum(e["sent"] for e in seconds) == generator["sent"]
    assert sum(e["failed"] for e in seconds) == totals["failed"] > 0  # the 503s
    # every request sent (warm-up and measured) reached the server exactly once
    assert received[0] == generator["sent"] + generator["warmup"]["sent"]
    assert totals["planned"] == generator["planned"] > 0
    assert not _worker_pids()  # every worker reaped


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_a_worker_killed_mid_run_is_a_run_error(
        tmp_path: Path, counting_server: tuple[str, Path, list[int]]) -> None:
    address, flag, _ = counting_server
    text = EXPERIMENT.format(shop=address, flag=flag).replace("duration: 2s", "duration: 30s")
    loaded = load_experiment_text(text, "w.yaml")
    runner = Runner(loaded, tmp_path / "run", MonotonicClock(), seed=3, argv=["test"])
    run = asyncio.create_task(runner.run())
    while len(pids := _worker_pids()) < 2 or runner.recorders.get("shop") is None \
            or runner.recorders["shop"].completed < 1:
        assert not run.done()
        await asyncio.sleep(0.05)
    victim = min(pids)
    os.kill(victim, signal.SIGKILL)
    verdict = await run

    assert verdict.status is Status.ERROR
    reason = " ".join(verdict.reasons)
    assert f"(pid {victim}) was killed by SIGKILL" in reason, reason
    assert "cannot be measured" in reason
    assert all(_gone(pid) for pid in pids)
    assert not flag.exists()  # the fault was reverted as in any failed run


@pytest.mark.timeout(120)
async def test_cancelling_the_load_reaps_its_workers(
        counting_server: tuple[str, Path, list[int]]) -> None:
    address, _, received = counting_server
    clock = MonotonicClock()
    start = clock.now()
    recorder = StatsRecorder(start)
    load = HttpLoad(HttpRequestSpec(url=f"http://{address}/buy"), 50, clock=clock,
                    recorder=recorder, workers=2, marker="test-marker")
    task = asyncio.create_task(load.run(start, math.inf))
    while not recorder.complete_until(clock.now()):  # until both workers have sent second 0
        assert not task.done()
        await asyncio.sleep(0.05)
    pids = _worker_pids()
    assert len(pids) == 2
    for pid in pids:  # like every process a run starts, they carry its marker
        assert b"FAULTLAB_RUN=test-marker" in _environ(pid)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert all(_gone(pid) for pid in pids)
    assert received[0] > 0


@pytest.mark.timeout(120)
async def test_a_finite_plan_over_three_workers_is_the_single_process_plan(
        counting_server: tuple[str, Path, list[int]]) -> None:
    address, _, received = counting_server
    clock = MonotonicClock()
    start = clock.now()
    rate, stop = 70.0, start + 1.5
    recorder = StatsRecorder(start + 0.5)
    load = HttpLoad(HttpRequestSpec(url=f"http://{address}/buy"), rate, clock=clock,
                    recorder=recorder, workers=3)
    summary = await load.run(start, stop, origin=start + 0.5)

    planned = sum(1 for i in range(1000) if start + i / rate < stop)  # the plan of one process
    measured = sum(1 for i in range(1000) if start + 0.5 <= start + i / rate < stop)
    assert summary.planned + summary.warmup.planned == planned
    assert summary.planned == measured
    seconds = recorder.complete_until(clock.now(), force=True)
    assert sum(s.sent + s.dropped for s in seconds) == measured
    assert recorder.warmup.sent + recorder.warmup.dropped == summary.warmup.planned
    assert received[0] == summary.sent + summary.warmup.sent
    assert not _worker_pids()


def test_workers_in_the_spec() -> None:
    from pydantic import ValidationError

    from faultlab.workload.spec import HttpWorkload

    base = {"url": "http://127.0.0.1:1/", "rate": "100/s"}
    assert HttpWorkload.model_validate(base).worker_count == 1
    assert HttpWorkload.model_validate({**base, "workers": "auto"}).worker_count == (
        os.cpu_count() or 1)
    with pytest.raises(ValidationError, match="between 1 and 256"):
        HttpWorkload.model_validate({**base, "workers": 0})
    with pytest.raises(ValidationError, match="above max_in_flight"):
        HttpWorkload.model_validate({**base, "workers": 4, "max_in_flight": 2})


PROXIED = """
name: proxied
warmup: 1s
targets:
  link: {{proxy: {{listen: "127.0.0.1:{proxy}", upstream: "{shop}"}}}}
workloads:
  shop: {{kind: http, url: "http://127.0.0.1:{proxy}/buy", rate: 60/s, timeout: 1s,
          workers: 2}}
slos:
  - {{name: served, workload: shop, success_ratio: 95%, window: 1s}}
hypothesis:
  before: {{hold: [served], for: 2s}}
  during: {{hold: [served]}}
  after: {{hold: [served], recover_within: 4s}}
faults:
  - {{name: cut, kind: down, target: link, duration: 2s}}
revert: {{lease_grace: 2s}}
"""


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_a_proxy_down_fault_shows_in_the_merged_seconds(
        tmp_path: Path, counting_server: tuple[str, Path, list[int]]) -> None:
    address, _, _ = counting_server
    loaded = load_experiment_text(PROXIED.format(shop=address, proxy=free_ports(1)[0]),
                                  "p.yaml")
    run_dir = tmp_path / "run"
    verdict = await Runner(loaded, run_dir, MonotonicClock(), seed=5, argv=["test"]).run()

    assert verdict.status is Status.VIOLATED, verdict.reasons
    held = {c.name: c.held for c in verdict.clauses}
    assert held == {"before: served": True, "during: served": False, "after: served": True}
    events = [json.loads(line) for line in (run_dir / "journal.jsonl").read_text().splitlines()]
    injected = next(e["t"] for e in events if e["event"] == "fault_injected")
    reverted = next(e["t"] for e in events if e["event"] == "fault_reverted")
    seconds = [e for e in events if e["event"] == "second"]
    # the seconds wholly inside the fault, and those wholly before it
    inside = [e for e in seconds if injected <= e["second"] and e["second"] + 1 <= reverted]
    outside = [e for e in seconds if e["second"] + 1 <= injected]
    assert inside and all(e["ok"] == 0 and e["sent"] > 0 for e in inside)
    assert outside and all(e["ok"] == e["sent"] > 0 for e in outside)
    assert not _worker_pids()


async def _until(done: Callable[[], bool]) -> None:
    """Poll ``done`` (no bound: the test's timeout is the limit)."""
    while True:
        if done():
            return
        await asyncio.sleep(0.05)


def _marked(marker: str) -> list[int]:
    return [p.pid for p in local_host().processes_with_env(MARKER_ENV, marker)]


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
async def test_a_signalled_run_leaves_no_worker(
        tmp_path: Path, counting_server: tuple[str, Path, list[int]],
        sig: signal.Signals) -> None:
    """``faultlab run`` as a process, signalled mid-run: SIGINT stops and reaps the workers;
    after SIGKILL of the run (nobody left to reap them) they stop on their own (their input
    closed) and nothing carries the run's marker."""
    address, flag, _ = counting_server
    exp = tmp_path / "w.yaml"
    exp.write_text(EXPERIMENT.format(shop=address, flag=flag).replace("duration: 2s",
                                                                      "duration: 60s"))
    async with _faultlab_run(exp, tmp_path / "run") as (run, marker):
        workers = _marked(marker)
        run.send_signal(sig)
        await run.wait()
        await _until(lambda: all(_gone(pid) for pid in workers))  # after SIGKILL: by themselves
        assert _marked(marker) == []


@contextlib.asynccontextmanager
async def _faultlab_run(exp: Path, run_dir: Path
                        ) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    """``faultlab run exp`` as a process, once its two workers carry its marker; on the way
    out, it and anything still carrying the marker are killed."""
    run = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "faultlab", "run", str(exp), "--run-dir", str(run_dir), "-q",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    marker = ""
    try:
        while len(_marked(marker)) < 2 if marker else True:
            assert run.returncode is None, "the run ended before its workers started"
            journal = run_dir / "journal.jsonl"
            if not marker and journal.exists():
                marker = next((json.loads(line).get("marker", "") for line in
                               journal.read_text().splitlines()
                               if '"run_started"' in line), "")
            await asyncio.sleep(0.05)
        yield run, marker
    finally:
        if run.returncode is None:
            run.kill()
            await run.wait()
        for pid in _marked(marker) if marker else []:
            os.kill(pid, signal.SIGKILL)


# --- workers spawned in prepare ------------------------------------------------------------


@pytest.mark.timeout(120)
async def test_prepare_starts_the_workers_and_the_run_uses_them(
        counting_server: tuple[str, Path, list[int]]) -> None:
    address, _, received = counting_server
    clock = MonotonicClock()
    recorder = StatsRecorder(0)
    load = HttpLoad(HttpRequestSpec(url=f"http://{address}/buy"), 50, clock=clock,
                    recorder=recorder, workers=2, marker="test-marker")
    await load.prepare()
    ready = _worker_pids()
    assert len(ready) == 2 and received[0] == 0  # ready, and nothing sent before the run
    for pid in ready:
        assert b"FAULTLAB_RUN=test-marker" in _environ(pid)
    start = clock.now()
    summary = await load.run(start, start + 0.5, origin=start + 0.2)
    assert received[0] == summary.sent + summary.warmup.sent > 0
    assert all(_gone(pid) for pid in ready)  # the same processes ran the load, and are reaped
    assert not _worker_pids()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("ending", ["error", "cancel"])
async def test_workers_prepared_by_a_task_that_ends_before_the_run_are_reaped(
        counting_server: tuple[str, Path, list[int]], ending: str) -> None:
    address, _, received = counting_server
    load = HttpLoad(HttpRequestSpec(url=f"http://{address}/buy"), 50, clock=MonotonicClock(),
                    recorder=StatsRecorder(0), workers=2)
    spawned: set[int] = set()

    async def prepare_then_fail() -> None:
        await load.prepare()
        spawned.update(_worker_pids())
        if ending == "error":
            raise RuntimeError("set-up failed after the workloads were prepared")
        await asyncio.sleep(3600)  # cancelled here

    task = asyncio.create_task(prepare_then_fail())
    await _until(lambda: bool(spawned) or task.done())
    if ending == "cancel":
        task.cancel()
    with pytest.raises(RuntimeError if ending == "error" else asyncio.CancelledError):
        await task
    assert len(spawned) == 2
    await _until(lambda: all(_gone(pid) for pid in spawned))
    assert received[0] == 0
    with pytest.raises(RuntimeError, match="already stopped"):
        await load.run(0.0, 1.0)


@pytest.mark.timeout(120)
async def test_a_worker_that_cannot_start_fails_prepare(
        monkeypatch: pytest.MonkeyPatch, counting_server: tuple[str, Path, list[int]]) -> None:
    address, _, _ = counting_server
    load = HttpLoad(HttpRequestSpec(url=f"http://{address}/buy"), 50, clock=MonotonicClock(),
                    recorder=StatsRecorder(0), workers=2)
    monkeypatch.setattr(sys, "executable", "/bin/false")  # exits at once, never ready
    with pytest.raises(WorkerDied, match=r"exited with status 1 before getting ready"):
        await load.prepare()
    assert not _worker_pids()


@pytest.mark.timeout(120)
async def test_a_run_that_fails_between_prepare_and_start_leaves_no_worker(
        tmp_path: Path, counting_server: tuple[str, Path, list[int]]) -> None:
    """The http workload's workers are spawned in its prepare; the next workload's prepare
    fails (nothing listens at its store), so the run ends before any workload runs."""
    address, flag, received = counting_server
    text = EXPERIMENT.format(shop=address, flag=flag).replace(
        "slos:", f'  store: {{kind: history, client: kv-http, address: "127.0.0.1:'
                 f'{free_ports(1)[0]}", model: register}}\nslos:')
    runner = Runner(load_experiment_text(text, "w.yaml"), tmp_path / "run", MonotonicClock(),
                    seed=3, argv=["test"])
    verdict = await runner.run()

    assert verdict.status is Status.ERROR
    assert "workload 'store' could not be prepared" in " ".join(verdict.reasons)
    shop = runner.workloads["shop"]
    assert isinstance(shop, RunningHttpLoad) and shop.pool is not None
    pids = [w.proc.pid for w in shop.pool.workers]
    assert len(pids) == 2  # they were spawned
    await _until(lambda: all(_gone(pid) for pid in pids))
    assert not _worker_pids() and received[0] == 0


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_a_run_interrupted_between_prepare_and_start_leaves_no_worker(
        tmp_path: Path, counting_server: tuple[str, Path, list[int]]) -> None:
    """``faultlab run`` as a process: the http workload's workers are ready, the next
    workload's prepare waits on a store that never answers, and SIGINT arrives."""
    address, flag, received = counting_server
    exp = tmp_path / "w.yaml"
    exp.write_text(EXPERIMENT.format(shop=address, flag=flag).replace(
        "slos:", f'  store: {{kind: history, client: kv-http, address: "{address}", '
                 'model: register, timeout: 100s}\nslos:'))
    async with _faultlab_run(exp, tmp_path / "run") as (run, marker):
        workers = _marked(marker)
        run.send_signal(signal.SIGINT)
        assert await run.wait() != 0
        await _until(lambda: all(_gone(pid) for pid in workers))
        assert _marked(marker) == [] and received[0] == 0  # no request: the load never ran


async def test_the_recorder_waits_for_the_workers_while_they_start(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Seconds that pass while the workers start (run() spawning them) are not closed as
    empty ones: the recorder expects its sources from the moment the run begins."""
    gate = asyncio.Event()

    async def slow_spawn(self: WorkerPool) -> None:
        await gate.wait()
        raise RuntimeError("the workers did not start")

    monkeypatch.setattr(WorkerPool, "spawn", slow_spawn)
    recorder = StatsRecorder(0.0)
    pool = WorkerPool(WorkerPlan(HttpRequestSpec("http://127.0.0.1:1/"), 10.0, 2, 10),
                      MonotonicClock(), None)
    task = asyncio.create_task(pool.run(0.0, 0.0, recorder))
    await asyncio.sleep(0)
    assert recorder.complete_until(100.0) == []  # 99 seconds passed; no worker sent one
    gate.set()
    with pytest.raises(RuntimeError, match="did not start"):
        await task
