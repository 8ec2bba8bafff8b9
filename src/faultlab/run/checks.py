"""Run the experiment's checks on the history its clients recorded.

A check's verdict joins the run's: an invalid history (lost writes, a stale read, a
non-linearizable order) violates the run; a check that ran out of budget is "unknown" and
also fails it, because an unproven history is not a passing one. A history that does not
fit the model is reported as an invalid check with the reason, never as a crash.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from faultlab.experiment.model import CheckSpec, HistoryWorkload

if TYPE_CHECKING:
    from faultlab.check import CheckResult
    from faultlab.history import History

__all__ = ["CheckOutcome", "default_checks", "run_checks"]

# Queues default to the linear-time checker: the linearizability search on a FIFO queue with
# crashed dequeues must keep every order of the elements in flight and often ends "unknown".
_DEFAULTS = {"register": ("linearizable",), "cas-register": ("linearizable",),
             "set": ("linearizable", "set"), "queue": ("queue",), "bank": ("bank",)}


class CheckOutcome(msgspec.Struct, frozen=True):
    kind: str
    verdict: str  # valid | invalid | unknown
    ops_checked: int
    summary: str  # one line for tables and JUnit messages
    detail: str  # the checker's full explanation (longest prefix, stuck ops, anomalies)
    elapsed_s: float
    # Operation indexes (into history.jsonl) behind the verdict, for reports: the violation's
    # longest linearizable prefix, the op that had to complete, the ops that could not be
    # placed (with why), and each anomaly's ops.
    evidence: dict[str, Any] = msgspec.field(default_factory=dict)
    workload: str | None = None  # the history workload it judged, when a run has several

    @property
    def passed(self) -> bool:
        return self.verdict == "valid"


def default_checks(model: str) -> list[CheckSpec]:
    return [CheckSpec.model_validate({"kind": k}) for k in _DEFAULTS[model]]


def _outcome(kind: str, result: CheckResult) -> CheckOutcome:
    first = result.render().splitlines()[0]
    anomalies = "; ".join(a.message for a in result.anomalies[:3])
    summary = first + (f": {anomalies}" if anomalies and result.verdict.value != "valid" else "")
    return CheckOutcome(kind, result.verdict.value, result.ops_checked, summary,
                        result.render(), result.elapsed_s, _evidence(result))


EVIDENCE_TAIL = 30  # the last operations of a prefix are what a reader needs


def _evidence(result: CheckResult) -> dict[str, Any]:
    out: dict[str, Any] = {}
    v = result.violation
    if v is not None:
        out["violation"] = {
            "partition": v.partition, "prefix_length": len(v.prefix),
            "prefix": [op.index for op in v.prefix[-EVIDENCE_TAIL:]],
            "states": list(v.states[-EVIDENCE_TAIL:]), "state": v.state,
            "must_complete": v.must_complete.index,
            "stuck": [{"op": s.op.index, "reason": s.reason} for s in v.stuck]}
    if result.anomalies:
        out["anomalies"] = [{"kind": a.kind.value, "message": a.message,
                             "ops": [op.index for op in a.ops[:200]]}
                            for a in result.anomalies[:50]]
    return out


def run_checks(history: History, spec: HistoryWorkload, checks: list[CheckSpec],
               workload: str | None = None) -> list[CheckOutcome]:
    """Every check of ``checks`` (default: the model's) on ``history``; the outcomes are
    tagged with ``workload`` (for runs with several history workloads)."""
    out = _run_checks(history, spec, checks)
    if workload is not None:
        out = [msgspec.structs.replace(c, workload=workload,
                                   summary=f"{c.summary} (workload '{workload}')") for c in out]
    return out


def _run_checks(history: History, spec: HistoryWorkload, checks: list[CheckSpec]
                ) -> list[CheckOutcome]:
    from faultlab.check import (
        Budget,
        ModelError,
        check_bank,
        check_linearizable,
        check_queue,
        check_set,
        get_model,
    )
    from faultlab.history import Outcome

    out: list[CheckOutcome] = []
    for check in checks or default_checks(spec.model):
        try:
            if check.kind == "linearizable":
                result = check_linearizable(history, get_model(spec.model),
                                            Budget(time_s=check.time_limit))
            elif check.kind == "set":
                result = check_set(history)
            elif check.kind == "queue":
                # A dequeue whose outcome is unknown may have removed an element: only a
                # history without such operations can prove an element lost.
                drained = not any(op.outcome is Outcome.INFO and op.f == "dequeue"
                                  for op in history)
                result = check_queue(history, drained=drained)
            else:
                result = check_bank(history, total=spec.accounts * spec.balance,
                                    accounts=[f"a{i}" for i in range(spec.accounts)])
        except ModelError as e:
            out.append(CheckOutcome(check.kind, "invalid", 0,
                                    f"{check.kind}: the history does not fit the model: {e}",
                                    str(e), 0.0))
            continue
        out.append(_outcome(check.kind, result))
    return out
