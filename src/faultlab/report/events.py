"""One pass over a journal: per-second statistics, phases, fault events and the timeline.

Set-up events (services and proxy server starting) are written before the experiment's
second 0 is fixed, so their ``t`` is on another origin; they are left out of the timeline,
which starts at the first ``phase`` event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from faultlab.journal import Event
from faultlab.report.model import FaultView, Moment, MomentKind, Second, _int, _num, _str
from faultlab.units import format_duration

__all__ = ["JournalScan"]


@dataclass
class _FaultEvents:
    kind: str = ""
    target: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    lease: float | None = None
    intent: float | None = None
    injected: float | None = None
    reverted: float | None = None
    error: str | None = None


@dataclass
class JournalScan:
    started: dict[str, Any] = field(default_factory=dict)
    started_wall: float | None = None
    seconds: dict[int, Second] = field(default_factory=dict)
    phases: list[tuple[str, float]] = field(default_factory=list)
    moments: list[Moment] = field(default_factory=list)
    verdict_status: str | None = None
    verdict_reasons: list[str] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)  # raw ``check`` events
    _faults: dict[str, _FaultEvents] = field(default_factory=dict)

    def add(self, r: dict[str, Any]) -> None:
        try:
            event = Event(_str(r.get("event")))
        except ValueError:
            return
        t = _num(r.get("t")) or 0.0
        if event is Event.RUN_STARTED:
            self.started = r
        elif event is Event.PHASE:
            if not self.phases:
                self.started_wall = _num(r.get("wall"))
            self.phases.append((_str(r.get("phase")), t))
            self._moment(t, MomentKind.PHASE, f"phase {_str(r.get('phase'))}")
        elif event is Event.SECOND:
            self._second(r)
        elif event is Event.VERDICT:
            self.verdict_status = _str(r.get("status")) or None
            self.verdict_reasons = [_str(x) for x in r.get("reasons") or []]
        elif event is Event.CHECK:
            self.checks.append(r)
        elif event in _FAULT_EVENTS:
            self._fault(event, r, t)
        elif event is Event.ABORT:
            self._moment(t, MomentKind.ABORT, f"abort: {_str(r.get('reason'))}")
        elif event is Event.INTERRUPTED:
            self._moment(t, MomentKind.INTERRUPTED,
                         "interrupted" + (f": {_str(r['signal'])}" if r.get("signal") else ""))
        elif event is Event.GENERATOR_LAG:
            self._moment(t, MomentKind.GENERATOR_LAG,
                         f"load generator fell behind: {_str(r.get('reason'))}")
        elif event is Event.NOTE and self.phases:
            self._moment(t, MomentKind.NOTE, _str(r.get("text") or r.get("note")))

    def _moment(self, t: float, kind: MomentKind, text: str) -> None:
        self.moments.append(Moment(t, kind, text))

    def _second(self, r: dict[str, Any]) -> None:
        index = r.get("second")
        if not isinstance(index, int):
            return
        hdr = r.get("hdr")
        self.seconds[index] = Second(
            index, _int(r.get("sent")), _int(r.get("ok")), _int(r.get("failed")),
            _int(r.get("timed_out")), _int(r.get("dropped")), _int(r.get("late")),
            _num(r.get("max_lag")) or 0.0, _num(r.get("p50")), _num(r.get("p90")),
            _num(r.get("p99")), _num(r.get("max")), hdr if isinstance(hdr, str) else None,
            # a second is closed after it ends, unless the run stopped inside it
            partial=(_num(r.get("t")) or 0.0) < index + 1 - 0.001)

    def _fault(self, event: Event, r: dict[str, Any], t: float) -> None:
        name = _str(r.get("fault"))
        f = self._faults.setdefault(name, _FaultEvents())
        if event is Event.FAULT_INTENT:
            f.kind, f.target = _str(r.get("kind")), _str(r.get("target"))
            f.params = dict(r.get("params") or {})
            f.lease, f.intent = _num(r.get("lease")), t
            lease = f" (lease {format_duration(f.lease)})" if f.lease else ""
            self._moment(t, MomentKind.INTENT,
                         f"{name}: {f.kind} on {f.target} journaled with its undo{lease}")
        elif event is Event.FAULT_INJECTED:
            f.injected = t
            self._moment(t, MomentKind.INJECTED, f"{name}: injected")
        elif event is Event.FAULT_INJECT_FAILED:
            f.error = _str(r.get("error"))
            self._moment(t, MomentKind.INJECT_FAILED, f"{name}: inject failed: {f.error}")
        elif event is Event.FAULT_REVERTED:
            f.reverted = t
            self._moment(t, MomentKind.REVERTED, f"{name}: reverted")
        elif event is Event.REVERT_FAILED:
            f.error = _str(r.get("error"))
            self._moment(t, MomentKind.REVERT_FAILED, f"{name}: {f.error}")

    def faults(self, results: list[dict[str, Any]]) -> list[FaultView]:
        """Faults in result.json order, completed from the journal; faults only the
        journal knows (a crashed run) come after."""
        out = []
        seen = set()
        for raw in results:
            name = _str(raw.get("name"))
            seen.add(name)
            j = self._faults.get(name, _FaultEvents())
            injected = _num(raw.get("injected_at"))
            reverted = _num(raw.get("reverted_at"))
            out.append(FaultView(
                name, _str(raw.get("kind")) or j.kind, _str(raw.get("target")) or j.target,
                dict(raw.get("params") or j.params), j.intent,
                injected if injected is not None else j.injected,
                reverted if reverted is not None else j.reverted,
                _num(raw.get("lease")) or j.lease,
                raw.get("revert_ok") if isinstance(raw.get("revert_ok"), bool) else None,
                _str(raw.get("error")) or j.error, _num(raw.get("recovery_time")),
                _str(raw.get("recovery_note"))))
        for name, j in self._faults.items():
            if name not in seen:
                out.append(FaultView(name, j.kind, j.target, j.params, j.intent, j.injected,
                                     j.reverted, j.lease,
                                     None if j.reverted is None else True, j.error, None,
                                     "no result.json: the run did not finish"))
        return out


_FAULT_EVENTS = {Event.FAULT_INTENT, Event.FAULT_INJECTED, Event.FAULT_INJECT_FAILED,
                 Event.FAULT_REVERTED, Event.REVERT_FAILED}
