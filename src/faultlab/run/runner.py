"""The runner: one experiment, from start-up to verdict, with nothing left broken.

Structure (every task is owned; none outlives :meth:`Runner.run`)::

    main task   set-up      proxy server, proxies, services (intent journaled before spawn)
                TaskGroup   workload  - open-loop load from t=0 until the run ends
                            ticker    - closes completed seconds, feeds the evaluator
                            phases    - before (steady-state gate) -> faults -> after
    tear-down   revert every active fault (shielded, each with its own timeout, one failure
                never stops the others), stop services and proxy server; then measure what
                is left, and say so in the verdict

Invariants:
- a fault's undo record is journaled durably *before* the fault is applied, and the fault is
  in ``self.active`` from that moment until its revert succeeded;
- :meth:`interrupt` (SIGINT/SIGTERM, or the caller's cancellation) cancels only the main
  task; tear-down always runs to its end whatever arrives meanwhile: a further signal only
  shortens its waits (service stop timeouts), it never skips a step;
- every sleep, timeout and deadline comes from ``self.clock`` (tests run in virtual time).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import random
import secrets
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from faultlab import __version__
from faultlab.clock import Clock
from faultlab.experiment.loader import LoadedExperiment
from faultlab.faketime import clocked_services
from faultlab.faults import Fault, FaultContext, FaultError, build_fault
from faultlab.faults.base import NotApplied, ProxyEndpoint
from faultlab.journal import JOURNAL_NAME, Event, Journal, Redactor
from faultlab.run.clauses import build_clauses
from faultlab.run.evaluate import AbortSignal, Evaluation
from faultlab.run.labs import RunLab
from faultlab.run.plan import PlannedFault, plan_faults
from faultlab.run.rerun import escape_spec
from faultlab.run.setup import bind_targets, build_hosts, setup_proxies
from faultlab.run.verdict import FaultRecord, Status, Verdict
from faultlab.run.workloads import second_fields, workload_entries
from faultlab.system import ServiceError, Services
from faultlab.workload.base import HistoryRecording, Workload, WorkloadContext, WorkloadError
from faultlab.workload.clients import ClientError
from faultlab.workload.spec import WORKLOAD_KINDS
from faultlab.workload.stats import SecondStats, StatsRecorder

if TYPE_CHECKING:
    from faultlab.proxy.process import ProxyServerHandle
    from faultlab.run.checks import CheckOutcome
    from faultlab.run.metrics import RunMetrics

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


class _Active(msgspec.Struct):
    fault: Fault[Any]
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
        self.argv = argv if argv is not None else list(sys.argv)
        self.redactor = Redactor(loaded.secrets)
        self.origin = clock.now()
        self.marker = secrets.token_hex(8)  # in the environment of every process we start
        run_dir.mkdir(parents=True, exist_ok=True)
        self.journal = Journal(run_dir / JOURNAL_NAME, clock, self.origin, self.redactor)
        self.services = Services(dict(self.exp.system.services), run_dir, self.journal, clock,
                                 self.redactor, self.marker,
                                 faketime=clocked_services(self.exp))
        self.lab = RunLab(self.exp.system.lab, self.journal, self.marker)
        self.plan: list[PlannedFault] = plan_faults(self.exp, self.rng)
        self.records = [FaultRecord(p.label, p.spec.kind, "+".join(p.spec.target_names),
                                    p.spec.params(), p.start, p.duration) for p in self.plan]
        self.active: dict[str, _Active] = {}
        self.workloads: dict[str, Workload] = {}  # every workload of the experiment, by name
        self.recorders: dict[str, StatsRecorder] = {}  # one per measured workload
        self.evaluator: Evaluation | None = None  # one evaluator per measured workload
        self.check_outcomes: list[CheckOutcome] = []
        self.status: Status | None = None
        self.reasons: list[str] = []
        self.interrupted = False
        self.signals = 0
        self.faults_ran = False
        self.last_fault: str | None = None
        self.left_running: list[str] = []
        self._proxy_server: ProxyServerHandle | None = None
        self._proxies: dict[str, ProxyEndpoint] = {}  # every proxy target's endpoint
        self.observations: dict[str, dict[str, Any]] = {}  # run/observations.py
        self.metrics: RunMetrics | None = None  # run/metrics.py, served while the run lasts
        self._main: asyncio.Task[None] | None = None

    # --- the run ---------------------------------------------------------------------------

    def t(self) -> float:
        return self.clock.now() - self.origin

    def interrupt(self) -> None:
        """Stop the run (SIGINT/SIGTERM): the main task is cancelled, tear-down still runs
        to its end. A second call only makes tear-down hurry (shorter stop timeouts)."""
        self.signals += 1
        if self._main is None or not self._main.done():
            # A signal after the experiment itself ended does not change its verdict.
            self.interrupted = True
        if self._main is not None and not self._main.done():
            self._main.cancel()

    async def _wait(self, task: asyncio.Task[Any]) -> BaseException | None:
        """Await ``task`` to its end whatever cancels us meanwhile (that counts as an
        interrupt); returns its exception, if any."""
        while not task.done():
            try:
                await asyncio.shield(task)
            except BaseException:
                current = asyncio.current_task()
                if not task.done() and current is not None and current.cancelling():
                    current.uncancel()
                    self.interrupt()
        if task.cancelled():
            return asyncio.CancelledError()
        return task.exception()

    def active_faults(self) -> list[tuple[str, str, str]]:
        """The faults in force now: (name, kind, target)."""
        return [(name, a.record.kind, a.record.target) for name, a in self.active.items()]

    async def run(self) -> Verdict:
        self.journal.write(Event.RUN_STARTED, durable=True, experiment=self.exp.name,
                           file=self.loaded.source, sha256=self.loaded.sha256, seed=self.seed,
                           version=__version__, argv=self.argv, pid=_pid(), started=_started(),
                           marker=self.marker,
                           spec=escape_spec(self.exp.model_dump(mode="json", by_alias=True)))
        self._main = asyncio.create_task(self._body())
        error = await self._wait(self._main)
        await self._wait(asyncio.create_task(self._teardown()))
        self._classify(error)
        if not self.interrupted:
            try:
                await self.run_checks()
            except Exception as e:  # a checker bug must not hide the run's verdict
                self._set(Status.ERROR, f"internal error in a checker: {type(e).__name__}: {e}")
        verdict = self._verdict()
        # The run's trace, from its closed journal (nothing unless OTEL_* is set; bounded).
        from faultlab.telemetry import export_run

        await self._wait(asyncio.create_task(export_run(self.journal.path, verdict.clauses)))
        return verdict

    async def _body(self) -> None:
        def owned(server: ProxyServerHandle) -> None:
            self._proxy_server = server

        await self.lab.up()
        hosts = build_hosts(self.exp)
        self.services.hosts = hosts
        targets = bind_targets(self.exp, hosts)
        proxies = await setup_proxies(self.exp, self.run_dir, self.journal, self.marker,
                                         owned)
        self._proxies = proxies
        await self._setup_services()
        ctx = FaultContext(targets, self.services, proxies, self.exp.revert.timeout,
                           self.exp.revert.lease_grace, self.rng)
        faults = [build_fault(p.spec, ctx) for p in self.plan]
        await self._run_phases(faults)

    def _classify(self, error: BaseException | None) -> None:
        """The status and reasons from how the main task ended (tear-down is done)."""
        leaves = _leaves(error) if isinstance(error, BaseExceptionGroup) else (
            [error] if error is not None else [])
        state = self._revert_state()
        if self.interrupted or any(isinstance(e, asyncio.CancelledError) for e in leaves):
            self.interrupted = True
            self._set(Status.INTERRUPTED, f"interrupted by a signal; {state}")
            self.journal.write(Event.INTERRUPTED)
            return
        for e in leaves:
            if isinstance(e, _Abort):
                self._set(Status.ABORTED, f"aborted: {e.signal.reason}; {state}")
                self.journal.write(Event.ABORT, reason=e.signal.reason,
                                   window=list(e.signal.window), measured=e.signal.measured)
            elif _said_for_people(e):
                self._set(Status.ERROR, f"{e}; {state}")
            else:  # a bug: report it (after reverting, which is done)
                tb = "".join(traceback.format_exception(e)[-3:]).strip()
                self._set(Status.ERROR, f"internal error: {type(e).__name__}: {e} ({tb})")

    def _revert_state(self) -> str:
        """What tear-down achieved, as measured after it, for the reason line."""
        parts = []
        if self.active:
            parts.append(f"FAULTS STILL ACTIVE: {', '.join(self.active)}; "
                         f"run `faultlab recover {self.run_dir}`")
        else:
            parts.append("every fault was reverted")
        if self.left_running:
            parts.append(f"STILL RUNNING: {', '.join(self.left_running)}; "
                         f"run `faultlab recover {self.run_dir}`")
        elif self.services.running or self._proxy_server is not None:
            parts.append("services and proxy server stopped")
        return "; ".join(parts)

    def _set(self, status: Status, reason: str) -> None:
        order = [Status.HELD, Status.VIOLATED, Status.STEADY_STATE_FAILED,
                 Status.PROBE_ERROR, Status.ABORTED,
                 Status.INTERRUPTED, Status.ERROR, Status.REVERT_FAILED]
        if self.status is None or order.index(status) > order.index(self.status):
            self.status = status
        self.reasons.append(reason)

    async def _run_phases(self, faults: list[Fault[Any]]) -> None:
        # Second 0 of the experiment is after set-up and the workloads' warm-up: workload
        # seconds, phase times and journal times all count from it (set-up events and the
        # warm-up have negative times).
        start = await self._prepare_workloads()
        async with asyncio.TaskGroup() as tg:
            tasks = self._start_workloads(tg, start)
            ticker = tg.create_task(self._ticker()) if self.recorders else None
            await self._warm_up()
            await self._phases(faults, bool(self.workloads))
            # Stop planning; operations in flight finish (each bounded by its timeout).
            await self._stop_workloads(tasks)
            if ticker is not None:
                ticker.cancel()

    async def _phases(self, faults: list[Fault[Any]], has_load: bool) -> None:
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
        self.journal.write(Event.PLAN, faults=[
            {"fault": p.label, "kind": p.spec.kind, "targets": p.spec.target_names,
             "start": p.start, "duration": p.duration} for p in self.plan])
        async with asyncio.TaskGroup() as faults_tg:
            for fault, planned, record in zip(faults, self.plan, self.records, strict=True):
                faults_tg.create_task(self._fault_lifecycle(fault, planned, record,
                                                            fault_phase_start))
        reverted = [r for r in self.records if r.reverted_at is not None]
        if reverted:
            self.last_fault = max(reverted, key=lambda r: r.reverted_at or 0).name
        self._phase("after")
        observe = exp.hypothesis.after.observe  # given: observed with or without load
        if observe is None and has_load:
            windows = [exp.slo(n).window for n in exp.hypothesis.after.hold] or [0.0]
            observe = exp.hypothesis.after.recover_within + max(windows) + 1
        if observe:
            await self.clock.sleep_until(self.clock.now() + observe)

    def _phase(self, name: str) -> None:
        if self.metrics is not None:
            self.metrics.phase = name
        self.progress.phase(name, self.t())
        self.journal.write(Event.PHASE, phase=name)

    async def _fault_lifecycle(self, fault: Fault[Any], planned: PlannedFault,
                               record: FaultRecord, phase_start: float) -> None:
        name = planned.label
        await self.clock.sleep_until(self.origin + phase_start + planned.start)
        undo = await fault.prepare()
        record.lease = planned.duration + self.exp.revert.lease_grace
        record.applied = fault.applied()
        self.active[name] = _Active(fault, record)
        self.journal.write(Event.FAULT_INTENT, durable=True, fault=name,
                           kind=fault.spec.kind, targets=fault.spec.target_names,
                           hosts=[t.host.ref() for t in fault.targets],
                           params=record.params, lease=record.lease, undo=undo.to_json(),
                           applied=record.applied)
        try:
            await fault.inject()
        except Exception as e:
            record.error = f"inject failed: {e}"
            self.journal.write(Event.FAULT_INJECT_FAILED, fault=name, error=str(e))
            if isinstance(e, NotApplied):
                del self.active[name]  # nothing to revert, now or in a recovery
                self.journal.write(Event.FAULT_CLOSED, durable=True, fault=name,
                                   reason="the inject certainly changed nothing")
            raise FaultError(f"fault '{name}' could not be applied: {e}") from e
        record.injected_at = self.t()
        self.faults_ran = True
        if self.evaluator is not None:
            self.evaluator.fault_injected(name, record.injected_at)
        self.journal.write(Event.FAULT_INJECTED, fault=name)
        self.progress.event(f"injected {name}")
        if planned.duration > 0 and not fault.spec.one_off:
            await self.clock.sleep_until(self.clock.now() + planned.duration)
        await self._revert(name)

    async def _revert(self, name: str) -> None:
        """Revert one active fault; never raises. Failures are journaled and reported."""
        active = self.active.get(name)
        if active is None:
            return
        fault, record = active.fault, active.record
        try:
            await asyncio.wait_for(fault.revert(), self.exp.revert.timeout)
        except Exception as e:
            cause = str(e) or type(e).__name__
            record.revert_ok = False
            record.error = f"revert failed: {cause}"
            self.journal.write(Event.REVERT_FAILED, durable=True, fault=name, error=cause)
            self._set(Status.REVERT_FAILED, f"REVERT FAILED for fault '{name}': {cause}; "
                      f"run `faultlab recover {self.run_dir}`")
            self.progress.event(f"[bold red]REVERT FAILED[/] {name}: {cause}")
            return
        finally:
            with contextlib.suppress(Exception):
                await fault.close()
        del self.active[name]
        record.revert_ok = True
        record.reverted_at = self.t()
        if self.evaluator is not None and record.injected_at is not None:
            self.evaluator.fault_reverted(name, record.reverted_at)
        self.journal.write(Event.FAULT_REVERTED, durable=True, fault=name)
        self.progress.event(f"reverted {name}")

    async def revert_all(self) -> None:
        """Revert everything still active, concurrently; every revert runs to its end."""
        names = list(self.active)
        if names:
            await asyncio.gather(*(self._revert(n) for n in names), return_exceptions=True)

    # --- workload and evaluation -----------------------------------------------------------

    async def _prepare_workloads(self) -> float:
        """Build every workload through its kind (imports happen here) and prepare it
        (connections, tables), all before any measured time; then fix second 0 one warm-up
        after now. Returns the clock time the warm-up starts."""
        for name, spec in self.exp.all_workloads().items():
            ctx = WorkloadContext(self.clock, self.run_dir, self.seed,
                                  random.Random(f"{self.seed}/{name}"), self.redactor)
            try:
                workload = WORKLOAD_KINDS[spec.kind].build(name, spec, ctx)
                self.workloads[name] = workload
                await workload.prepare()
            except (OSError, ValueError, ClientError) as e:
                raise WorkloadError(f"workload '{name}' could not be prepared: {e}") from e
        start = self.clock.now()
        self.origin = start + (self.exp.warmup if self.workloads else 0.0)
        self.journal.origin = self.origin
        self.recorders = {
            name: StatsRecorder(self.origin, on_complete=functools.partial(
                self._journal_second, name))
            for name, w in self.workloads.items() if w.measured}
        if self.recorders:
            self.evaluator = Evaluation(self.exp, {n: r.window for n, r in
                                                   self.recorders.items()})
        return start

    def _start_workloads(self, tg: asyncio.TaskGroup, start: float
                         ) -> list[asyncio.Task[None]]:
        return [tg.create_task(w.run(start, self.origin, self.recorders.get(name)))
                for name, w in self.workloads.items()]

    async def _warm_up(self) -> None:
        """Let the workloads drive load until second 0; journal what the warm-up took."""
        if not self.workloads or self.exp.warmup <= 0:
            return
        await self.clock.sleep_until(self.origin)
        parts = []
        for name, w in self.workloads.items():
            wu = w.summary().load.warmup
            parts.append(f"{name}: {wu.sent} sent, {wu.dropped} dropped, "
                         f"max lag {wu.max_lag * 1e3:.0f} ms")
        self.journal.write(Event.NOTE, note=f"warm-up of {self.exp.warmup:g}s before second 0, "
                           f"not measured ({'; '.join(parts)})")

    async def _stop_workloads(self, tasks: list[asyncio.Task[None]]) -> None:
        now = self.clock.now()
        for w in self.workloads.values():
            w.stop_at(now)
        for task in tasks:
            await task

    async def run_checks(self) -> None:
        """Judge each recorded history (off the event loop: a search may take a while)."""
        if self.interrupted:
            return
        recorded = [(n, w) for n, w in self.workloads.items()
                    if isinstance(w, HistoryRecording) and w.history is not None]
        from faultlab.run.checks import run_checks

        for name, w in recorded:
            assert w.history is not None
            outcomes = await asyncio.to_thread(
                run_checks, w.history, w.history_spec, list(self.exp.checks),
                name if len(recorded) > 1 else None)
            self.check_outcomes += outcomes
            for c in outcomes:
                self.journal.write(Event.CHECK, check=c.kind, verdict=c.verdict,
                                   ops_checked=c.ops_checked, summary=c.summary,
                                   detail=c.detail, elapsed_s=round(c.elapsed_s, 6),
                                   evidence=c.evidence, workload=name)

    def _journal_second(self, workload: str, s: SecondStats) -> None:
        self.journal.write(Event.SECOND, workload=workload, **second_fields(s))
        self.progress.second(s)
        if self.metrics is not None:
            self.metrics.on_second(workload, s)

    async def _ticker(self) -> None:
        """Close completed seconds of every measured workload and evaluate them. An abort
        stops the evaluation after this tick's seconds (the ones after the abort on its own
        workload excepted): the clauses keep what was judged up to it."""
        ev = self.evaluator
        assert ev is not None
        while True:
            await self.clock.sleep_until(self.clock.now() + TICK)
            now = self.clock.now()
            abort: AbortSignal | None = None
            for name, recorder in self.recorders.items():
                for s in recorder.complete_until(now):
                    if abort is not None and abort.workload == name:
                        continue
                    signal = ev.on_second(name, s)
                    if abort is None and signal is not None and self.exp.abort:
                        abort = signal
            if abort is not None:
                ev.stop(abort)
                raise _Abort(abort)

    async def _wait_completed(self, seconds: int) -> None:
        while any(r.completed < seconds for r in self.recorders.values()):
            await self.clock.sleep_until(self.clock.now() + TICK)

    def _steady_state_ok(self) -> bool:
        assert self.evaluator is not None
        failed, blind = [], []
        for name, tally in self.evaluator.before_result():
            if tally.failed or (tally.windows == 0 and not tally.errored):
                failed.append(name)
            elif tally.errored:
                blind.append(f"{name}: {tally.error or 'no message'}")
        if failed:
            self._set(Status.STEADY_STATE_FAILED,
                      f"steady state not met before any fault ({', '.join(failed)}); "
                      "no fault was injected")
            return False
        if blind:
            self._set(Status.PROBE_ERROR,
                      f"probe error: the steady state could not be measured "
                      f"({'; '.join(blind)}); no fault was injected")
            return False
        return True

    # --- set-up and tear-down --------------------------------------------------------------

    async def _setup_services(self) -> None:
        self.progress.event(f"starting {len(self.services.specs)} service(s)"
                            if self.services.specs else "no services to start")
        await self.services.start_all()

    async def _teardown(self) -> None:
        """Revert, then stop services, then the proxy server; then measure what is left.
        Runs inside :meth:`_wait`, so nothing cancels it; each step bounds its own waits."""
        self.journal.write(Event.TEARDOWN_STARTED, active=list(self.active))
        await self.revert_all()
        hurry = self.signals > 1
        left = await self.services.stop_all(hurry=hurry)
        server = self._proxy_server
        observed = [n for n, t in self.exp.targets.items()
                    if t.proxy is not None and t.proxy.observe]
        if server is not None and observed and not hurry:
            # after the services (no request is left open), before the server stops
            from faultlab.run.observations import collect

            self.observations = await collect(self._proxies, observed, self.run_dir,
                                              self.origin)
        if server is not None:
            with contextlib.suppress(Exception):
                await server.stop(timeout=1.0 if hurry else 5.0)
            self.journal.write(Event.PROXY_SERVER_STOPPED, pid=server.pid)
            from faultlab.hosts import ProcessId, local_host

            ident = local_host().identify(server.pid)
            if ident is not None and server.returncode is None:
                left.append(f"proxy server (pid {ProcessId(server.pid, ident.started).pid})")
        left += await self.lab.down()
        self.left_running = left
        self.journal.write(Event.TEARDOWN, durable=True, active=list(self.active),
                           still_running=left, signals=self.signals)

    # --- the verdict -----------------------------------------------------------------------

    def _verdict(self) -> Verdict:
        ev = self.evaluator
        if ev is not None:
            now = self.clock.now()
            for name, recorder in self.recorders.items():
                for s in recorder.complete_until(now, force=True):
                    ev.on_second(name, s)
        clauses = build_clauses(self.exp, ev, self.faults_ran, self.last_fault) if ev else []
        for rec in self.records:
            if ev is not None and rec.reverted_at is not None:
                rec.recovery_time, rec.recovery_note = ev.recovery_of(rec.name)
        failed_checks = [c for c in self.check_outcomes if not c.passed]
        budgets = ev.budgets() if ev is not None else []
        # a budget judges only a run that measured to its end (or was aborted by the breach)
        overspent = [b for b in budgets if b.exceeded] if self.status in (
            None, Status.ABORTED) else []
        if self.status is None:
            failed = [c for c in clauses if c.breached]
            blind = [c for c in clauses if not c.held and not c.breached]
            if failed:
                self._set(Status.VIOLATED, "hypothesis violated: " + "; ".join(
                    f"{c.name} ({c.detail})" for c in failed))
            elif blind:
                self._set(Status.PROBE_ERROR, "probe error: not judged, not breached: "
                          + "; ".join(f"{c.name} ({c.detail})" for c in blind))
            elif not failed_checks and not overspent:
                self._set(Status.HELD, "hypothesis held" if clauses or self.check_outcomes
                          else "every fault was applied and reverted")
        for c in failed_checks:
            self._set(Status.VIOLATED, f"check {c.summary}")
        for b in overspent:
            assert b.consumed is not None and b.max_spend is not None
            self._set(Status.VIOLATED, f"SLO '{b.slo}' consumed {b.consumed:.3%} of its error "
                      f"budget, more than its max_spend {b.max_spend:.3%}")
        workloads = self._workload_totals()
        for name, w in self.workloads.items():
            ls = w.summary().load
            if w.measured and ls.saturated:
                self.reasons.append(f"warning: the load generator of workload '{name}' fell "
                                    f"behind its schedule ({ls.reason}); latency figures "
                                    "include generator lag")
                self.journal.write(Event.GENERATOR_LAG, workload=name, reason=ls.reason)
        # the record before several workloads: the measured one's figures, the history's
        measured = [n for n, w in self.workloads.items() if w.measured]
        histories = [n for n, w in workloads.items() if w.get("history")]
        primary: dict[str, Any] = workloads[measured[0]] if measured else {}
        history: dict[str, Any] = workloads[histories[0]]["history"] if histories else {}
        status = self.status or Status.ERROR
        verdict = Verdict(status, list(self.reasons), clauses, self.records,
                          dict(primary.get("generator") or {}), dict(primary.get("totals") or {}),
                          list(self.check_outcomes), dict(history), workloads,
                          dict(self.observations), budgets)
        self.journal.write(Event.VERDICT, durable=True, status=status.value,
                           exit_code=int(verdict.exit_code), reasons=verdict.reasons)
        self.journal.write(Event.RUN_ENDED, durable=True)
        self.journal.close()
        return verdict

    def _workload_totals(self) -> dict[str, dict[str, Any]]:
        return workload_entries(self.workloads, self.recorders, self.exp.warmup, self.origin)


def _pid() -> int:
    import os

    return os.getpid()


def _started() -> int | None:
    """This process's start time: recover refuses to act while the run itself still runs."""
    from faultlab.hosts import local_host

    ident = local_host().identify(_pid())
    return ident.started if ident is not None else None


def _said_for_people(e: BaseException) -> bool:
    """Whether ``e`` is a failure whose message is for people (not a bug of faultlab)."""
    from faultlab.lab.control import LabError  # here: a run without a lab never loads it

    return isinstance(e, ServiceError | FaultError | LabError)


def _leaves(group: BaseExceptionGroup[Any]) -> list[BaseException]:
    out: list[BaseException] = []
    for e in group.exceptions:
        out += _leaves(e) if isinstance(e, BaseExceptionGroup) else [e]
    return out
