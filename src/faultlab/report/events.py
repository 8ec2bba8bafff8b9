"""One pass over a journal: per-second statistics (per workload), phases, fault events and
the timeline.

Set-up events (services and proxy server starting) are written before the experiment's
second 0 is fixed, so their ``t`` is on another origin; they are left out of the timeline,
which starts at the first ``phase`` event.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from faultlab.journal import Event
from faultlab.report.model import FaultView, Moment, MomentKind, Second, _int, _num, _str
from faultlab.units import format_duration

if TYPE_CHECKING:
    from faultlab.record import FaultEntry

__all__ = ["JournalScan"]


class _FaultEvents(msgspec.Struct):
    kind: str = ""
    target: str = ""
    params: dict[str, Any] = msgspec.field(default_factory=dict)
    lease: float | None = None
    intent: float | None = None
    injected: float | None = None
    reverted: float | None = None
    error: str | None = None
    applied: str = ""


class JournalScan(msgspec.Struct):
    started: dict[str, Any] = msgspec.field(default_factory=dict)
    started_wall: float | None = None
    # by workload name (None: a journal from before workloads had names), then by index
    seconds: dict[str | None, dict[int, Second]] = msgspec.field(default_factory=dict)
    phases: list[tuple[str, float]] = msgspec.field(default_factory=list)
    moments: list[Moment] = msgspec.field(default_factory=list)
    verdict_status: str | None = None
    verdict_reasons: list[str] = msgspec.field(default_factory=list)
    checks: list[dict[str, Any]] = msgspec.field(default_factory=list)  # raw ``check`` events
    _faults: dict[str, _FaultEvents] = msgspec.field(default_factory=dict)

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
        workload = r.get("workload") if isinstance(r.get("workload"), str) else None
        self.seconds.setdefault(workload, {})[index] = Second(
            index, _int(r.get("sent")), _int(r.get("ok")), _int(r.get("failed")),
            _int(r.get("timed_out")), _int(r.get("dropped")), _int(r.get("late")),
            _num(r.get("max_lag")) or 0.0, _num(r.get("p50")), _num(r.get("p90")),
            _num(r.get("p99")), _num(r.get("max")), hdr if isinstance(hdr, str) else None,
            # a second is closed after it ends, unless the run stopped inside it
            partial=(_num(r.get("t")) or 0.0) < index + 1 - 0.001,
            probe_errors=_int(r.get("probe_errors")))

    def _fault(self, event: Event, r: dict[str, Any], t: float) -> None:
        name = _str(r.get("fault"))
        f = self._faults.setdefault(name, _FaultEvents())
        if event is Event.FAULT_INTENT:
            targets = r.get("targets")
            f.kind = _str(r.get("kind"))
            f.target = ("+".join(str(t) for t in targets) if isinstance(targets, list)
                        else _str(r.get("target")))
            f.params = dict(r.get("params") or {})
            f.applied = _str(r.get("applied"))
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

    def faults(self, results: list[FaultEntry]) -> list[FaultView]:
        """Faults in result.json order, completed from the journal; faults only the
        journal knows (a crashed run) come after."""
        out = []
        seen = set()
        for f in results:
            seen.add(f.name)
            j = self._faults.get(f.name, _FaultEvents())
            out.append(FaultView(
                f.name, f.kind or j.kind, f.target or j.target, dict(f.params or j.params),
                j.intent, f.injected_at if f.injected_at is not None else j.injected,
                f.reverted_at if f.reverted_at is not None else j.reverted,
                f.lease or j.lease, f.revert_ok, f.error or j.error, f.recovery_time,
                f.recovery_note, f.applied or j.applied))
        for name, j in self._faults.items():
            if name not in seen:
                out.append(FaultView(name, j.kind, j.target, j.params, j.intent, j.injected,
                                     j.reverted, j.lease,
                                     None if j.reverted is None else True, j.error, None,
                                     "no result.json: the run did not finish", j.applied))
        return out


_FAULT_EVENTS = {Event.FAULT_INTENT, Event.FAULT_INJECTED, Event.FAULT_INJECT_FAILED,
                 Event.FAULT_REVERTED, Event.REVERT_FAILED}
