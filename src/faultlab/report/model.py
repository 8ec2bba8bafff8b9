"""What a report knows about one run, read from its directory.

``result.json`` is read only as a :class:`~faultlab.record.RunRecord` (``RunRecord.load``):
it is the source of every verdict (status, clauses, fault recovery times, workload figures,
history checks). The journal is the source of everything over time (per-second statistics,
phases, fault events, aborts, generator lag) and of the SLO definitions (``spec.slos`` in
``run_started``). A run that crashed before writing ``result.json`` still gets a report: its
verdict comes from the journal's ``verdict`` event if there is one (otherwise it is shown as
unknown), and its checks from the journal's ``check`` events.

With several measured workloads the charts show one: the record's first measured workload
(the one ``RunRecord.workload`` describes), with the SLOs that measure it.

Everything read here is data from files: it is kept as plain text and escaped only where it
is rendered.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from faultlab.journal import JOURNAL_NAME, read_journal
from faultlab.record import (
    CheckEntry,
    ClauseEntry,
    GeneratorFigures,
    HistoryFigures,
    RecordError,
    RunRecord,
    WorkloadTotals,
)
from faultlab.run.verdict import Status

if TYPE_CHECKING:
    from faultlab.report.events import JournalScan

__all__ = ["FaultView", "Moment", "MomentKind", "ReportError", "RunData", "Second", "SloSpec",
           "load_run"]

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


class Moment(msgspec.Struct, frozen=True):
    """One dated event of the run, for the timeline."""

    t: float
    kind: MomentKind
    text: str


class Second(msgspec.Struct, frozen=True):
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
    probe_errors: int = 0  # a probe's polls that could not ask: sent, not planned

    @property
    def planned(self) -> int:
        return self.sent + self.dropped - self.probe_errors


class SloSpec(msgspec.Struct, frozen=True):
    name: str
    window: float
    latency: dict[str, float] = msgspec.field(default_factory=dict)  # percentile key -> bound (s)
    success_ratio: float | None = None
    workload: str | None = None  # the workload it names, if any


class FaultView(msgspec.Struct, frozen=True):
    """A fault as the record states it, with its journal times (intent, and inject and revert
    for a run that did not finish)."""

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
    applied: str = ""


class RunData(msgspec.Struct, frozen=True):
    run_dir: Path
    record: RunRecord | None  # None: the run did not write result.json
    experiment: str
    description: str
    status: Status | None  # None: the run never reached a verdict
    reasons: list[str]
    clauses: list[ClauseEntry]
    faults: list[FaultView]
    slos: list[SloSpec]
    seconds: list[Second]  # the charted workload's
    phases: list[tuple[str, float]]
    moments: list[Moment]
    file: str
    sha256: str
    seed: int | None
    version: str
    command: list[str]
    workload: WorkloadTotals | None
    generator: GeneratorFigures | None
    started_wall: float | None
    checks: list[CheckEntry] = msgspec.field(default_factory=list)  # the history checkers' verdicts
    history: HistoryFigures | None = None  # the recorded history (history.jsonl), if any
    charted_workload: str | None = None  # whose seconds ``seconds`` holds

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


def _seconds(value: Any) -> float | None:
    """A duration as journaled: seconds, or in the file's units (``300ms``)."""
    if isinstance(value, str):
        from faultlab.units import UnitError, parse_duration

        try:
            return parse_duration(value)
        except UnitError:
            return None
    return _num(value)


def _ratio(value: Any) -> float | None:
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            return float(value.strip()[:-1]) / 100
        except ValueError:
            return None
    return _num(value)


_PERCENTILES = ("p50", "p90", "p95", "p99", "p999", "max")


def _slos(spec: dict[str, Any]) -> list[SloSpec]:
    out = []
    for raw in spec.get("slos") or []:
        if not isinstance(raw, dict):
            continue
        latency_raw = raw.get("latency") if isinstance(raw.get("latency"), dict) else {}
        assert isinstance(latency_raw, dict)
        latency = {k: v for k in _PERCENTILES
                   if (v := _seconds(latency_raw.get(k))) is not None}
        out.append(SloSpec(_str(raw.get("name")), _seconds(raw.get("window")) or 1.0, latency,
                           _ratio(raw.get("success_ratio")), _str(raw.get("workload")) or None))
    return out


def _read_record(run_dir: Path) -> RunRecord | None:
    path = run_dir / RESULT_NAME
    if not path.exists():
        return None
    try:
        return RunRecord.load(path)
    except RecordError as e:
        raise ReportError(str(e)) from None


def _charted(record: RunRecord | None, seen: list[str | None]) -> str | None:
    if record is not None:
        name = next((n for n, w in record.workloads.items() if w.measured), None)
        if name is not None:
            return name
    return seen[0] if seen else None


def load_run(run_dir: Path) -> RunData:
    """Read one run directory; :class:`ReportError` if it is not one."""
    journal = run_dir / JOURNAL_NAME
    if not journal.is_file():
        raise ReportError(f"{run_dir}: no {JOURNAL_NAME} here (hint: pass a run directory, "
                          "e.g. runs/20260101-120000-name)")
    from faultlab.report.events import JournalScan

    scan = JournalScan()
    for event in read_journal(journal):
        scan.add(event)
    record = _read_record(run_dir)
    started = scan.started
    spec = started.get("spec") if isinstance(started.get("spec"), dict) else {}
    assert isinstance(spec, dict)
    charted = _charted(record, list(scan.seconds))
    seconds = scan.seconds.get(charted) or scan.seconds.get(None) or {}
    slos = [s for s in _slos(spec) if s.workload is None or s.workload == charted]
    timeline = sorted(scan.moments, key=lambda m: m.t)
    if record is None:
        return _from_journal(run_dir, scan, spec, slos, seconds, timeline, charted)
    return RunData(
        run_dir=run_dir, record=record, experiment=record.experiment.name,
        description=_str(spec.get("description")), status=record.status,
        reasons=list(record.reasons), clauses=list(record.clauses),
        faults=scan.faults(record.faults), slos=slos,
        seconds=sorted(seconds.values(), key=lambda s: s.index), phases=scan.phases,
        moments=timeline, file=record.experiment.file, sha256=record.experiment.sha256,
        seed=record.seed, version=record.faultlab_version, command=list(record.command),
        workload=record.workload, generator=record.generator,
        started_wall=scan.started_wall, checks=list(record.checks), history=record.history,
        charted_workload=charted)


def _from_journal(run_dir: Path, scan: JournalScan, spec: dict[str, Any], slos: list[SloSpec],
                  seconds: dict[int, Second], timeline: list[Moment], charted: str | None
                  ) -> RunData:
    """A run without result.json: what its journal says."""
    from faultlab.report.checkdata import journal_checks

    started = scan.started
    try:
        status = Status(scan.verdict_status) if scan.verdict_status is not None else None
    except ValueError:
        status = None
    seed = started.get("seed")
    return RunData(
        run_dir=run_dir, record=None,
        experiment=_str(started.get("experiment") or run_dir.name),
        description=_str(spec.get("description")), status=status,
        reasons=list(scan.verdict_reasons), clauses=[], faults=scan.faults([]), slos=slos,
        seconds=sorted(seconds.values(), key=lambda s: s.index), phases=scan.phases,
        moments=timeline, file=_str(started.get("file")), sha256=_str(started.get("sha256")),
        seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
        version=_str(started.get("version")),
        command=[_str(a) for a in started.get("argv") or []], workload=None, generator=None,
        started_wall=scan.started_wall, checks=journal_checks(scan.checks), history=None,
        charted_workload=charted)
