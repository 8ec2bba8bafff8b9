"""A run's span tree, built from its journal after the run: pure data, no OpenTelemetry.

The journal already holds every moment a trace needs, with its Unix time (``wall``), so the
spans are made at the end from what was journaled rather than live: a run pays nothing
while it runs, and an aborted or failed run is traced like any other (its journal is
complete once the verdict is written). The tree::

    faultlab.run <experiment>       run_started .. run_ended; seed, run dir, verdict
      faultlab.setup                run_started .. the first phase
        faultlab.lab / faultlab.proxy_server / faultlab.service.start <name>
      faultlab.phase before|faults|after   each phase .. the next one (or tear-down)
        faultlab.slo <phase>: <slo>        each hypothesis clause, over its phase
        faultlab.fault <name>              fault_intent .. its revert's end
          faultlab.fault.inject <name>     fault_intent .. fault_injected (or its failure)
          faultlab.fault.revert <name>     planned end (or tear-down) .. fault_reverted
      faultlab.teardown             teardown_started .. teardown
      faultlab.check <kind>         each history check (its elapsed time, before its event)

Invariants: every span lies within the run's span (times are clamped to it; the journal
is written in order, so clamping only matters for a torn journal); a span is an error when
what it stands for failed (the verdict not held, an inject or revert that failed, a fault
still active after tear-down, a clause not held, a check not valid), with the reason as its
description; a journal line that does not validate is skipped, never trusted.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from faultlab import events as ev
from faultlab.journal import Event

if TYPE_CHECKING:
    from faultlab.run.verdict import ClauseResult

__all__ = ["Attr", "SpanEvent", "SpanPlan", "run_tree"]

Attr = str | bool | int | float | Sequence[str]
HELD = "held"


@dataclass
class SpanEvent:
    name: str
    at: float  # Unix seconds
    attributes: dict[str, Attr] = field(default_factory=dict)


@dataclass
class SpanPlan:
    name: str
    start: float  # Unix seconds
    end: float
    attributes: dict[str, Attr] = field(default_factory=dict)
    error: str | None = None  # the span's status is ERROR with this description
    events: list[SpanEvent] = field(default_factory=list)
    children: list[SpanPlan] = field(default_factory=list)

    def walk(self) -> Iterable[SpanPlan]:
        yield self
        for child in self.children:
            yield from child.walk()


def attr_value(value: object) -> Attr:
    """A value OpenTelemetry accepts as an attribute (structured ones as JSON text)."""
    if isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return [str(v) for v in value]
    return json.dumps(value, default=str, separators=(",", ":"))


@dataclass
class _Fault:
    name: str
    intent: float
    model: ev.FaultIntent
    injected: float | None = None
    inject_error: str | None = None
    closed: float | None = None
    reverted: float | None = None
    revert_error: str | None = None


class _Builder:
    def __init__(self, run_dir: Path | None) -> None:
        self.run_dir = run_dir
        self.root: SpanPlan | None = None
        self.last = 0.0
        self.phases: list[tuple[str, float]] = []
        self.planned: dict[str, tuple[float, float]] = {}  # fault -> (start, duration)
        self.faults: dict[str, _Fault] = {}
        self.setup: list[SpanPlan] = []
        self.starting: dict[str, tuple[str, float]] = {}  # key -> (span name, start)
        self.teardown: SpanPlan | None = None
        self.checks: list[SpanPlan] = []
        self.ended: float | None = None

    def feed(self, record: dict[str, Any]) -> None:
        try:
            parsed = ev.parse_event(record)
        except ValidationError:
            return
        wall = record.get("wall")
        if parsed is None or not isinstance(wall, int | float):
            return
        kind, model = parsed
        at = float(wall)
        self.last = max(self.last, at)
        if kind is Event.RUN_STARTED:
            assert isinstance(model, ev.RunStarted)
            attrs: dict[str, Attr] = {"faultlab.experiment.name": model.experiment,
                                      "faultlab.run.seed": model.seed}
            for key in ("file", "version"):
                if isinstance(record.get(key), str):
                    attrs[f"faultlab.run.{key}" if key == "file" else "faultlab.version"] = \
                        record[key]
            if self.run_dir is not None:
                attrs["faultlab.run.dir"] = str(self.run_dir)
            self.root = SpanPlan(f"faultlab.run {model.experiment}", at, at, attrs)
        elif self.root is None:
            return
        else:
            self._event(kind, model, record, at)

    def _event(self, kind: Event, model: ev.EventModel, record: dict[str, Any],
               at: float) -> None:
        root = self.root
        assert root is not None
        if kind in (Event.LAB_STARTING, Event.PROXY_SERVER_STARTING, Event.SERVICE_STARTING):
            self._starting(kind, record, at)
        elif kind in (Event.LAB_UP, Event.PROXY_SERVER_STARTED, Event.SERVICE_STARTED):
            self._started(kind, record, at)
        elif kind is Event.PHASE:
            assert isinstance(model, ev.Phase)
            self.phases.append((model.phase, at))
        elif kind is Event.PLAN:
            assert isinstance(model, ev.Plan)
            for entry in model.faults:
                try:
                    self.planned[str(entry["fault"])] = (float(entry["start"]),
                                                         float(entry["duration"]))
                except (KeyError, TypeError, ValueError):
                    continue
        elif kind is Event.FAULT_INTENT:
            assert isinstance(model, ev.FaultIntent)
            self.faults[model.fault] = _Fault(model.fault, at, model)
        elif kind in (Event.FAULT_INJECTED, Event.FAULT_REVERTED, Event.FAULT_CLOSED,
                      Event.FAULT_INJECT_FAILED, Event.REVERT_FAILED):
            self._fault_event(kind, model, at)
        elif kind is Event.TEARDOWN_STARTED:
            self.teardown = SpanPlan("faultlab.teardown", at, at)
        elif kind in (Event.SERVICE_STOPPED, Event.PROXY_SERVER_STOPPED, Event.LAB_DOWN):
            if self.teardown is not None:
                what = {k: attr_value(v) for k, v in record.items()
                        if k in ("service", "pid", "lab", "signal", "returncode", "error")
                        and v is not None}
                self.teardown.events.append(SpanEvent(kind.value, at, what))
        elif kind is Event.TEARDOWN:
            assert isinstance(model, ev.Teardown)
            if self.teardown is not None:
                self.teardown.end = at
                self.teardown.attributes.update({
                    "faultlab.teardown.active": list(model.active),
                    "faultlab.teardown.still_running": list(model.still_running),
                    "faultlab.teardown.signals": model.signals})
                if model.active or model.still_running:
                    self.teardown.error = "left behind: " + ", ".join(
                        [*model.active, *model.still_running])
        elif kind is Event.CHECK:
            self._check(record, at)
        elif kind is Event.VERDICT:
            assert isinstance(model, ev.Verdict)
            root.attributes.update({"faultlab.run.verdict": model.status,
                                    "faultlab.run.exit_code": model.exit_code,
                                    "faultlab.run.reasons": list(model.reasons)})
            if model.status != HELD:  # the first reason names the status
                root.error = model.reasons[0] if model.reasons else model.status
        elif kind is Event.RUN_ENDED:
            self.ended = at
        elif kind in (Event.ABORT, Event.INTERRUPTED, Event.NOTE, Event.GENERATOR_LAG):
            detail = {k: attr_value(v) for k, v in record.items()
                      if k in ("reason", "note", "workload", "window") and v is not None}
            root.events.append(SpanEvent(kind.value, at, detail))

    def _starting(self, kind: Event, record: dict[str, Any], at: float) -> None:
        if kind is Event.SERVICE_STARTING:
            key = f"service:{record.get('service')}"
            self.starting[key] = (f"faultlab.service.start {record.get('service')}", at)
        elif kind is Event.LAB_STARTING:
            self.starting["lab"] = ("faultlab.lab", at)
        else:
            self.starting["proxy"] = ("faultlab.proxy_server", at)

    def _started(self, kind: Event, record: dict[str, Any], at: float) -> None:
        key = {Event.LAB_UP: "lab", Event.PROXY_SERVER_STARTED: "proxy"}.get(
            kind, f"service:{record.get('service')}")
        started = self.starting.pop(key, None)
        if started is None:
            return
        attrs = {f"faultlab.{k}": attr_value(v) for k, v in record.items()
                 if k in ("service", "pid", "lab", "subnet", "api") and v is not None}
        self.setup.append(SpanPlan(started[0], started[1], at, attrs))

    def _fault_event(self, kind: Event, model: ev.EventModel, at: float) -> None:
        assert isinstance(model, ev.FaultEvent | ev.FaultError | ev.FaultClosed)
        fault = self.faults.get(model.fault)
        if fault is None:
            return
        if kind is Event.FAULT_INJECTED:
            fault.injected = at
        elif kind is Event.FAULT_REVERTED:
            fault.reverted = at
        elif kind is Event.FAULT_CLOSED:
            fault.closed = at
        elif kind is Event.FAULT_INJECT_FAILED:
            assert isinstance(model, ev.FaultError)
            fault.inject_error, fault.injected = model.error, at
        else:
            assert isinstance(model, ev.FaultError)
            fault.revert_error, fault.reverted = model.error, at

    def _check(self, record: dict[str, Any], at: float) -> None:
        kind, verdict = str(record.get("check", "?")), str(record.get("verdict", "?"))
        elapsed = record.get("elapsed_s")
        start = at - float(elapsed) if isinstance(elapsed, int | float) else at
        attrs: dict[str, Attr] = {"faultlab.check.kind": kind,
                                  "faultlab.check.verdict": verdict}
        for key in ("ops_checked", "summary", "workload"):
            if record.get(key) is not None:
                attrs[f"faultlab.check.{key}"] = attr_value(record[key])
        summary = str(record.get("summary", verdict))
        self.checks.append(SpanPlan(f"faultlab.check {kind}", start, at, attrs,
                                    None if verdict == "valid" else summary))

    def finish(self, clauses: Sequence[ClauseResult]) -> SpanPlan | None:
        root = self.root
        if root is None:
            return None
        root.end = self.ended if self.ended is not None else self.last
        teardown_start = self.teardown.start if self.teardown is not None else root.end
        first_phase = self.phases[0][1] if self.phases else teardown_start
        if self.setup or first_phase > root.start:
            root.children.append(SpanPlan("faultlab.setup", root.start, first_phase,
                                          children=self.setup))
        phase_spans: dict[str, SpanPlan] = {}
        for i, (name, start) in enumerate(self.phases):
            end = self.phases[i + 1][1] if i + 1 < len(self.phases) else teardown_start
            span = SpanPlan(f"faultlab.phase {name}", start, end, {"faultlab.phase": name})
            phase_spans[name] = span
            root.children.append(span)
        for clause in clauses:
            self._clause(clause, phase_spans, root)
        faults_phase = phase_spans.get("faults", root)
        for fault in self.faults.values():
            faults_phase.children.append(self._fault_span(fault, teardown_start, root.end))
        if self.teardown is not None:
            root.children.append(self.teardown)
        root.children += self.checks
        for span in root.walk():  # a torn journal: nothing outside the run's span
            span.start = min(max(span.start, root.start), root.end)
            span.end = min(max(span.end, span.start), root.end)
        return root

    def _clause(self, clause: ClauseResult, phases: dict[str, SpanPlan],
                root: SpanPlan) -> None:
        parent = phases.get("faults" if clause.phase == "during" else clause.phase, root)
        attrs: dict[str, Attr] = {
            "faultlab.slo.name": clause.slo, "faultlab.slo.phase": clause.phase,
            "faultlab.slo.objective": clause.objective, "faultlab.slo.held": clause.held,
            "faultlab.slo.windows": clause.windows,
            "faultlab.slo.failed_windows": clause.failed_windows,
            "faultlab.slo.detail": clause.detail}
        if clause.measured is not None:
            attrs["faultlab.slo.measured"] = clause.measured
        if clause.worst_window is not None:
            attrs["faultlab.slo.worst_window"] = [f"{s}s" for s in clause.worst_window]
        if clause.workload is not None:
            attrs["faultlab.slo.workload"] = clause.workload
        parent.children.append(SpanPlan(f"faultlab.slo {clause.name}", parent.start,
                                        parent.end, attrs,
                                        None if clause.held else clause.detail or "not held"))

    def _fault_span(self, fault: _Fault, teardown_start: float, run_end: float) -> SpanPlan:
        m = fault.model
        attrs: dict[str, Attr] = {
            "faultlab.fault.name": fault.name, "faultlab.fault.kind": m.kind,
            "faultlab.fault.target": "+".join(m.targets),
            "faultlab.fault.targets": list(m.targets), "faultlab.fault.lease_s": m.lease}
        if m.applied:
            attrs["faultlab.fault.applied"] = m.applied
        for key, value in m.params.items():
            if value is not None:
                attrs[f"faultlab.fault.param.{key}"] = attr_value(value)
        planned = self.planned.get(fault.name)
        if planned is not None:
            attrs["faultlab.fault.planned_start_s"] = planned[0]
            attrs["faultlab.fault.planned_duration_s"] = planned[1]
        injected = fault.injected
        inject = SpanPlan(f"faultlab.fault.inject {fault.name}", fault.intent,
                          injected if injected is not None else
                          (fault.closed or teardown_start), {"faultlab.fault.name": fault.name},
                          fault.inject_error)
        span = SpanPlan(f"faultlab.fault {fault.name}", fault.intent, inject.end, attrs,
                        children=[inject])
        if fault.inject_error is not None:
            span.error = f"inject failed: {fault.inject_error}"
        elif injected is None:
            span.error = "never injected"
        if fault.closed is not None and fault.reverted is None:
            span.end = max(span.end, fault.closed)
            return span
        if fault.reverted is None:
            span.end = max(span.end, run_end)
            span.error = span.error or "still active when the run ended"
            return span
        # The revert's start is not journaled: it began when the fault's time was up, or
        # at tear-down for a run that ended early, whichever came first.
        # Without its plan entry (a torn journal) only the tear-down bounds it.
        begun = (injected if injected is not None else fault.intent) + (
            planned[1] if planned is not None else math.inf)
        revert_start = max(min(begun, teardown_start, fault.reverted), inject.end)
        revert = SpanPlan(f"faultlab.fault.revert {fault.name}", revert_start, fault.reverted,
                          {"faultlab.fault.name": fault.name}, fault.revert_error)
        span.children.append(revert)
        span.end = max(span.end, fault.reverted)
        if fault.revert_error is not None:
            span.error = f"revert failed: {fault.revert_error}"
        return span


def run_tree(records: Iterable[dict[str, Any]], clauses: Sequence[ClauseResult] = (),
             run_dir: Path | None = None) -> SpanPlan | None:
    """The run's span tree from its journal's records (in order) and its verdict's clauses
    (the journal does not hold them); None when the journal has no ``run_started``."""
    builder = _Builder(run_dir)
    for record in records:
        builder.feed(record)
    return builder.finish(clauses)
