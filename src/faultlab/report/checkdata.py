"""A run's history checks for the report: the record's checks (``RunRecord.checks``) or, for
a run that died before writing ``result.json``, the journal's ``check`` events read as the
same :class:`~faultlab.record.CheckEntry`; and the operations the evidence refers to.

Evidence refers to operations by index into the run's ``history.jsonl``; the operations
themselves are read only when a section draws them (:func:`read_history`), since a history
can be large and most reports need none of it.

Everything here is data from files: kept as text and numbers, escaped where it is rendered.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from faultlab.record import CheckEntry, HistoryFigures
from faultlab.record.parts import DROP_UNKNOWN

if TYPE_CHECKING:
    from faultlab.history import Op

__all__ = ["HISTORY_NAME", "journal_checks", "read_history"]

HISTORY_NAME = "history.jsonl"

# the check event's own keys, and the one it names differently ("check" is the kind)
_EVENT_KEYS = ("workload", "verdict", "ops_checked", "summary", "detail", "elapsed_s",
               "evidence")


def journal_checks(events: list[dict[str, Any]]) -> list[CheckEntry]:
    """The journal's ``check`` events as checks; an event that is not one is left out."""
    out = []
    for e in events:
        raw = {"kind": e.get("check"), **{k: e[k] for k in _EVENT_KEYS if k in e}}
        try:
            out.append(CheckEntry.model_validate(raw, context={DROP_UNKNOWN: True}))
        except ValidationError:
            continue  # a torn or foreign event: the journal is read as far as it makes sense
    return out


def read_history(run_dir: Path, history: HistoryFigures | None) -> tuple[dict[int, Op], str]:
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
