"""What a run concluded, and the exit codes that carry it to CI.

Exit codes (documented in the README):

    0  the hypothesis held
    1  the hypothesis was violated (including: steady state not met, so no fault was injected)
    2  invalid input (the experiment file, a --var, a run directory)
    3  aborted (an abort condition fired) or interrupted (SIGINT / SIGTERM)
    4  a revert failed, set-up failed, a probe could not be asked (so an SLO could not be
       judged: a probe error, never a breach), or an internal error
"""

from __future__ import annotations

from enum import IntEnum, StrEnum

import msgspec

from faultlab.run.checks import CheckOutcome

__all__ = ["BudgetResult", "ClauseResult", "ExitCode", "FaultRecord", "Status", "Verdict"]


class ExitCode(IntEnum):
    HELD = 0
    VIOLATED = 1
    INVALID_INPUT = 2
    ABORTED = 3
    ERROR = 4


class Status(StrEnum):
    HELD = "held"
    VIOLATED = "violated"
    STEADY_STATE_FAILED = "steady_state_failed"
    PROBE_ERROR = "probe_error"  # an SLO could not be judged: its probe could not ask
    ABORTED = "aborted"
    INTERRUPTED = "interrupted"
    REVERT_FAILED = "revert_failed"
    ERROR = "error"

    @property
    def exit_code(self) -> ExitCode:
        return {
            Status.HELD: ExitCode.HELD,
            Status.VIOLATED: ExitCode.VIOLATED,
            Status.STEADY_STATE_FAILED: ExitCode.VIOLATED,
            Status.PROBE_ERROR: ExitCode.ERROR,
            Status.ABORTED: ExitCode.ABORTED,
            Status.INTERRUPTED: ExitCode.ABORTED,
            Status.REVERT_FAILED: ExitCode.ERROR,
            Status.ERROR: ExitCode.ERROR,
        }[self]


class ClauseResult(msgspec.Struct):
    """One hypothesis clause (phase x SLO), evaluated over every window of its phase."""

    phase: str  # before | during | after
    slo: str
    objective: str  # e.g. "p99 <= 300ms", "success ratio >= 99%"
    held: bool
    measured: float | None  # the worst window's figure (seconds or ratio); None if no data
    bound: float
    unit: str  # "s" | "ratio"
    windows: int = 0
    failed_windows: int = 0
    worst_window: tuple[int, int] | None = None  # [start, end) seconds since the run began
    detail: str = ""
    recovery_time: float | None = None  # after-clauses: seconds from revert to holding again
    recover_within: float | None = None
    workload: str | None = None  # the workload the SLO measures
    # windows in which the probe could not ask at all (its own errors, no answer about the
    # system), and the first such error: the clause is then not held, yet not breached
    probe_errors: int = 0
    probe_error: str | None = None

    @property
    def breached(self) -> bool:
        """Not held because of what was measured (not merely because a probe was blind)."""
        return not self.held and (self.failed_windows > 0 or self.probe_errors == 0)

    @property
    def result(self) -> str:
        """held, violated, or probe error."""
        return "held" if self.held else "violated" if self.breached else "probe error"

    @property
    def name(self) -> str:
        return f"{self.phase}: {self.slo}"


class BudgetResult(msgspec.Struct, frozen=True):
    """The error budget one SLO spent in the run (see :mod:`faultlab.run.evaluate`)."""

    slo: str
    workload: str | None
    allowed: float  # the share of requests the objective lets fail (1 - 99.9% = 0.001)
    bad: int  # requests that counted against the objective
    total: int  # requests judged
    seconds: int  # seconds evaluated
    burn_rate: float | None  # (bad / total) / allowed; None without requests
    period: float | None  # the SLO's budget period in seconds, when it states one
    consumed: float | None  # share of the period's budget: burn_rate * seconds / period
    max_spend: float | None = None

    @property
    def exceeded(self) -> bool:
        return (self.max_spend is not None and self.consumed is not None
                and self.consumed > self.max_spend)


class FaultRecord(msgspec.Struct):
    name: str
    kind: str
    target: str
    params: dict[str, object]
    planned_start: float  # seconds since the fault phase began
    planned_duration: float
    injected_at: float | None = None  # seconds since the run began
    reverted_at: float | None = None
    lease: float | None = None
    revert_ok: bool | None = None
    error: str | None = None
    recovery_time: float | None = None  # measured: revert -> after-SLOs hold over a window
    recovery_note: str = ""
    applied: str = ""  # what exactly it acted on (Fault.applied), e.g. a partition's cut


class Verdict(msgspec.Struct):
    status: Status
    reasons: list[str] = msgspec.field(default_factory=list)
    clauses: list[ClauseResult] = msgspec.field(default_factory=list)
    faults: list[FaultRecord] = msgspec.field(default_factory=list)
    generator: dict[str, object] = msgspec.field(default_factory=dict)
    workload: dict[str, object] = msgspec.field(default_factory=dict)
    checks: list[CheckOutcome] = msgspec.field(default_factory=list)
    history: dict[str, object] = msgspec.field(default_factory=dict)
    # every workload by name: {"kind", "measured", "totals", "generator", "history"}; the three
    # fields above are the primary workload's (the measured one, the history one), as before
    workloads: dict[str, dict[str, object]] = msgspec.field(default_factory=dict)
    # what reached each observed proxy target (run/observations.py), by target name
    observations: dict[str, dict[str, object]] = msgspec.field(default_factory=dict)
    budgets: list[BudgetResult] = msgspec.field(default_factory=list)  # SLOs that count events

    @property
    def exit_code(self) -> ExitCode:
        return self.status.exit_code
