"""Continuous SLO evaluation over per-second workload statistics.

The evaluator is pure: it is fed completed seconds (in order) and phase boundaries (as they
happen) and keeps, for every hypothesis clause, the result of every window it evaluated.
It never reads a clock, so it is tested by feeding it seconds directly. There is one
:class:`Evaluator` per measured workload, judging the SLOs that measure it; an
:class:`Evaluation` holds them all and gives each the phase boundaries. Every SLO is judged
through its kind (:mod:`faultlab.slo.kinds`), never by naming one here.

Definitions (seconds are indices since the run's origin; second ``s`` covers [s, s+1)):

- a second belongs to a span [a, b) when its midpoint s + 0.5 does;
- ``before`` and ``during`` clauses: at each second ``s`` of the clause's span, the SLO is
  evaluated over the window of the SLO's length ending at ``s``, clipped to the span; the
  clause holds when every window with data passed (and at least one had data);
- recovery after a fault: the first second ``r`` at or after the fault's revert such that
  the ``after`` SLOs all hold over the full window [r, r + w) before the next fault begins;
  recovery time = max(0, r - revert). The ``after`` clause holds when the last fault's
  recovery time is at most ``recover_within`` and every full window starting at or after
  ``r`` passes until the end of the run. With several measured workloads a fault's recovery
  is the latest of theirs;
- after an abort (:meth:`Evaluation.stop`) no second is evaluated any more: the seconds
  after it are cut short by the abort's tear-down and say nothing about the system;
- error budget: every evaluated second of an SLO whose kind counts events adds its (bad,
  total) requests; burn rate = (bad / total) / the share the objective lets fail, and the
  share of a ``budget.period``'s budget consumed = burn rate x seconds / period (as if the
  run's traffic were the period's). A ``burn_rate`` abort condition fires, once a fault has
  been injected, at the first second whose ``short`` window (wholly after the injection) and
  ``long`` window (which may reach back before it, as a production alert's does) both burn
  faster than ``above``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import msgspec

from faultlab.experiment.model import Experiment
from faultlab.run.verdict import BudgetResult
from faultlab.slo.kinds import SloKind, slo_kind
from faultlab.slo.spec import AbortCondition, BurnRate, Slo
from faultlab.units import format_duration, format_period
from faultlab.workload.stats import Aggregate, SecondStats, aggregate

__all__ = ["AbortSignal", "Evaluation", "Evaluator", "SloCheck", "Span"]

WindowOf = Callable[[int, int], list[SecondStats]]


class Span(msgspec.Struct):
    start: float
    end: float | None = None  # None: still open

    def contains(self, second: int) -> bool:
        mid = second + 0.5
        return mid >= self.start and (self.end is None or mid < self.end)


class SloCheck(msgspec.Struct, frozen=True):
    """One SLO as the evaluator judges it: through its kind (:mod:`faultlab.slo.kinds`)."""

    slo: Slo
    kind: SloKind

    @classmethod
    def of(cls, slo: Slo) -> SloCheck:
        return cls(slo, slo_kind(slo))

    @property
    def window(self) -> int:
        return max(1, math.ceil(self.slo.window))

    @property
    def bound(self) -> float:
        return self.kind.bound(self.slo.objective)

    @property
    def unit(self) -> str:
        return self.kind.unit

    @property
    def objective(self) -> str:
        return self.kind.objective(self.slo.objective)

    def measure(self, agg: Aggregate) -> float | None:
        return self.kind.measure(self.slo.objective, agg)

    def passes(self, value: float) -> bool:
        return self.kind.passes(self.slo.objective, value)

    def worse(self, a: float, b: float) -> bool:
        """Is ``a`` worse than ``b``?"""
        return self.kind.worse(a, b)


class _Tally(msgspec.Struct):
    windows: int = 0
    failed: int = 0
    worst: float | None = None
    worst_window: tuple[int, int] | None = None
    errored: int = 0  # windows of probe errors only: nothing could be judged
    error: str | None = None

    def add(self, check: SloCheck, agg: Aggregate, window: tuple[int, int]) -> bool | None:
        value = check.measure(agg)
        if value is None:
            if agg.errors:
                self.errored += 1
                self.error = self.error or agg.error
            return None
        self.windows += 1
        ok = check.passes(value)
        if not ok:
            self.failed += 1
        if self.worst is None or check.worse(value, self.worst):
            self.worst, self.worst_window = value, window
        return ok


class _Recovery(msgspec.Struct):
    fault: str
    revert: float
    until: float | None = None  # next fault's inject, if any
    recovered_at: int | None = None
    errored: int = 0  # after-windows with probe errors only
    error: str | None = None
    # window start -> the after-SLOs' figures over the full window [start, start + w)
    after_windows: dict[int, dict[str, float | None]] = msgspec.field(default_factory=dict)


class AbortSignal(msgspec.Struct, frozen=True):
    condition: AbortCondition
    measured: float
    window: tuple[int, int]
    workload: str | None = None  # the measured workload it fired on
    detail: str = ""  # the whole reason, when the condition states its own (a burn rate)

    @property
    def reason(self) -> str:
        if self.detail:
            return self.detail
        c = self.condition
        start, end = self.window
        on = f" of workload '{self.workload}'" if self.workload is not None else ""
        if c.success_ratio_below is not None:
            return (f"success ratio {self.measured:.2%} below {c.success_ratio_below:.2%} "
                    f"over seconds {start}-{end}{on}")
        assert c.p99_above is not None
        return (f"p99 {format_duration(self.measured)} above {format_duration(c.p99_above)} "
                f"over seconds {start}-{end}{on}")


class Evaluator:
    """The clauses of the SLOs that measure one workload (``workload``; None: every SLO)."""

    def __init__(self, exp: Experiment, window_of: WindowOf,
                 workload: str | None = None) -> None:
        self.exp = exp
        self.workload = workload
        self._window_of = window_of  # completed seconds [start, end) still in memory
        self.checks = {s.name: SloCheck.of(s) for s in exp.slos
                       if workload is None or exp.slo_workload(s) == workload}
        h = exp.hypothesis
        self.hold = {phase: [n for n in names if n in self.checks] for phase, names in
                     (("before", h.before.hold), ("during", h.during.hold),
                      ("after", h.after.hold))}
        self.before = Span(0.0, None)
        self.fault_spans: dict[str, Span] = {}
        self.tallies: dict[tuple[str, str], _Tally] = {
            (phase, name): _Tally() for phase, names in self.hold.items() for name in names}
        self.recoveries: dict[str, _Recovery] = {}
        self.abort_armed_at: float | None = None
        self.last_second = -1
        self.fault_seconds = 0  # seconds that fell inside some fault's span
        self.stopped = False  # the run was aborted: later seconds are not evaluated
        # SLO -> [bad, total, seconds] over every evaluated second: its error budget spent
        self.spent: dict[str, list[int]] = {n: [0, 0, 0] for n, c in self.checks.items()
                                            if c.kind.events is not None}

    # --- phase boundaries, set by the runner as they happen --------------------------------

    def end_before(self, t: float) -> None:
        self.before.end = t

    def fault_injected(self, name: str, t: float) -> None:
        self.fault_spans[name] = Span(t)
        for rec in self.recoveries.values():
            if rec.until is None and rec.revert <= t:
                rec.until = t
        if self.abort_armed_at is None:
            self.abort_armed_at = t

    def fault_reverted(self, name: str, t: float) -> None:
        span = self.fault_spans.setdefault(name, Span(t))
        span.end = t
        self.recoveries[name] = _Recovery(name, t)

    def stop(self) -> None:
        """The run was aborted: evaluate no further second (those after the abort are cut
        short by the abort itself); what was evaluated stands."""
        self.stopped = True

    # --- feeding ---------------------------------------------------------------------------

    def on_second(self, s: SecondStats) -> AbortSignal | None:
        """Evaluate every clause whose span holds this second; return an abort if one fires."""
        if self.stopped:
            return None
        self.last_second = s.index
        if self.before.contains(s.index):
            self._evaluate("before", self.before, s.index)
        inside = [span for span in self.fault_spans.values() if span.contains(s.index)]
        self.fault_seconds += bool(inside)
        for span in inside:
            self._evaluate("during", span, s.index)
        if self.spent:
            one = aggregate([s])
            for name, spent in self.spent.items():
                bad, total = self.events(name, one)
                spent[0] += bad
                spent[1] += total
                spent[2] += 1
        self._track_recovery(s.index)
        return self._abort(s.index)

    def _evaluate(self, phase: str, span: Span, second: int) -> None:
        for name in self.hold[phase]:
            check = self.checks[name]
            first = max(second - check.window + 1, math.floor(span.start))
            seconds = [x for x in self._window_of(first, second + 1) if span.contains(x.index)]
            if not seconds:
                continue
            window = (seconds[0].index, second + 1)
            self.tallies[(phase, name)].add(check, aggregate(seconds), window)

    def _track_recovery(self, second: int) -> None:
        names = self.hold["after"]
        if not names:
            return
        w = max(self.checks[n].window for n in names)
        start = second - w + 1
        for rec in self.recoveries.values():
            if start + 0.5 < rec.revert or (rec.until is not None and second + 0.5 >= rec.until):
                continue
            seconds = self._window_of(start, second + 1)
            values: dict[str, float | None] = {}
            for name in names:
                check = self.checks[name]
                part = aggregate(x for x in seconds if x.index >= start + w - check.window)
                values[name] = check.measure(part)
                if values[name] is None and part.errors:
                    rec.errored += 1
                    rec.error = rec.error or part.error
            rec.after_windows[start] = values
            if rec.recovered_at is None and self._all_pass(values):
                rec.recovered_at = start

    def events(self, slo: str, agg: Aggregate) -> tuple[int, int]:
        """(bad, total) requests of SLO ``slo`` in ``agg``."""
        check = self.checks[slo]
        assert check.kind.events is not None
        return check.kind.events(check.slo.objective, agg)

    def burn(self, slo: str, first: int, end: int) -> float | None:
        """The burn rate of ``slo``'s budget over seconds [first, end); None: no request."""
        bad, total = self.events(slo, aggregate(self._window_of(first, end)))
        return None if total == 0 else bad / total / self.checks[slo].slo.allowed_bad()

    def _burning(self, cond: AbortCondition, rate: BurnRate, second: int
                 ) -> AbortSignal | None:
        if rate.slo not in self.spent:
            return None
        short, long = max(1, math.ceil(rate.short_window)), max(1, math.ceil(rate.long))
        assert self.abort_armed_at is not None
        if second - short + 1 + 0.5 < self.abort_armed_at:
            return None
        fast = self.burn(rate.slo, second - short + 1, second + 1)
        slow = self.burn(rate.slo, second - long + 1, second + 1)
        if fast is None or slow is None or not (fast > rate.above and slow > rate.above):
            return None
        lasts = ""
        budget = self.checks[rate.slo].slo.budget
        if budget is not None:
            left = budget.period / slow
            lasts = (f"; at this rate the {format_period(budget.period)} budget lasts "
                     + (format_duration(left) if left < 3600 else f"{left / 3600:.3g} hours"
                        if left < 172800 else f"{left / 86400:.3g} days"))
        detail = (f"SLO '{rate.slo}' burns its error budget {slow:.3g}x over "
                  f"{format_duration(long)} and {fast:.3g}x over {format_duration(short)} "
                  f"(fires above {rate.above:g}x), seconds {second - long + 1}-{second + 1}"
                  f"{lasts}")
        return AbortSignal(cond, slow, (second - long + 1, second + 1), self.workload, detail)

    def _all_pass(self, values: dict[str, float | None]) -> bool:
        return all(v is not None and self.checks[n].passes(v) for n, v in values.items())

    def _abort(self, second: int) -> AbortSignal | None:
        if self.abort_armed_at is None or second + 0.5 < self.abort_armed_at:
            return None
        for cond in self.exp.abort:
            if cond.burn_rate is not None:
                signal = self._burning(cond, cond.burn_rate, second)
                if signal is not None:
                    return signal
                continue
            n = max(1, math.ceil(cond.duration))
            first = second - n + 1
            if first + 0.5 < self.abort_armed_at:
                continue
            agg = aggregate(self._window_of(first, second + 1))
            if agg.planned == 0:
                continue
            below = cond.success_ratio_below
            if below is not None and agg.success_ratio < below:
                return AbortSignal(cond, agg.success_ratio, (first, second + 1), self.workload)
            if cond.p99_above is not None:
                p99 = agg.percentile(99.0)
                if not math.isnan(p99) and p99 > cond.p99_above:
                    return AbortSignal(cond, p99, (first, second + 1), self.workload)
        return None

    # --- results ---------------------------------------------------------------------------

    def before_result(self) -> list[tuple[str, _Tally]]:
        return [(n, self.tallies[("before", n)]) for n in self.hold["before"]]

    def recovery_of(self, fault: str) -> tuple[float | None, str]:
        rec = self.recoveries.get(fault)
        if rec is None:
            return None, "not reverted"
        if not self.hold["after"]:
            return None, "no after-SLOs to measure recovery against"
        if rec.recovered_at is None:
            if self.stopped:
                return None, "the run was aborted before the SLOs held again"
            if rec.until is not None:
                return None, "the next fault began before the SLOs held again"
            return None, "the SLOs did not hold again before the run ended"
        return max(0.0, rec.recovered_at - rec.revert), ""

    def budgets(self) -> list[BudgetResult]:
        """The error budget every SLO of this workload spent over the evaluated seconds."""
        out = []
        for name, (bad, total, seconds) in self.spent.items():
            slo = self.checks[name].slo
            allowed = slo.allowed_bad()
            burn = (bad / total / allowed) if total and allowed > 0 else None
            period = slo.budget.period if slo.budget is not None else None
            consumed = (burn * seconds / period if burn is not None and period is not None
                        else None)
            cap = slo.budget.max_spend if slo.budget is not None else None
            out.append(BudgetResult(name, self.workload, allowed, bad, total, seconds, burn,
                                    period, consumed, None if cap is None else float(cap)))
        return out


class Evaluation:
    """The evaluators of every measured workload, one each, told of phase boundaries together.

    Each SLO is judged on the workload it measures (``Experiment.slo_workload``); abort
    conditions watch every measured workload. A fault's recovery is the latest of the
    workloads' recoveries (the after-SLOs hold again on every workload). After an abort
    (:meth:`stop`) no evaluator takes another second: the clauses show what was evaluated
    up to the abort, and nothing measured in the cut-short seconds after it.
    """

    def __init__(self, exp: Experiment, windows: Mapping[str, WindowOf]) -> None:
        self.exp = exp
        self.evaluators = {name: Evaluator(exp, w, name) for name, w in windows.items()}
        self.aborted: AbortSignal | None = None

    def owner(self, slo: str) -> Evaluator | None:
        """The evaluator that judges SLO ``slo``."""
        return next((ev for ev in self.evaluators.values() if slo in ev.checks), None)

    def end_before(self, t: float) -> None:
        for ev in self.evaluators.values():
            ev.end_before(t)

    def fault_injected(self, name: str, t: float) -> None:
        for ev in self.evaluators.values():
            ev.fault_injected(name, t)

    def fault_reverted(self, name: str, t: float) -> None:
        for ev in self.evaluators.values():
            ev.fault_reverted(name, t)

    def on_second(self, workload: str, s: SecondStats) -> AbortSignal | None:
        return self.evaluators[workload].on_second(s)

    def stop(self, signal: AbortSignal) -> None:
        if self.aborted is None:
            self.aborted = signal
        for ev in self.evaluators.values():
            ev.stop()

    def before_result(self) -> list[tuple[str, _Tally]]:
        out = []
        for name in self.exp.hypothesis.before.hold:
            ev = self.owner(name)
            if ev is not None:
                out.append((name, ev.tallies[("before", name)]))
        return out

    def budgets(self) -> list[BudgetResult]:
        return [b for ev in self.evaluators.values() for b in ev.budgets()]

    def recovery_of(self, fault: str) -> tuple[float | None, str]:
        judged = [ev for ev in self.evaluators.values() if ev.hold["after"]]
        if not judged:
            if any(fault in ev.recoveries for ev in self.evaluators.values()):
                return None, "no after-SLOs to measure recovery against"
            return None, "not reverted"
        times: list[float] = []
        for ev in judged:
            recovery, why = ev.recovery_of(fault)
            if recovery is None:
                several = len(judged) > 1 and why != "not reverted"
                return None, f"{why} (workload '{ev.workload}')" if several else why
            times.append(recovery)
        return max(times), ""
