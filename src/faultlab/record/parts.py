"""The parts of a run record: clauses, faults, workloads, checks.

Every part is a frozen pydantic model that forbids unknown keys, so the published schema
says exactly what ``result.json`` holds. Times are seconds as floats (a fault's ``params``
keep the experiment file's units, ``"800ms"``, as written); a figure that could not be
measured is ``None`` (``null``), never NaN or infinity.

Some keys are derived from others and written for readers (a clause's ``name``, a check's
``passed``, a fault's ``target``): they are computed fields, read-only in the schema, and a
file whose derived key disagrees with what it is derived from is refused as damaged.
"""

from __future__ import annotations

import logging
import math
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    computed_field,
    model_validator,
)

__all__ = ["Anomaly", "BudgetEntry", "CheckEntry", "CheckEvidence", "CheckVerdict", "ClauseEntry",
           "ExperimentRef", "FaultEntry", "GeneratorFigures", "HistoryFigures",
           "ObservedProxy", "ObservedSecond", "Phase",
           "StuckOp", "Unit", "Violation", "WarmupFigures", "WorkloadEntry", "WorkloadTotals"]

log = logging.getLogger(__name__)

#: validation context key: drop keys a part does not know (with a warning) instead of refusing
DROP_UNKNOWN = "drop_unknown"


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


#: seconds (or a ratio) that may be unknown; NaN and infinity become None
Figure = Annotated[float | None, BeforeValidator(_finite_or_none)]


def _as_json(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, StrEnum):
        return value.value
    return value


class Part(BaseModel):
    """Base of every part: frozen, no unknown keys, no NaN, derived keys checked."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False, defer_build=True,
                              json_schema_serialization_defaults_required=True)

    @model_validator(mode="wrap")
    @classmethod
    def _derived_and_unknown(cls, data: Any, handler: ValidatorFunctionWrapHandler,
                             info: ValidationInfo) -> Any:
        if not isinstance(data, dict):
            return handler(data)
        data = dict(data)
        given = {k: data.pop(k) for k in cls.model_computed_fields if k in data}
        if info.context and info.context.get(DROP_UNKNOWN):
            unknown = sorted(k for k in data if k not in cls.model_fields)
            if unknown:
                # The writer's sources are plain dicts (a workload's figures): a key the record
                # does not know yet is left out rather than losing the whole result.json.
                log.warning("run record: %s: left out unknown keys %s", cls.__name__, unknown)
                for k in unknown:
                    del data[k]
        model = handler(data)
        for k, value in given.items():
            derived = _as_json(getattr(model, k))
            if derived != value:
                raise ValueError(f"'{k}' is {value!r} but the record's other fields make it "
                                 f"{derived!r}")
        return model


class Phase(StrEnum):
    BEFORE = "before"
    DURING = "during"
    AFTER = "after"


class Unit(StrEnum):
    SECONDS = "s"
    RATIO = "ratio"


class CheckVerdict(StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    UNKNOWN = "unknown"  # the checker ran out of budget: not proven, so not passed


class ExperimentRef(Part):
    name: str = Field(description="The experiment's name.")
    file: str = Field(description="The experiment file as given on the command line.")
    sha256: str = Field(description="SHA-256 of the experiment file's bytes (hex).")


class ClauseEntry(Part):
    """One hypothesis clause (phase x SLO), judged over every window of its phase."""

    phase: Phase = Field(description="The hypothesis phase: before, during or after.")
    slo: str = Field(description="The SLO's name.")
    workload: str | None = Field(default=None, description="The workload the SLO measures "
                                 "(null when the run had a single unnamed one).")
    objective: str = Field(description="The SLO's objective as text, e.g. 'p99 <= 300ms'.")
    held: bool = Field(description="Whether the clause held.")
    measured: Figure = Field(description="The worst window's figure (seconds for latency, a "
                             "ratio in [0, 1] for success); null when no window had data.")
    bound: float = Field(description="The SLO's bound, in the clause's unit.")
    unit: Unit = Field(description="Unit of measured and bound: 's' (seconds) or 'ratio'.")
    windows: int = Field(default=0, ge=0, description="Windows evaluated.")
    failed_windows: int = Field(default=0, ge=0, description="Windows that failed the SLO.")
    probe_errors: int = Field(default=0, ge=0, description="Windows in which the SLO's probe "
                              "could not ask at all (e.g. its Prometheus was down): nothing "
                              "was judged there. A clause with some and no failed window is "
                              "not held, yet not breached (status probe_error).")
    probe_error: str | None = Field(default=None, description="The first probe error's "
                                    "message, when there was one.")

    @property
    def result(self) -> str:
        """held, violated, or probe error (not held: its probe was blind, nothing failed)."""
        if self.held:
            return "held"
        return "probe error" if self.probe_errors and not self.failed_windows else "violated"
    worst_window: tuple[int, int] | None = Field(
        default=None, description="The worst window as [start, end) in seconds since the "
        "run's second 0; null when no window had data.")
    detail: str = Field(default="", description="Why the clause held or failed, for people.")
    recovery_time: Figure = Field(default=None, description="After-clauses: seconds from the "
                                  "last fault's revert until the SLO held again; null if it "
                                  "did not recover (or for other phases).")
    recover_within: Figure = Field(default=None, description="After-clauses: the bound on "
                                   "recovery_time in seconds (hypothesis.after.recover_within).")

    @computed_field(description="'phase: slo', e.g. 'during: served'.")  # type: ignore[prop-decorator]
    @property
    def name(self) -> str:
        return f"{self.phase.value}: {self.slo}"


class FaultEntry(Part):
    """One planned fault: what it was, when it was injected and reverted, and its recovery."""

    name: str = Field(description="The fault's name (or kind-target when it has none).")
    kind: str = Field(description="The fault kind, e.g. latency, kill, command.")
    targets: list[str] = Field(default_factory=list, description="The targets it acts on "
                               "(names under targets:); empty for a kind without one.")
    params: dict[str, JsonValue] = Field(
        default_factory=dict, description="The kind's own parameters as in the experiment "
        "file, units kept (e.g. {\"delay\": \"800ms\"}).")
    planned_start: float = Field(description="Planned start, seconds since the fault phase "
                                 "began.")
    planned_duration: float = Field(description="Planned duration in seconds (0 for an "
                                    "instantaneous fault such as kill).")
    injected_at: Figure = Field(default=None, description="Seconds since second 0 when it was "
                                "injected; null if it never was.")
    reverted_at: Figure = Field(default=None, description="Seconds since second 0 when it was "
                                "reverted; null if it was not (or could not be).")
    lease: Figure = Field(default=None, description="Its lease in seconds (duration + "
                          "lease_grace): how long the fault outlives a crashed faultlab.")
    revert_ok: bool | None = Field(default=None, description="Whether the revert succeeded; "
                                   "null when it was never injected.")
    error: str | None = Field(default=None, description="Why the inject or revert failed.")
    recovery_time: Figure = Field(default=None, description="Seconds from the revert until "
                                  "every after-SLO held again over a window; null if not "
                                  "measured or not recovered.")
    recovery_note: str = Field(default="", description="Why recovery_time is null, or a note "
                               "on how it was measured.")
    applied: str = Field(default="", description="What exactly it acted on, when its "
                         "parameters do not say it alone (e.g. the cut a partition drew from "
                         "the seed: 'n1->n2, n2->n1').")

    @computed_field(description="The targets joined with '+' (empty for none), for "  # type: ignore[prop-decorator]
                    "display.")
    @property
    def target(self) -> str:
        return "+".join(self.targets)


class BudgetEntry(Part):
    """The error budget one SLO spent in the run, as if the run's traffic were its period's."""

    slo: str = Field(description="The SLO's name.")
    workload: str | None = Field(default=None, description="The workload it measures.")
    allowed: float = Field(ge=0, le=1, description="The share of requests its objective lets "
                           "fail (1 - 99.9% = 0.001): the budget, as a ratio.")
    bad: int = Field(ge=0, description="Requests that counted against the objective (failed, "
                     "timed out, dropped; or slower than a latency bound).")
    total: int = Field(ge=0, description="Requests judged.")
    seconds: int = Field(ge=0, description="Seconds evaluated (up to an abort).")
    burn_rate: Figure = Field(default=None, description="(bad / total) / allowed: how many "
                              "times faster than sustainable the run spent the budget; null "
                              "without requests.")
    period: Figure = Field(default=None, description="The SLO's budget period in seconds "
                           "(budget.period), when it states one.")
    consumed: Figure = Field(default=None, description="The share of the period's budget the "
                             "run consumed: burn_rate x seconds / period.")
    max_spend: Figure = Field(default=None, description="The share it was allowed to "
                              "consume (budget.max_spend), when given.")


class WorkloadTotals(Part):
    """A measured workload's figures over every measured second (warm-up excluded)."""

    seconds: int = Field(ge=0, description="Seconds measured.")
    planned: int = Field(ge=0, description="Requests planned (sent + dropped).")
    sent: int = Field(ge=0, description="Requests sent.")
    ok: int = Field(ge=0, description="Requests that succeeded.")
    failed: int = Field(ge=0, description="Requests that failed (not counting timed-out ones).")
    timed_out: int = Field(ge=0, description="Requests that timed out.")
    dropped: int = Field(ge=0, description="Planned requests not sent because max_in_flight "
                         "were already in flight (counted as failures).")
    probe_errors: int = Field(default=0, ge=0, description="A probe's polls that could not "
                              "ask at all (sent, not planned: in no figure).")
    success_ratio: Figure = Field(default=None, description="ok / planned; null when nothing "
                                  "was planned.")
    p50: Figure = Field(default=None, description="Median latency in seconds, measured from "
                        "the intended send time.")
    p90: Figure = Field(default=None, description="90th percentile latency in seconds.")
    p99: Figure = Field(default=None, description="99th percentile latency in seconds.")
    max: Figure = Field(default=None, description="Largest latency in seconds.")
    ok_p50: Figure = Field(default=None, description="Median latency of successful requests "
                           "in seconds.")
    ok_p99: Figure = Field(default=None, description="99th percentile latency of successful "
                           "requests in seconds.")


class WarmupFigures(Part):
    """What the generator did during the warm-up, before second 0 (not measured)."""

    seconds: float = Field(ge=0, description="Length of the warm-up in seconds.")
    planned: int = Field(ge=0, description="Arrivals planned during the warm-up.")
    sent: int = Field(ge=0, description="Arrivals sent during the warm-up.")
    dropped: int = Field(ge=0, description="Arrivals dropped during the warm-up.")
    max_lag: float = Field(ge=0, description="Largest send lag in seconds during the warm-up.")


class GeneratorFigures(Part):
    """What the load generator did from second 0 on: whether the figures are its doing."""

    planned: int = Field(ge=0, description="Arrivals planned.")
    sent: int = Field(ge=0, description="Arrivals sent.")
    dropped: int = Field(ge=0, description="Arrivals dropped at the max_in_flight cap.")
    late: int = Field(ge=0, description="Sends more than 10 ms after their intended time.")
    max_lag: float = Field(ge=0, description="Largest actual - intended send time, seconds.")
    saturated: bool = Field(description="Whether the generator fell behind (drops, or more "
                            "than 1% of sends late): latency figures then include its lag.")
    reason: str = Field(default="", description="Why it is saturated, for people; empty "
                        "otherwise.")
    warmup: WarmupFigures | None = Field(default=None, description="The warm-up's own "
                                         "figures; null when the run had none recorded.")


class HistoryFigures(Part):
    """A recorded history's operation counts (planned = invoked + dropped)."""

    file: str = Field(description="The history's file name in the run directory.")
    origin_ns: int | None = Field(default=None, description="The clock reading of second 0 "
                                  "in the history's nanoseconds; null if unknown.")
    planned: int = Field(ge=0, description="Operations planned (warm-up included).")
    invoked: int = Field(ge=0, description="Operations invoked.")
    dropped: int = Field(ge=0, description="Operations not invoked: every client was busy.")
    retired_processes: int = Field(ge=0, description="Processes retired after an operation "
                                   "of unknown outcome.")
    final_reads: int | None = Field(default=None, description="Reads made after the load "
                                    "ended, to observe the final state; null if not counted.")
    ok: int = Field(ge=0, description="Operations that certainly happened.")
    fail: int = Field(ge=0, description="Operations that certainly did not happen.")
    info: int = Field(ge=0, description="Operations of unknown outcome (timed out, connection "
                      "lost).")


class WorkloadEntry(Part):
    """One named workload of the run."""

    kind: str = Field(description="The workload kind, e.g. http, history.")
    measured: bool = Field(description="Whether it produced per-second statistics for SLOs.")
    totals: WorkloadTotals | None = Field(default=None, description="Its figures over the "
                                          "measured seconds; null for an unmeasured workload.")
    generator: GeneratorFigures | None = Field(default=None, description="What its load "
                                               "generator did; null if not reported.")
    history: HistoryFigures | None = Field(default=None, description="Its recorded "
                                           "history's counts; null if it records none.")


class ObservedSecond(Part):
    """One run second at an observed proxy."""

    t: int = Field(description="The run second (second 0 is the start of the experiment).")
    started: int = Field(ge=0, description="Requests that reached the proxy in this second "
                         "(attempts of callers, retries included).")
    failed: int = Field(ge=0, description="Of those, the ones that got no good answer: "
                        "5xx, injected by a fault, or closed before a response.")
    in_flight: int = Field(ge=0, description="The most requests open at once at the "
                           "dependency during this second.")


class ObservedProxy(Part):
    """What reached one dependency through a proxy with ``observe: true``."""

    requests: int = Field(ge=0, description="HTTP requests recorded.")
    connections: int = Field(ge=0, description="Connections recorded.")
    dropped: int = Field(ge=0, description="Records the proxy had to drop (its buffer "
                         "was full); non-zero means the counts are incomplete.")
    outcomes: dict[str, int] = Field(description="Requests by outcome: response, injected "
                                     "(a fault answered), closed (no answer), open.")
    statuses: dict[str, int] = Field(description="Requests by HTTP status answered.")
    traced: int = Field(ge=0, description="Requests that carried a W3C traceparent (the "
                        "ones whose attempts can be grouped per client request).")
    seconds: list[ObservedSecond] = Field(description="Per run second: attempts, failures, "
                                          "most in flight.")
    file: str = Field(description="The run directory's file holding every record (times "
                      "in run seconds).")
    error: str | None = Field(default=None, description="Why the observations could not be "
                              "read in full, if so.")


class StuckOp(Part):
    op: int = Field(description="The operation's index in the history file.")
    reason: str = Field(description="Why it cannot be linearized next.")


class Violation(Part):
    """The linearizability checker's deepest dead end."""

    partition: str = Field(description="The object (key) checked, rendered; empty when the "
                           "history is one object.")
    prefix_length: int = Field(ge=0, description="Operations in the longest linearizable "
                               "prefix.")
    prefix: list[int] = Field(description="The prefix's last operations (indexes), in "
                              "linearization order.")
    states: list[str] = Field(description="The model state after each operation of prefix.")
    state: str = Field(description="The model state after the whole prefix.")
    must_complete: int | None = Field(description="The operation whose completion came "
                                      "before it could be placed.")
    stuck: list[StuckOp] = Field(description="Every operation that could have gone next, "
                                 "with why it cannot.")


class Anomaly(Part):
    kind: str = Field(description="What is wrong: lost, unexpected, duplicate, stale-read, "
                      "...")
    message: str = Field(description="The anomaly, for people.")
    ops: list[int] = Field(description="Indexes of the operations that show it (at most 200).")


class CheckEvidence(Part):
    """Operation indexes (into the history file) behind a check's verdict."""

    violation: Violation | None = Field(default=None, description="Why the history is not "
                                        "linearizable; null for other verdicts and checks.")
    anomalies: list[Anomaly] = Field(default_factory=list, description="Each anomaly found "
                                     "(at most 50).")


class CheckEntry(Part):
    """One check of a recorded history."""

    kind: str = Field(description="The checker: linearizable, set, queue, bank, ...")
    workload: str | None = Field(default=None, description="The history workload judged, "
                                 "when a run has several; null otherwise.")
    verdict: CheckVerdict = Field(description="valid, invalid, or unknown (the budget ran "
                                  "out: not proven, so not passed).")
    ops_checked: int = Field(ge=0, description="Operations the checker read.")
    summary: str = Field(description="One line for tables and JUnit messages.")
    detail: str = Field(default="", description="The checker's full explanation.")
    elapsed_s: Figure = Field(default=None, description="Seconds the check took.")
    evidence: CheckEvidence = Field(default_factory=CheckEvidence,
                                    description="The operations behind the verdict.")

    @computed_field(description="Whether the verdict is valid.")  # type: ignore[prop-decorator]
    @property
    def passed(self) -> bool:
        return self.verdict is CheckVerdict.VALID
