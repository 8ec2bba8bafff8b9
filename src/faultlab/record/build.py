"""A run's :class:`~faultlab.record.RunRecord` from its :class:`~faultlab.run.verdict.Verdict`.

Clauses, faults and checks are typed dataclasses and are mapped field by field. Workload
figures and check evidence reach the verdict as plain dicts (their producers are plug-ins);
they are validated into the record's parts, and a key the record does not know is left out
with a warning (``drop_unknown``) rather than losing the run's result. Tests build records
with ``drop_unknown=False`` so that a new figure nobody added to the record fails them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from faultlab import __version__
from faultlab.record.model import RECORD_VERSION, RunRecord
from faultlab.record.parts import (
    DROP_UNKNOWN,
    CheckEntry,
    CheckVerdict,
    ClauseEntry,
    ExperimentRef,
    FaultEntry,
    Phase,
    Unit,
)

if TYPE_CHECKING:
    from faultlab.experiment.loader import LoadedExperiment
    from faultlab.run.checks import CheckOutcome
    from faultlab.run.verdict import ClauseResult, FaultRecord, Verdict

__all__ = ["check_entry", "clause_entry", "fault_entry", "record_from_verdict"]


def clause_entry(c: ClauseResult) -> ClauseEntry:
    return ClauseEntry(phase=Phase(c.phase), slo=c.slo, workload=c.workload,
                       objective=c.objective, held=c.held, measured=c.measured, bound=c.bound,
                       unit=Unit(c.unit), windows=c.windows, failed_windows=c.failed_windows,
                       worst_window=c.worst_window, detail=c.detail,
                       recovery_time=c.recovery_time, recover_within=c.recover_within,
                       probe_errors=c.probe_errors, probe_error=c.probe_error)


def fault_entry(f: FaultRecord) -> FaultEntry:
    # the runner joins a fault's targets with "+", which no target name may contain
    return FaultEntry(name=f.name, kind=f.kind, targets=[t for t in f.target.split("+") if t],
                      params=f.params,  # JSON values by contract (the file's, units kept)
                      planned_start=f.planned_start, planned_duration=f.planned_duration,
                      injected_at=f.injected_at, reverted_at=f.reverted_at, lease=f.lease,
                      revert_ok=f.revert_ok, error=f.error, recovery_time=f.recovery_time,
                      recovery_note=f.recovery_note, applied=f.applied)


def check_entry(c: CheckOutcome, context: dict[str, Any] | None = None) -> CheckEntry:
    return CheckEntry.model_validate(
        {"kind": c.kind, "workload": c.workload, "verdict": CheckVerdict(c.verdict),
         "ops_checked": c.ops_checked, "summary": c.summary, "detail": c.detail,
         "elapsed_s": c.elapsed_s, "evidence": c.evidence},
        context=context if context is not None else {DROP_UNKNOWN: True})


def _workloads(verdict: Verdict, loaded: LoadedExperiment) -> dict[str, Any]:
    if verdict.workloads:
        return {name: dict(entry) for name, entry in verdict.workloads.items()}
    if not (verdict.workload or verdict.generator or verdict.history):
        return {}
    # A verdict of the single-workload shape: name it after the experiment's workload.
    specs = loaded.experiment.all_workloads()
    measured = [n for n, s in specs.items() if s.measured]
    name = next(iter(measured or specs), "workload")
    kind = specs[name].kind if name in specs else "http"
    return {name: {"kind": kind, "measured": bool(verdict.workload),
                   "totals": verdict.workload or None, "generator": verdict.generator or None,
                   "history": verdict.history or None}}


def record_from_verdict(verdict: Verdict, loaded: LoadedExperiment, run_dir: Path, seed: int,
                        argv: list[str], *, drop_unknown: bool = True) -> RunRecord:
    context = {DROP_UNKNOWN: drop_unknown}
    return RunRecord.model_validate(
        {"record_version": RECORD_VERSION, "faultlab_version": __version__,
         "experiment": ExperimentRef(name=loaded.experiment.name, file=loaded.source,
                                     sha256=loaded.sha256),
         "run_dir": str(run_dir), "seed": seed, "command": list(argv),
         "status": verdict.status, "exit_code": int(verdict.exit_code),
         "reasons": list(verdict.reasons),
         "clauses": [clause_entry(c) for c in verdict.clauses],
         "faults": [fault_entry(f) for f in verdict.faults],
         "workloads": _workloads(verdict, loaded),
         "checks": [check_entry(c, context) for c in verdict.checks],
         "observations": dict(verdict.observations),
         "budgets": [msgspec.structs.asdict(b) for b in verdict.budgets]},
        context=context)
