"""The span tree of a journal (pure), and the variables that switch exporting on: journals
written by the real Journal on a manual clock, with the failures a live run rarely shows
(an inject that failed, a revert that failed, a fault left active, a history check)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from faultlab.clock import ManualClock
from faultlab.journal import Event, Journal, Redactor, read_journal
from faultlab.telemetry.config import DEFAULT_TIMEOUT, from_env
from faultlab.telemetry.export import parent_context, spans_of
from faultlab.telemetry.tree import SpanPlan, run_tree

INTENT = {"kind": "latency", "targets": ["db-link"], "params": {"delay": "50ms",
          "toxicity": 1.0, "headers": {"a": 1}}, "lease": 12.0,
          "undo": {"action": "remove_toxic", "params": {}}}


async def journal(tmp_path: Path, steps: list[tuple[float, Event, dict[str, Any]]]
                  ) -> Path:
    clock = ManualClock()
    path = tmp_path / "journal.jsonl"
    j = Journal(path, clock, clock.now(), Redactor())
    j.write(Event.RUN_STARTED, experiment="exp", seed=7, file="exp.yaml", version="0.1.0")
    for advance, event, fields in steps:
        await clock.advance(advance)
        j.write(event, **fields)
    j.close()
    return path


def tree(path: Path) -> SpanPlan:
    plan = run_tree(read_journal(path), (), path.parent)
    assert plan is not None
    return plan


def named(plan: SpanPlan, name: str) -> SpanPlan:
    found = [s for s in plan.walk() if s.name == name]
    assert len(found) == 1, [s.name for s in plan.walk()]
    return found[0]


async def test_an_inject_that_failed_is_an_error_with_no_revert(tmp_path: Path) -> None:
    path = await journal(tmp_path, [
        (0, Event.PHASE, {"phase": "before"}),
        (1, Event.PHASE, {"phase": "faults"}),
        (0, Event.PLAN, {"faults": [{"fault": "slow-db", "kind": "latency",
                                     "targets": ["db-link"], "start": 0.0,
                                     "duration": 5.0}]}),
        (0.5, Event.FAULT_INTENT, {"fault": "slow-db", **INTENT}),
        (0.25, Event.FAULT_INJECT_FAILED, {"fault": "slow-db", "error": "no such proxy"}),
        (0, Event.FAULT_CLOSED, {"fault": "slow-db", "reason": "changed nothing"}),
        (0.25, Event.TEARDOWN_STARTED, {"active": []}),
        (0.5, Event.TEARDOWN, {"active": [], "still_running": []}),
        (0, Event.VERDICT, {"status": "error", "exit_code": 4,
                            "reasons": ["fault 'slow-db' could not be applied"]}),
        (0, Event.RUN_ENDED, {})])
    plan = tree(path)
    assert plan.error == "fault 'slow-db' could not be applied"
    assert plan.attributes["faultlab.run.verdict"] == "error"
    assert plan.attributes["faultlab.run.dir"] == str(tmp_path)
    fault = named(plan, "faultlab.fault slow-db")
    assert fault.error == "inject failed: no such proxy"
    assert fault.attributes["faultlab.fault.param.delay"] == "50ms"
    assert fault.attributes["faultlab.fault.param.headers"] == '{"a":1}'  # JSON text
    assert [c.name for c in fault.children] == ["faultlab.fault.inject slow-db"]
    assert fault.children[0].error == "no such proxy"
    assert fault.end - fault.start == pytest.approx(0.25)
    assert fault in named(plan, "faultlab.phase faults").children
    assert not named(plan, "faultlab.teardown").error


async def test_a_failed_revert_and_a_fault_left_active_are_errors(tmp_path: Path) -> None:
    path = await journal(tmp_path, [
        (0, Event.PHASE, {"phase": "faults"}),
        (0, Event.FAULT_INTENT, {"fault": "a", **INTENT}),
        (0, Event.FAULT_INJECTED, {"fault": "a"}),
        (0, Event.FAULT_INTENT, {"fault": "b", **INTENT}),
        (0, Event.FAULT_INJECTED, {"fault": "b"}),
        (2, Event.INTERRUPTED, {}),
        (0, Event.TEARDOWN_STARTED, {"active": ["a", "b"]}),
        (1, Event.REVERT_FAILED, {"fault": "a", "error": "proxy server gone"}),
        (0, Event.TEARDOWN, {"active": ["a", "b"], "still_running": ["web (pid 9)"]}),
        (0, Event.VERDICT, {"status": "revert_failed", "exit_code": 4,
                            "reasons": ["REVERT FAILED for fault 'a'"]})])  # no run_ended
    plan = tree(path)
    a, b = named(plan, "faultlab.fault a"), named(plan, "faultlab.fault b")
    revert = named(plan, "faultlab.fault.revert a")
    assert revert.error == "proxy server gone" and a.error == "revert failed: proxy server gone"
    teardown = named(plan, "faultlab.teardown")
    # no plan event: the revert began with the tear-down
    assert revert.start == teardown.start and revert.end == a.end
    assert b.error == "still active when the run ended" and b.end == plan.end
    assert teardown.error == "left behind: a, b, web (pid 9)"
    assert "interrupted" in [e.name for e in plan.events]
    assert plan.end == teardown.end  # the last event, without run_ended


async def test_checks_span_their_elapsed_time_and_damaged_lines_are_skipped(
        tmp_path: Path) -> None:
    path = await journal(tmp_path, [
        (1, Event.CHECK, {"check": "linearizable", "verdict": "invalid", "ops_checked": 40,
                          "summary": "not linearizable at op 12", "elapsed_s": 0.5}),
        (0, Event.CHECK, {"check": "no_lost_writes", "verdict": "valid", "ops_checked": 40,
                          "summary": "ok", "elapsed_s": 0.25}),
        (0, Event.RUN_ENDED, {})])
    with path.open("a") as f:  # a line whose fields do not validate, and a torn one
        f.write(json.dumps({"event": "fault_intent", "t": 9, "wall": 1.0, "fault": 3}) + "\n")
        f.write('{"event": "phase", "t": 9, "wal')
    plan = tree(path)
    bad, good = named(plan, "faultlab.check linearizable"), named(
        plan, "faultlab.check no_lost_writes")
    assert bad.error == "not linearizable at op 12" and good.error is None
    assert bad.end - bad.start == pytest.approx(0.5)
    assert bad.attributes["faultlab.check.ops_checked"] == 40
    assert not [s for s in plan.walk() if s.name.startswith("faultlab.fault")]
    assert all(plan.start <= s.start <= s.end <= plan.end for s in plan.walk())


def test_no_run_started_is_no_tree() -> None:
    assert run_tree([{"event": "phase", "t": 0, "wall": 1.0, "phase": "before"}]) is None


def test_exporting_is_on_only_with_an_endpoint_and_http_protobuf(
        capsys: pytest.CaptureFixture[str]) -> None:
    base = "http://127.0.0.1:4318"
    assert from_env({}) is None
    assert from_env({"OTEL_SERVICE_NAME": "x", "OTEL_EXPORTER_OTLP_HEADERS": "a=b"}) is None
    on = from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": base + "/"})
    assert on is not None and on.endpoint == base + "/v1/traces"
    assert on.timeout == DEFAULT_TIMEOUT
    own = from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": base,
                    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://h:1/custom",
                    "OTEL_EXPORTER_OTLP_TIMEOUT": "9"})
    assert own is not None and own.endpoint == "http://h:1/custom" and own.timeout is None
    for off in ({"OTEL_SDK_DISABLED": "true"}, {"OTEL_TRACES_EXPORTER": "none"}):
        assert from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": base, **off}) is None
    assert from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": base,
                     "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}) is not None
    assert capsys.readouterr().err == ""
    assert from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": base,
                     "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"}) is None
    err = capsys.readouterr().err
    assert err.startswith("faultlab: warning: OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=grpc: ")
    assert "hint:" in err


async def test_the_sdk_spans_keep_the_journaled_times_and_a_bad_traceparent_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = await journal(tmp_path, [(0, Event.PHASE, {"phase": "before"}),
                                    (1.5, Event.RUN_ENDED, {})])
    plan = tree(path)
    spans = {s.name: s for s in spans_of(plan)}
    root = spans["faultlab.run exp"]
    assert root.start_time == int(plan.start * 1e9) and root.end_time == int(plan.end * 1e9)
    phase = spans["faultlab.phase before"]
    assert phase.parent is not None and root.context is not None
    assert phase.parent.span_id == root.context.span_id
    assert root.resource.attributes["service.name"]
    assert parent_context({"TRACEPARENT": "00-zz-01"}) is None
    assert "is not a W3C traceparent" in capsys.readouterr().err
