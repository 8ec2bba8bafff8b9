"""The runner: one experiment, from start-up to verdict, with nothing left broken.

Structure (every task is owned; none outlives :meth:`Runner.run`)::

    set-up      proxy server, proxies, services (each undone by the exit stack)
    TaskGroup   workload  - open-loop load from t=0 until the run ends
                ticker    - closes completed seconds, feeds the evaluator, watches aborts
                phases    - before (steady-state gate) -> faults -> after (recovery)
    finally     revert every active fault (shielded, each with its own timeout, one failure
                never stops the others), stop services and proxy server, write the verdict

Invariants:
- a fault's undo record is journaled durably *before* the fault is applied, and the fault is
  in ``self.active`` from that moment until its revert succeeded;
- on SIGINT/SIGTERM the CLI cancels this coroutine once; the ``finally`` block then reverts
  everything in ``self.active`` before anything else is torn down;
- time comes only from ``self.clock``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import sys
import traceback
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from faultlab import __version__
from faultlab.clock import Clock
from faultlab.experiment.loader import LoadedExperiment
from faultlab.faults import Fault, FaultContext, FaultError, build_fault
from faultlab.faults.base import ProxyEndpoint
from faultlab.journal import JOURNAL_NAME, Event, Journal, Redactor
from faultlab.run.clauses import build_clauses
from faultlab.run.evaluate import AbortSignal, Evaluator
from faultlab.run.verdict import FaultRecord, Status, Verdict
from faultlab.system import ServiceError, Services
from faultlab.workload.stats import SecondStats, StatsRecorder

if TYPE_CHECKING:
    from faultlab.history import History
    from faultlab.proxy.process import ProxyServerHandle
    from faultlab.run.checks import CheckOutcome
    from faultlab.workload.history_load import HistoryLoad
    from faultlab.workload.http import HttpLoad, LoadSummary

__all__ = ["Progress", "Runner"]

TICK = 0.1  # how often completed seconds are collected and evaluated


class Progress(Protocol):
    """Where the runner reports what happens, for a live display. Must not block."""

    def phase(self, name: str, t: float) -> None: ...

    def second(self, stats: SecondStats) -> None: ...

    def event(self, text: str) -> None: ...


class _NoProgress:
    def phase(self, name: str, t: float) -> None:
        pass

    def second(self, stats: SecondStats) -> None:
        pass

    def event(self, text: str) -> None:
        pass


class _Abort(Exception):
    def __init__(self, signal: AbortSignal) -> None:
        super().__init__(signal.reason)
        self.signal = signal


@dataclass
class _Active:
    fault: Fault
    record: FaultRecord


class Runner:
    def __init__(self, loaded: LoadedExperiment, run_dir: Path, clock: Clock, *,
                 seed: int | None = None, progress: Progress | None = None,
                 argv: list[str] | None = None) -> None:
        self.loaded = loaded
        self.exp = loaded.experiment
        self.run_dir = run_dir
        self.clock = clock
        self.seed = seed if seed is not None else (
            self.exp.seed if self.exp.seed is not None else random.SystemRandom().randrange(2**32))
        self.rng = random.Random(self.seed)
        self.progress: Progress = progress or _NoProgress()
        self.argv = argv or sys.argv
        self.redactor = Redactor(loaded.secrets)
        self.origin = clock.now()
        run_dir.mkdir(parents=True, exist_ok=True)
        self.journal = Journal(run_dir / JOURNAL_NAME, clock, self.origin, self.redactor)
        self.services = Services(dict(self.exp.system.services), run_dir, self.journal, clock)
        self.records = [FaultRecord(f.label, f.kind, f.target, _params(f), f.start, f.duration)
                        for f in self.exp.faults]
        self.active: dict[str, _Active] = {}
        self.recorder: StatsRecorder | None = None
        self.evaluator: Evaluator | None = None
        self.load: HttpLoad | None = None
        self.load_summary: LoadSummary | None = None
        self.history_load: HistoryLoad | None = None
        self.history: History | None = None
        self.check_outcomes: list[CheckOutcome] = []
        self.status: Status | None = None
        self.reasons: list[str] = []
        self.interrupted = False
        self.faults_ran = False
        self.last_fault: str | None = None
        self._proxy_server: ProxyServerHandle | None = None

    # --- the run ---------------------------------------------------------------------------

    def t(self) -> float:
        return self.clock.now() - self.origin

    async def run(self) -> Verdict:
        self.journal.write(Event.RUN_STARTED, durable=True, experiment=self.exp.name,
                           file=self.loaded.source, sha256=self.loaded.sha256, seed=self.seed,
                           version=__version__, argv=self.argv, pid=_pid(),
                           spec=self.exp.model_dump(mode="json", by_alias=True))
        try:
            async with contextlib.AsyncExitStack() as stack:
                stack.push_async_callback(self._teardown)
                proxies = await self._setup_proxies()
                await self._setup_services()
                ctx = FaultContext(self.services, proxies, self.exp.revert.timeout,
                                   self.exp.revert.lease_grace, self.rng)
                faults = [build_fault(spec, self.exp.targets[spec.target], ctx)
                          for spec in self.exp.faults]
                await self._run_phases(faults)
        except* asyncio.CancelledError:
            self.interrupted = True
            self._set(Status.INTERRUPTED, f"interrupted by a signal; {self._revert_state()}")
            self.journal.write(Event.INTERRUPTED)
        except* _Abort as group:
            a = group.exceptions[0]
            assert isinstance(a, _Abort)
            self._set(Status.ABORTED, f"aborted: {a.signal.reason}; {self._revert_state()}")
            self.journal.write(Event.ABORT, reason=a.signal.reason,
                               window=list(a.signal.window), measured=a.signal.measured)
        except* (ServiceError, FaultError) as group:
            for e in _leaves(group):
                self._set(Status.ERROR, str(e))
        except* Exception as group:  # a bug: report it, but only after reverting (done)
            for e in _leaves(group):
                tb = "".join(traceback.format_exception(e)[-3:]).strip()
                self._set(Status.ERROR, f"internal error: {type(e).__name__}: {e} ({tb})")
        try:
            await self.run_checks()
        except Exception as e:  # a checker bug must not hide the run's verdict
            self._set(Status.ERROR, f"internal error in a checker: {type(e).__name__}: {e}")
        return self._verdict()

    def _revert_state(self) -> str:
        """What the tear-down (which has run by now) achieved, for the reason line."""
        if not self.active:
            return "every fault was reverted"
        return (f"FAULTS STILL ACTIVE: {', '.join(self.active)}; "
                f"run `faultlab recover {self.run_dir}`")

    def _set(self, status: Status, reason: str) -> None:
        order = [Status.HELD, Status.VIOLATED, Status.STEADY_STATE_FAILED, Status.ABORTED,
                 Status.INTERRUPTED, Status.ERROR, Status.REVERT_FAILED]
        if self.status is None or order.index(status) > order.index(self.status):
            self.status = status
        self.reasons.append(reason)

    async def _run_phases(self, faults: list[Fault]) -> None:
        # Second 0 of the experiment is now, after set-up: workload seconds, phase times and
        # journal times all count from here (set-up events have negative times).
        self.origin = self.clock.now()
        self.journal.origin = self.origin
        w = self.exp.workload
        async with asyncio.TaskGroup() as tg:
            load_task = self._start_workload(tg) if w is not None and w.http else None
            history_task = self._start_history(tg) if w is not None and w.history else None
            ticker = tg.create_task(self._ticker()) if load_task is not None else None
            await self._phases(faults, w is not None)
            # Stop planning; operations in flight finish (each bounded by its timeout).
            now = self.clock.now()
            if self.load is not None and load_task is not None:
                self.load.stop_at(now)
                await load_task
            if self.history_load is not None and history_task is not None:
                self.history_load.stop_at(now)
                await history_task
            if ticker is not None:
                ticker.cancel()

    async def _phases(self, faults: list[Fault], has_load: bool) -> None:
        exp = self.exp
        before = exp.hypothesis.before.duration if has_load else 0.0
        self._phase("before")
        await self.clock.sleep_until(self.origin + before)
        if self.evaluator is not None:
            self.evaluator.end_before(self.t())
            await self._wait_completed(math.ceil(before))
            if not self._steady_state_ok():
                return
        fault_phase_start = self.t()
        self._phase("faults")
        async with asyncio.TaskGroup() as faults_tg:
            for fault, record in zip(faults, self.records, strict=True):
                faults_tg.create_task(self._fault_lifecycle(fault, record, fault_phase_start))
        self.faults_ran = True
        reverted = [r for r in self.records if r.reverted_at is not None]
        if reverted:
            self.last_fault = max(reverted, key=lambda r: r.reverted_at or 0).name
        self._phase("after")
        if has_load:
            observe = exp.hypothesis.after.observe
            if observe is None:
                windows = [exp.slo(n).window for n in exp.hypothesis.after.hold] or [0.0]
                observe = exp.hypothesis.after.recover_within + max(windows) + 1
            await self.clock.sleep_until(self.clock.now() + observe)

    def _phase(self, name: str) -> None:
        self.progress.phase(name, self.t())
        self.journal.write(Event.PHASE, phase=name)

    async def _fault_lifecycle(self, fault: Fault, record: FaultRecord, phase_start: float
                               ) -> None:
        await self.clock.sleep_until(self.origin + phase_start + fault.spec.start)
        undo = await fault.prepare()
        record.lease = fault.lease
        self.active[fault.name] = _Active(fault, record)
        self.journal.write(Event.FAULT_INTENT, durable=True, fault=fault.name,
                           kind=fault.spec.kind, target=fault.spec.target,
                           params=record.params, lease=fault.lease, undo=undo.to_json())
        try:
            await fault.inject()
        except Exception as e:
            record.error = f"inject failed: {e}"
            self.journal.write(Event.FAULT_INJECT_FAILED, fault=fault.name, error=str(e))
            raise FaultError(f"fault '{fault.name}' could not be applied: {e}") from e
        record.injected_at = self.t()
        if self.evaluator is not None:
            self.evaluator.fault_injected(fault.name, record.injected_at)
        self.journal.write(Event.FAULT_INJECTED, fault=fault.name)
        self.progress.event(f"injected {fault.name}")
        if fault.spec.duration > 0:
            await self.clock.sleep_until(self.clock.now() + fault.spec.duration)
        await self._revert(fault.name)

    async def _revert(self, name: str) -> None:
        """Revert one active fault; never raises. Failures are journaled and reported."""
        active = self.active.get(name)
        if active is None:
            return
        fault, record = active.fault, active.record
        try:
            await asyncio.wait_for(fault.revert(), self.exp.revert.timeout)
        except Exception as e:
            record.revert_ok = False
            record.error = f"revert failed: {type(e).__name__}: {e}"
            self.journal.write(Event.REVERT_FAILED, durable=True, fault=name, error=record.error)
            self._set(Status.REVERT_FAILED, f"REVERT FAILED for fault '{name}': {e}; "
                      f"run `faultlab recover {self.run_dir}`")
            self.progress.event(f"[bold red]REVERT FAILED[/] {name}: {e}")
            return
        del self.active[name]
        record.revert_ok = True
        record.reverted_at = self.t()
        if self.evaluator is not None and record.injected_at is not None:
            self.evaluator.fault_reverted(name, record.reverted_at)
        self.journal.write(Event.FAULT_REVERTED, durable=True, fault=name)
        self.progress.event(f"reverted {name}")

    async def revert_all(self) -> None:
        """Revert everything still active, concurrently; shielded from cancellation."""
        names = list(self.active)
        if names:
            await asyncio.shield(asyncio.gather(*(self._revert(n) for n in names)))

    # --- workload and evaluation -----------------------------------------------------------

    def _start_workload(self, tg: asyncio.TaskGroup) -> asyncio.Task[None]:
        from faultlab.workload.http import HttpLoad, HttpRequestSpec

        assert self.exp.workload is not None
        w = self.exp.workload.http
        assert w is not None
        self.recorder = StatsRecorder(self.origin, on_complete=self._journal_second)
        self.evaluator = Evaluator(self.exp, self.recorder.window)
        expect = frozenset(w.expect_status) if w.expect_status else frozenset(range(200, 400))
        spec = HttpRequestSpec(url=w.url, method=w.method, headers=tuple(w.headers.items()),
                               body=w.body.encode() if w.body is not None else None,
                               timeout=w.timeout, expect_status=expect)
        self.load = HttpLoad(spec, w.rate, max_in_flight=w.max_in_flight, clock=self.clock,
                             recorder=self.recorder)

        async def drive() -> None:
            assert self.load is not None
            self.load_summary = await self.load.run(self.origin, math.inf)

        return tg.create_task(drive())

    def _start_history(self, tg: asyncio.TaskGroup) -> asyncio.Task[None]:
        from faultlab.workload.clients import make_client
        from faultlab.workload.history_load import HistoryLoad, HistorySpec

        assert self.exp.workload is not None
        h = self.exp.workload.history
        assert h is not None
        spec = HistorySpec(client=h.client, address=h.address, model=h.model,
                           processes=h.processes, keys=h.keys, rate=h.rate, timeout=h.timeout,
                           seed=self.seed, accounts=h.accounts, balance=h.balance)

        def factory() -> Any:
            return make_client(h.client, h.address, timeout=h.timeout, user=h.user,
                               database=h.database, password=h.password)

        self.history_load = HistoryLoad(spec, clock=self.clock,
                                        sink=self.run_dir / "history.jsonl",
                                        client_factory=factory)

        async def drive() -> None:
            assert self.history_load is not None
            self.history = await self.history_load.run(self.origin, math.inf)

        return tg.create_task(drive())

    async def run_checks(self) -> None:
        """Judge the recorded history (off the event loop: a search may take a while)."""
        w = self.exp.workload
        if self.history is None or w is None or w.history is None or self.interrupted:
            return
        from faultlab.run.checks import run_checks

        self.check_outcomes = await asyncio.to_thread(
            run_checks, self.history, w.history, list(self.exp.checks))
        for c in self.check_outcomes:
            self.journal.write(Event.CHECK, check=c.kind, verdict=c.verdict,
                               ops_checked=c.ops_checked, summary=c.summary, detail=c.detail,
                               elapsed_s=round(c.elapsed_s, 6), evidence=c.evidence)

    def _journal_second(self, s: SecondStats) -> None:
        h = s.histogram
        n = h.get_total_count()

        def pct(q: float) -> float | None:
            return round(h.get_value_at_percentile(q) / 1e6, 6) if n else None

        self.journal.write(Event.SECOND, second=s.index, sent=s.sent, ok=s.ok, failed=s.failed,
                           timed_out=s.timed_out, dropped=s.dropped, late=s.late,
                           max_lag=round(s.max_lag, 6), p50=pct(50), p90=pct(90), p99=pct(99),
                           max=round(h.get_max_value() / 1e6, 6) if n else None,
                           hdr=h.encode().decode() if n else None)
        self.progress.second(s)

    async def _ticker(self) -> None:
        assert self.recorder is not None and self.evaluator is not None
        while True:
            await self.clock.sleep_until(self.clock.now() + TICK)
            for s in self.recorder.complete_until(self.clock.now()):
                abort = self.evaluator.on_second(s)
                if abort is not None and self.exp.abort:
                    raise _Abort(abort)

    async def _wait_completed(self, seconds: int) -> None:
        assert self.recorder is not None
        while self.recorder.completed < seconds:
            await self.clock.sleep_until(self.clock.now() + TICK)

    def _steady_state_ok(self) -> bool:
        assert self.evaluator is not None
        failed = []
        for name, tally in self.evaluator.before_result():
            if tally.windows == 0 or tally.failed:
                failed.append(name)
        if failed:
            self._set(Status.STEADY_STATE_FAILED,
                      f"steady state not met before any fault ({', '.join(failed)}); "
                      "no fault was injected")
            return False
        return True

    # --- set-up and tear-down --------------------------------------------------------------

    async def _setup_proxies(self) -> dict[str, ProxyEndpoint]:
        endpoints: dict[str, ProxyEndpoint] = {}
        owned = {n: t.proxy for n, t in self.exp.targets.items()
                 if t.proxy is not None and t.proxy.api is None}
        for name, target in self.exp.targets.items():
            if target.proxy is not None and target.proxy.api is not None:
                assert target.proxy.name is not None
                endpoints[name] = ProxyEndpoint(target.proxy.api, target.proxy.name, False)
        if not owned:
            return endpoints
        from faultlab.proxy.client import ProxyClient
        from faultlab.proxy.process import spawn_proxy_server

        (self.run_dir / "logs").mkdir(exist_ok=True)
        self._proxy_server = await spawn_proxy_server(self.run_dir / "logs" / "proxy.log")
        self.journal.write(Event.PROXY_SERVER_STARTED, durable=True,
                           pid=self._proxy_server.pid, api=self._proxy_server.api_url,
                           started=_start_time(self._proxy_server.pid))
        client = ProxyClient(self._proxy_server.api_url)
        try:
            for name, proxy in owned.items():
                assert proxy is not None and proxy.listen and proxy.upstream
                await client.create_proxy(name, proxy.listen, proxy.upstream)
                endpoints[name] = ProxyEndpoint(self._proxy_server.api_url, name, True)
        finally:
            await client.close()
        return endpoints

    async def _setup_services(self) -> None:
        self.progress.event(f"starting {len(self.services.specs)} service(s)"
                            if self.services.specs else "no services to start")
        await self.services.start_all()

    async def _teardown(self) -> None:
        await self.revert_all()
        await _quietly(self.services.stop_all())
        if self._proxy_server is not None:
            await _quietly(self._proxy_server.stop())
            self.journal.write(Event.PROXY_SERVER_STOPPED, pid=self._proxy_server.pid)

    # --- the verdict -----------------------------------------------------------------------

    def _verdict(self) -> Verdict:
        ev = self.evaluator
        if self.recorder is not None and ev is not None:
            for s in self.recorder.complete_until(self.clock.now(), force=True):
                ev.on_second(s)
        clauses = build_clauses(self.exp, ev, self.faults_ran, self.last_fault) if ev else []
        for rec in self.records:
            if ev is not None and rec.reverted_at is not None:
                rec.recovery_time, rec.recovery_note = ev.recovery_of(rec.name)
        failed_checks = [c for c in self.check_outcomes if not c.passed]
        if self.status is None:
            failed = [c for c in clauses if not c.held]
            if failed:
                self._set(Status.VIOLATED, "hypothesis violated: " + "; ".join(
                    f"{c.name} ({c.detail})" for c in failed))
            elif not failed_checks:
                self._set(Status.HELD, "hypothesis held" if clauses or self.check_outcomes
                          else "every fault was applied and reverted")
        for c in failed_checks:
            self._set(Status.VIOLATED, f"check {c.summary}")
        generator: dict[str, Any] = {}
        if self.load_summary is not None:
            ls = self.load_summary
            generator = {"planned": ls.planned, "sent": ls.sent, "dropped": ls.dropped,
                         "late": ls.late, "max_lag": ls.max_lag, "saturated": ls.saturated,
                         "reason": ls.reason}
            if ls.saturated:
                self.reasons.append(f"warning: the load generator fell behind its schedule "
                                    f"({ls.reason}); latency figures include generator lag")
                self.journal.write(Event.GENERATOR_LAG, reason=ls.reason)
        status = self.status or Status.ERROR
        history: dict[str, object] = {}
        if self.history_load is not None:
            st = self.history_load.stats
            history = {"file": "history.jsonl", "origin_ns": round(self.origin * 1e9),
                       "planned": st.planned, "invoked": st.invoked,
                       "dropped": st.dropped, "retired_processes": st.retired}
            if self.history is not None:
                outcomes = [op.outcome.value for op in self.history]
                history.update({k: outcomes.count(k) for k in ("ok", "fail", "info")})
        verdict = Verdict(status, list(self.reasons), clauses, self.records, generator,
                          self._workload_totals(), list(self.check_outcomes), history)
        self.journal.write(Event.VERDICT, durable=True, status=status.value,
                           exit_code=int(verdict.exit_code), reasons=verdict.reasons)
        self.journal.write(Event.RUN_ENDED, durable=True)
        self.journal.close()
        return verdict

    def _workload_totals(self) -> dict[str, object]:
        if self.recorder is None:
            return {}
        from faultlab.workload.stats import aggregate

        agg = aggregate(self.recorder.window(0, self.recorder.completed))

        def clean(v: float) -> float | None:
            return None if math.isnan(v) else round(v, 6)

        return {"seconds": agg.seconds, "planned": agg.planned, "sent": agg.sent, "ok": agg.ok,
                "failed": agg.failed, "timed_out": agg.timed_out, "dropped": agg.dropped,
                "success_ratio": clean(agg.success_ratio), "p50": clean(agg.percentile(50)),
                "p90": clean(agg.percentile(90)), "p99": clean(agg.percentile(99)),
                "max": clean(agg.max_latency)}


def _params(spec: Any) -> dict[str, object]:
    """A fault's own parameters, in the units of the file (``800ms``, ``100KB/s``)."""
    from faultlab.units import format_duration

    data: dict[str, object] = spec.model_dump(mode="json", exclude_none=True)
    for k in ("name", "target", "start", "duration", "kind"):
        data.pop(k, None)
    for k in ("delay", "jitter", "after"):
        if isinstance(data.get(k), int | float):
            data[k] = format_duration(float(data[k]))  # type: ignore[arg-type]
    if isinstance(data.get("rate"), int | float):
        data["rate"] = f"{float(data['rate']) / 1000:g}KB/s"  # type: ignore[arg-type]
    return data


def _pid() -> int:
    import os

    return os.getpid()


def _start_time(pid: int) -> int | None:
    from faultlab.procutil import start_time

    return start_time(pid)


async def _quietly(aw: Awaitable[object]) -> None:
    with contextlib.suppress(Exception):
        await aw


def _leaves(group: BaseExceptionGroup[Any]) -> list[BaseException]:
    out: list[BaseException] = []
    for e in group.exceptions:
        out += _leaves(e) if isinstance(e, BaseExceptionGroup) else [e]
    return out
