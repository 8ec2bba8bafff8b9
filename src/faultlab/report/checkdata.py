"""What a report knows about a run's history checks: typed views of ``result.json``'s
``checks`` and ``history`` (or, for a run that died before writing it, the journal's
``check`` events).

Evidence refers to operations by index into the run's ``history.jsonl``; the operations
themselves are read only when a section draws them (:func:`read_history`), since a history
can be large and most reports need none of it.

Everything here is data from files: kept as text and numbers, escaped where it is rendered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from faultlab.history import Op

__all__ = ["AnomalyView", "CheckVerdict", "CheckView", "HistoryView", "StuckView",
           "ViolationView", "parse_checks", "parse_history", "read_history"]

HISTORY_NAME = "history.jsonl"


class CheckVerdict(StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    UNKNOWN = "unknown"  # the checker ran out of budget: not proven, so not passed


@dataclass(frozen=True)
class StuckView:
    op: int
    reason: str


@dataclass(frozen=True)
class ViolationView:
    """The linearizability checker's deepest dead end (see ``faultlab.check.Violation``)."""

    partition: str
    prefix_length: int  # the whole prefix; ``prefix`` holds only its last operations
    prefix: list[int]
    states: list[str]  # the model state after each operation of ``prefix``
    state: str  # after the whole prefix
    must_complete: int | None
    stuck: list[StuckView]


@dataclass(frozen=True)
class AnomalyView:
    kind: str  # lost, unexpected, duplicate, stale-read, ...
    message: str
    ops: list[int]


@dataclass(frozen=True)
class CheckView:
    kind: str  # linearizable | set | queue | bank
    verdict: CheckVerdict
    ops_checked: int
    summary: str
    detail: str
    elapsed_s: float | None
    violation: ViolationView | None = None
    anomalies: list[AnomalyView] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.verdict is CheckVerdict.VALID


@dataclass(frozen=True)
class HistoryView:
    """``result.json``'s ``history``: how many operations were planned and recorded."""

    file: str
    planned: int | None = None
    invoked: int | None = None
    dropped: int | None = None
    retired_processes: int | None = None
    ok: int | None = None
    fail: int | None = None
    info: int | None = None


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def _opt_int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _ints(value: Any) -> list[int]:
    return [i for i in (_opt_int(v) for v in value) if i is not None] if isinstance(
        value, list) else []


def _violation(raw: Any) -> ViolationView | None:
    if not isinstance(raw, dict):
        return None
    prefix = _ints(raw.get("prefix"))
    states = [_str(s) for s in raw.get("states") or []] if isinstance(
        raw.get("states"), list) else []
    stuck = [StuckView(op, _str(s.get("reason"))) for s in raw.get("stuck") or []
             if isinstance(s, dict) and (op := _opt_int(s.get("op"))) is not None]
    return ViolationView(_str(raw.get("partition")),
                         _opt_int(raw.get("prefix_length")) or len(prefix), prefix,
                         states, _str(raw.get("state")), _opt_int(raw.get("must_complete")),
                         stuck)


def _anomalies(raw: Any) -> list[AnomalyView]:
    if not isinstance(raw, list):
        return []
    return [AnomalyView(_str(a.get("kind")), _str(a.get("message")), _ints(a.get("ops")))
            for a in raw if isinstance(a, dict)]


def _check(raw: dict[str, Any]) -> CheckView:
    try:
        verdict = CheckVerdict(_str(raw.get("verdict")))
    except ValueError:
        verdict = CheckVerdict.UNKNOWN
    evidence = raw.get("evidence") if isinstance(raw.get("evidence"), dict) else {}
    assert isinstance(evidence, dict)
    elapsed = raw.get("elapsed_s")
    return CheckView(
        # result.json says "kind", the journal's check event says "check"
        _str(raw.get("kind") or raw.get("check")), verdict,
        _opt_int(raw.get("ops_checked")) or 0, _str(raw.get("summary")),
        _str(raw.get("detail")),
        float(elapsed) if isinstance(elapsed, int | float) and not isinstance(elapsed, bool)
        else None,
        _violation(evidence.get("violation")), _anomalies(evidence.get("anomalies")))


def parse_checks(raw: Any) -> list[CheckView]:
    return [_check(c) for c in raw if isinstance(c, dict)] if isinstance(raw, list) else []


def parse_history(raw: Any) -> HistoryView | None:
    if not isinstance(raw, dict) or not raw:
        return None
    return HistoryView(_str(raw.get("file")) or HISTORY_NAME,
                       *(_opt_int(raw.get(k)) for k in ("planned", "invoked", "dropped",
                                                        "retired_processes", "ok", "fail",
                                                        "info")))


def read_history(run_dir: Path, history: HistoryView | None) -> tuple[dict[int, Op], str]:
    """The run's operations by index, or ``({}, why not)``.

    Only a file inside the run directory is read: ``file`` comes from ``result.json``, and a
    report must not be talked into reading elsewhere.
    """
    from faultlab.history import HistoryError, read_jsonl

    name = Path(history.file).name if history is not None and history.file else HISTORY_NAME
    path = run_dir / name
    if not path.is_file():
        return {}, f"{name} is not in the run directory"
    try:
        ops = read_jsonl(path)
    except (HistoryError, OSError, ValueError) as e:
        return {}, f"{name} could not be read: {str(e).splitlines()[0] if str(e) else e!r}"
    return {op.index: op for op in ops}, ""
