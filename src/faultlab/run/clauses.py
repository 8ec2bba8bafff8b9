"""Turn the evaluator's tallies into one :class:`ClauseResult` per hypothesis clause."""

from __future__ import annotations

from faultlab.experiment.model import Experiment
from faultlab.run.evaluate import Evaluator, SloCheck
from faultlab.run.verdict import ClauseResult
from faultlab.units import format_duration

__all__ = ["build_clauses"]


def _fmt(check: SloCheck, value: float | None) -> str:
    if value is None:
        return "no data"
    return format_duration(value) if check.unit == "s" else f"{value:.2%}"


def build_clauses(exp: Experiment, ev: Evaluator, faults_ran: bool, last_fault: str | None
                  ) -> list[ClauseResult]:
    out: list[ClauseResult] = []
    for phase in ("before", "during"):
        for name in ev.hold[phase]:
            check = ev.checks[name]
            tally = ev.tallies[(phase, name)]
            if phase == "during" and (not faults_ran or ev.fault_seconds == 0):
                # No fault lasted over a second's midpoint (e.g. only kills): there is no
                # "during" to judge; what users felt shows in the recovery after it.
                continue
            held = tally.windows > 0 and tally.failed == 0
            if tally.windows == 0:
                detail = "no window had data"
            else:
                detail = (f"worst {_fmt(check, tally.worst)} against {check.objective}; "
                          f"{tally.failed} of {tally.windows} windows failed")
            out.append(ClauseResult(phase, name, check.objective, held, tally.worst,
                                    check.bound, check.unit, tally.windows, tally.failed,
                                    tally.worst_window, detail))
    if faults_ran and last_fault is not None:
        out += _after(exp, ev, last_fault)
    return out


def _after(exp: Experiment, ev: Evaluator, last_fault: str) -> list[ClauseResult]:
    out: list[ClauseResult] = []
    within = exp.hypothesis.after.recover_within
    rec = ev.recoveries.get(last_fault)
    recovery, why = ev.recovery_of(last_fault)
    for name in ev.hold["after"]:
        check = ev.checks[name]
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
        held = recovered_in_time and not failed and bool(values)
        if recovery is None:
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
        out.append(ClauseResult("after", name, check.objective, held, worst, check.bound,
                                check.unit, len(values), len(failed), worst_window, detail,
                                recovery, within))
    return out
