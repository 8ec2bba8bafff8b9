"""Turn the evaluators' tallies into one :class:`ClauseResult` per hypothesis clause.

Clauses come in the hypothesis's order (before, during, after; each phase in its ``hold``
order), each naming the workload its SLO measures. What a run reached decides what it shows:

- no fault was injected (the steady state failed): the ``before`` clauses only;
- no fault lasted over a second's midpoint (only kills): no ``during`` clause, there is no
  "during" to judge; the recovery after the kill shows what users felt;
- the run was **aborted**: every clause evaluated up to the abort, with its real outcome (a
  ``during`` clause that failed is shown failed, whether or not its fault was reverted), and
  every ``after`` clause as not held, "not evaluated": recovery was never measured;
- otherwise the ``after`` clauses judge the recovery from the last fault.
"""

from __future__ import annotations

from faultlab.experiment.model import Experiment
from faultlab.run.evaluate import Evaluation, Evaluator, SloCheck
from faultlab.run.verdict import ClauseResult
from faultlab.units import format_duration

__all__ = ["build_clauses"]


def _fmt(check: SloCheck, value: float | None) -> str:
    if value is None:
        return "no data"
    return format_duration(value) if check.unit == "s" else f"{value:.2%}"


def build_clauses(exp: Experiment, ev: Evaluation, faults_ran: bool, last_fault: str | None
                  ) -> list[ClauseResult]:
    out: list[ClauseResult] = []
    h = exp.hypothesis
    for phase, names in (("before", h.before.hold), ("during", h.during.hold)):
        for name in names:
            owner = ev.owner(name)
            if owner is None:
                continue
            if phase == "during" and (not faults_ran or owner.fault_seconds == 0):
                continue
            out.append(_tallied(phase, name, owner))
    if ev.aborted is not None and faults_ran:
        out += _not_evaluated(ev, h.after.hold)
    elif faults_ran and last_fault is not None:
        for name in h.after.hold:
            owner = ev.owner(name)
            if owner is not None:
                out.append(_after(exp, ev, owner, name, last_fault))
    return out


def _tallied(phase: str, name: str, owner: Evaluator) -> ClauseResult:
    check = owner.checks[name]
    tally = owner.tallies[(phase, name)]
    held = tally.windows > 0 and tally.failed == 0 and tally.errored == 0
    if tally.windows == 0:
        detail = "no window had data"
    else:
        detail = (f"worst {_fmt(check, tally.worst)} against {check.objective}; "
                  f"{tally.failed} of {tally.windows} windows failed")
    if tally.errored:
        detail = (f"{_blind(tally.errored, tally.error)}; " + detail)
    return ClauseResult(phase, name, check.objective, held, tally.worst, check.bound,
                        check.unit, tally.windows, tally.failed, tally.worst_window, detail,
                        workload=owner.workload, probe_errors=tally.errored,
                        probe_error=tally.error)


def _blind(windows: int, error: str | None) -> str:
    return (f"probe error: the probe could not ask in {windows} window"
            f"{'s' if windows != 1 else ''} ({error or 'no message'})")


def _not_evaluated(ev: Evaluation, names: list[str]) -> list[ClauseResult]:
    assert ev.aborted is not None
    out = []
    for name in names:
        owner = ev.owner(name)
        if owner is None:
            continue
        check = owner.checks[name]
        out.append(ClauseResult(
            "after", name, check.objective, False, None, check.bound, check.unit,
            detail=f"not evaluated: the run was aborted ({ev.aborted.reason}) before "
                   "recovery could be measured", workload=owner.workload))
    return out


def _after(exp: Experiment, ev: Evaluation, owner: Evaluator, name: str, last_fault: str
           ) -> ClauseResult:
    within = exp.hypothesis.after.recover_within
    rec = owner.recoveries.get(last_fault)
    # the fault's recovery is when every workload's after-SLOs held again
    recovery, why = ev.recovery_of(last_fault)
    check = owner.checks[name]
    windows = rec.after_windows if rec is not None else {}
    start = rec.recovered_at if rec is not None and rec.recovered_at is not None else None
    considered = [(s, v[name]) for s, v in sorted(windows.items())
                  if start is None or s >= start]
    values = [(s, v) for s, v in considered if v is not None]
    failed = [s for s, v in values if not check.passes(v)]
    worst = None
    worst_window = None
    for s, v in values:
        if worst is None or check.worse(v, worst):
            worst, worst_window = v, (s, s + check.window)
    recovered_in_time = recovery is not None and recovery <= within
    blind = rec.errored if rec is not None and recovery is None else 0
    held = recovered_in_time and not failed and bool(values)
    if blind:
        assert rec is not None
        detail = f"not judged: {_blind(blind, rec.error)}"
    elif recovery is None:
        detail = f"did not recover: {why}"
    elif not recovered_in_time:
        detail = (f"recovered after {format_duration(recovery)}, later than "
                  f"recover_within {format_duration(within)}")
    elif failed:
        detail = (f"recovered after {format_duration(recovery)} but {len(failed)} later "
                  f"windows failed (worst {_fmt(check, worst)})")
    else:
        detail = (f"recovered after {format_duration(recovery)} "
                  f"(bound {format_duration(within)}); worst later window "
                  f"{_fmt(check, worst)} against {check.objective}")
    return ClauseResult("after", name, check.objective, held, worst, check.bound, check.unit,
                        len(values), len(failed), worst_window, detail, recovery, within,
                        workload=owner.workload, probe_errors=blind,
                        probe_error=rec.error if blind and rec is not None else None)
