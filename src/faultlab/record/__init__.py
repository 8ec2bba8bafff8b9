"""The run record: ``result.json`` as one typed, versioned model.

Public API::

    RunRecord.from_verdict(verdict, loaded, run_dir, seed, argv) -> RunRecord
    RunRecord.load(path) -> RunRecord                # RecordError: one line, with a hint
    record_schema() -> dict                          # `faultlab schema --result`

Exceptions: ``RecordError`` (a ``FaultlabError``): a file that is not a readable run record.
The parts (clauses, faults, workloads, checks, budgets) are documented in
:mod:`faultlab.record.parts`.
"""

from faultlab.record.model import RECORD_VERSION, RecordError, RunRecord, record_schema
from faultlab.record.parts import (
    Anomaly,
    BudgetEntry,
    CheckEntry,
    CheckEvidence,
    CheckVerdict,
    ClauseEntry,
    ExperimentRef,
    FaultEntry,
    GeneratorFigures,
    HistoryFigures,
    ObservedProxy,
    ObservedSecond,
    Phase,
    StuckOp,
    Unit,
    Violation,
    WarmupFigures,
    WorkloadEntry,
    WorkloadTotals,
)

__all__ = ["RECORD_VERSION", "Anomaly", "BudgetEntry", "CheckEntry", "CheckEvidence",
           "CheckVerdict", "ClauseEntry", "ExperimentRef", "FaultEntry", "GeneratorFigures",
           "HistoryFigures", "ObservedProxy", "ObservedSecond", "Phase", "RecordError",
           "RunRecord", "StuckOp", "Unit", "Violation", "WarmupFigures", "WorkloadEntry",
           "WorkloadTotals", "record_schema"]
