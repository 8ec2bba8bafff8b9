"""What a report knows about one run, read from its directory.

``result.json`` is the source of every verdict (status, clauses, fault recovery times); the
journal is the source of everything over time (per-second statistics, phases, fault events,
aborts, generator lag) and of the SLO definitions (``spec.slos`` in ``run_started``). A run
that crashed before writing ``result.json`` still gets a report: its verdict comes from the
journal's ``verdict`` event if there is one, and is otherwise shown as unknown.

Everything read here is data from files: it is kept as plain text and escaped only where it
is rendered.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faultlab.journal import JOURNAL_NAME, read_journal
from faultlab.run.verdict import Status

if TYPE_CHECKING:
    from faultlab.report.checkdata import CheckView, HistoryView

__all__ = ["Clause", "FaultView", "Moment", "MomentKind", "ReportError", "RunData",
           "Second", "SloSpec", "load_run"]

RESULT_NAME = "result.json"


class ReportError(Exception):
    """A run directory that cannot be reported on (missing or unreadable files)."""


class MomentKind(StrEnum):
    PHASE = "phase"
    INTENT = "intent"
    INJECTED = "injected"
    INJECT_FAILED = "inject failed"
    REVERTED = "reverted"
    REVERT_FAILED = "revert failed"
    ABORT = "abort"
    INTERRUPTED = "interrupted"
    GENERATOR_LAG = "generator lag"
    NOTE = "note"


@dataclass(frozen=True)
class Moment:
    """One dated event of the run, for the timeline."""

    t: float
    kind: MomentKind
    text: str


@dataclass(frozen=True)
class Second:
    """Workload statistics of second ``index`` (covering [index, index + 1))."""

    index: int
    sent: int
    ok: int
    failed: int
    timed_out: int
    dropped: int
    late: int
    max_lag: float
    p50: float | None
    p90: float | None
    p99: float | None
    max: float | None
    hdr: str | None = None
    partial: bool = False  # closed early because the run ended inside it

    @property
    def planned(self) -> int:
        return self.sent + self.dropped


@dataclass(frozen=True)
class SloSpec:
    name: str
    window: float
    latency: dict[str, float] = field(default_factory=dict)  # percentile key -> bound (s)
    success_ratio: float | None = None


@dataclass(frozen=True)
class Clause:
    phase: str
    slo: str
    objective: str
    held: bool
    measured: float | None
    bound: float
    unit: str  # "s" | "ratio"
    windows: int
    failed_windows: int
    worst_window: tuple[int, int] | None
    detail: str
    recovery_time: float | None
    recover_within: float | None

    @property
    def name(self) -> str:
        return f"{self.phase}: {self.slo}"


@dataclass(frozen=True)
class FaultView:
    name: str
    kind: str
    target: str
    params: dict[str, Any]
    intent_at: float | None
    injected_at: float | None
    reverted_at: float | None
    lease: float | None
    revert_ok: bool | None
    error: str | None
    recovery_time: float | None
    recovery_note: str


@dataclass(frozen=True)
class RunData:
    run_dir: Path
    experiment: str
    description: str
    status: Status | None  # None: the run never reached a verdict
    reasons: list[str]
    clauses: list[Clause]
    faults: list[FaultView]
    slos: list[SloSpec]
    seconds: list[Second]
    phases: list[tuple[str, float]]
    moments: list[Moment]
    file: str
    sha256: str
    seed: int | None
    version: str
    command: list[str]
    workload: dict[str, Any]
    generator: dict[str, Any]
    started_wall: float | None
    checks: list[CheckView] = field(default_factory=list)  # the history checkers' verdicts
    history: HistoryView | None = None  # the recorded history (history.jsonl), if any

    @property
    def status_text(self) -> str:
        return self.status.value if self.status is not None else "unknown"

    @property
    def end(self) -> float:
        """The last second with statistics (or the last event), for the time axis."""
        last = [s.index + 1.0 for s in self.seconds[-1:]] + [m.t for m in self.moments[-1:]]
        return max([1.0, *last])


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def _slos(spec: dict[str, Any]) -> list[SloSpec]:
    out = []
    for raw in spec.get("slos") or []:
        if not isinstance(raw, dict):
            continue
        latency = {k: float(v) for k, v in (raw.get("latency") or {}).items()
                   if _num(v) is not None}
        out.append(SloSpec(_str(raw.get("name")), _num(raw.get("window")) or 1.0, latency,
                           _num(raw.get("success_ratio"))))
    return out


def _clause(raw: dict[str, Any]) -> Clause:
    ww = raw.get("worst_window")
    worst = (int(ww[0]), int(ww[1])) if isinstance(ww, list) and len(ww) == 2 else None
    return Clause(_str(raw.get("phase")), _str(raw.get("slo")), _str(raw.get("objective")),
                  raw.get("held") is True, _num(raw.get("measured")),
                  _num(raw.get("bound")) or 0.0, _str(raw.get("unit")),
                  _int(raw.get("windows")), _int(raw.get("failed_windows")), worst,
                  _str(raw.get("detail")), _num(raw.get("recovery_time")),
                  _num(raw.get("recover_within")))


def _read_result(run_dir: Path) -> dict[str, Any] | None:
    path = run_dir / RESULT_NAME
    if not path.exists():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ReportError(f"{path}: not readable JSON ({e}); hint: re-run the experiment"
                          ) from None
    if not isinstance(doc, dict):
        raise ReportError(f"{path}: expected a JSON object")
    return doc


def load_run(run_dir: Path) -> RunData:
    """Read one run directory; :class:`ReportError` if it is not one."""
    journal = run_dir / JOURNAL_NAME
    if not journal.is_file():
        raise ReportError(f"{run_dir}: no {JOURNAL_NAME} here (hint: pass a run directory, "
                          "e.g. runs/20260101-120000-name)")
    from faultlab.report.checkdata import parse_checks, parse_history
    from faultlab.report.events import JournalScan

    scan = JournalScan()
    for record in read_journal(journal):
        scan.add(record)
    result = _read_result(run_dir) or {}
    status_raw = result.get("status", scan.verdict_status)
    try:
        status = Status(status_raw) if status_raw is not None else None
    except ValueError:
        status = None
    reasons = [_str(r) for r in result.get("reasons", scan.verdict_reasons) or []]
    experiment = result.get("experiment") if isinstance(result.get("experiment"), dict) else {}
    assert isinstance(experiment, dict)
    started = scan.started
    return RunData(
        run_dir=run_dir,
        experiment=_str(experiment.get("name") or started.get("experiment") or run_dir.name),
        description=_str((started.get("spec") or {}).get("description")),
        status=status, reasons=reasons,
        clauses=[_clause(c) for c in result.get("clauses") or [] if isinstance(c, dict)],
        faults=scan.faults([f for f in result.get("faults") or [] if isinstance(f, dict)]),
        slos=_slos(started.get("spec") or {}),
        seconds=sorted(scan.seconds.values(), key=lambda s: s.index),
        phases=scan.phases, moments=sorted(scan.moments, key=lambda m: m.t),
        file=_str(experiment.get("file") or started.get("file")),
        sha256=_str(experiment.get("sha256") or started.get("sha256")),
        seed=(int(s) if isinstance(s := result.get("seed", started.get("seed")), int) else None),
        version=_str(result.get("faultlab_version") or started.get("version")),
        command=[_str(a) for a in result.get("command") or started.get("argv") or []],
        workload=dict(result.get("workload") or {}),
        generator=dict(result.get("generator") or {}),
        started_wall=scan.started_wall,
        checks=parse_checks(result.get("checks", scan.checks)),
        history=parse_history(result.get("history")),
    )
