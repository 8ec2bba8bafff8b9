"""The run record: built from real verdicts, written and read back, its schema, and a clear
one-line error for every file that is not a record."""

from __future__ import annotations

import json
import logging
import math
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from faultlab import __version__
from faultlab.cli import app
from faultlab.experiment import load_experiment_text
from faultlab.experiment.loader import LoadedExperiment
from faultlab.journal import Redactor
from faultlab.record import RecordError, RunRecord, record_schema
from faultlab.run.checks import CheckOutcome
from faultlab.run.outputs import result_document, write_junit, write_result
from faultlab.run.verdict import ClauseResult, FaultRecord, Status, Verdict

EXPERIMENT = """
version: 1
name: shop
workloads:
  web: {kind: http, url: "http://127.0.0.1:9/", rate: 10/s}
slos:
  - {name: fast, latency: {p99: 300ms}, window: 2s}
faults:
  - {name: mark, kind: command, inject: "true", revert: "true", duration: 2s}
"""

TOTALS = {"seconds": 9, "planned": 90, "sent": 88, "ok": 80, "failed": 5, "timed_out": 3,
          "dropped": 2, "success_ratio": 80 / 90, "p50": 0.004, "p90": 0.01, "p99": 0.31,
          "max": 1.0, "ok_p50": 0.004, "ok_p99": 0.2}
GENERATOR = {"planned": 90, "sent": 88, "dropped": 2, "late": 0, "max_lag": 0.001,
             "saturated": True, "reason": "2 of 90 planned requests were dropped",
             "warmup": {"seconds": 1.0, "planned": 10, "sent": 10, "dropped": 0,
                        "max_lag": 0.0}}


def _loaded() -> LoadedExperiment:
    return load_experiment_text(EXPERIMENT, "shop.yaml")


def _verdict(**changes: Any) -> Verdict:
    clauses = [
        ClauseResult("before", "fast", "p99 <= 300ms", True, 0.01, 0.3, "s", 3, 0, (0, 2),
                     "worst 10ms", workload="web"),
        ClauseResult("during", "fast", "p99 <= 300ms", False, math.nan, 0.3, "s", 2, 2,
                     (3, 5), "no figure", workload="web"),
        ClauseResult("after", "fast", "p99 <= 300ms", True, 0.02, 0.3, "s", 2, 0, (6, 8),
                     "recovered", 0.5, 3.0, workload="web")]
    faults = [FaultRecord("mark", "command", "", {"inject": "true", "revert": "true"}, 0.0,
                          2.0, 3.0, 5.0, 12.0, True, None, 0.5, ""),
              FaultRecord("cut", "down", "a+b", {"after": "1s"}, 1.0, 1.0, None, None, None,
                          None, "inject failed: refused", None, "not injected")]
    checks = [CheckOutcome("set", "invalid", 12, "set: invalid: 1 lost", "lost 3", 0.25,
                           {"anomalies": [{"kind": "lost", "message": "3 lost", "ops": [4]}]}),
              CheckOutcome("linearizable", "valid", 12, "linearizable: valid", "", 0.5)]
    verdict = Verdict(Status.VIOLATED, ["hypothesis violated: during: fast"], clauses, faults,
                      dict(GENERATOR), dict(TOTALS), checks, {},
                      {"web": {"kind": "http", "measured": True, "totals": dict(TOTALS),
                               "generator": dict(GENERATOR), "history": None}})
    for k, v in changes.items():
        setattr(verdict, k, v)
    return verdict


def _record(verdict: Verdict | None = None, **kw: Any) -> RunRecord:
    return RunRecord.from_verdict(verdict or _verdict(), _loaded(), Path("runs/x"), 7,
                                  ["faultlab", "run", "shop.yaml"], **kw)


def test_a_verdict_becomes_the_record() -> None:
    r = _record(drop_unknown=False)
    assert (r.record_version, r.faultlab_version, r.seed, r.status, r.exit_code) == (
        1, __version__, 7, Status.VIOLATED, 1)
    assert r.experiment.name == "shop" and len(r.experiment.sha256) == 64
    assert [c.name for c in r.clauses] == ["before: fast", "during: fast", "after: fast"]
    assert r.clauses[1].measured is None  # NaN stays out
    assert r.clauses[2].recovery_time == 0.5 and r.clauses[0].worst_window == (0, 2)
    assert [f.targets for f in r.faults] == [[], ["a", "b"]]
    assert r.faults[1].target == "a+b" and r.faults[0].params == {"inject": "true",
                                                                  "revert": "true"}
    assert r.workload == r.workloads["web"].totals and r.workload is not None
    assert r.workload.dropped == 2 and r.generator is not None and r.generator.saturated
    assert r.history is None
    assert [(c.kind, c.passed) for c in r.checks] == [("set", False), ("linearizable", True)]
    assert r.checks[0].evidence.anomalies[0].ops == [4]


def test_the_record_round_trips_through_result_json(tmp_path: Path) -> None:
    record = _record()
    path = write_result(record, tmp_path, Redactor())
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    doc = json.loads(text)
    assert doc["clauses"][1]["name"] == "during: fast" and doc["checks"][0]["passed"] is False
    assert doc["workload"]["planned"] == 90  # the single-workload view, for its readers
    assert RunRecord.load(path) == record
    jsonschema.Draft202012Validator(record_schema()).validate(doc)
    # the names api.finish calls today give the same file
    doc2 = result_document(_verdict(), _loaded(), Path("runs/x"), 7,
                           ["faultlab", "run", "shop.yaml"])
    write_result(doc2, tmp_path, Redactor())
    assert RunRecord.load(path) == record


def test_secrets_are_redacted_on_the_way_out(tmp_path: Path) -> None:
    secret = "s3cr3t-value-42"
    verdict = _verdict(reasons=[f"failed with {secret}"])
    verdict.faults[0].params = {"inject": f"curl -H 'token: {secret}'"}
    record = RunRecord.from_verdict(verdict, _loaded(), tmp_path, 7,
                                    ["faultlab", "run", f"--var=t={secret}"])
    redactor = Redactor({secret: "TOKEN"})
    text = write_result(record, tmp_path, redactor).read_text()
    junit = write_junit(record, "shop", tmp_path, redactor).read_text()
    assert secret not in text and secret not in junit
    back = RunRecord.load(tmp_path / "result.json")
    assert back.reasons == ["failed with ${env:TOKEN}"]
    assert back.command[-1] == "--var=t=${env:TOKEN}"


def test_junit_from_the_record_is_junit_from_the_verdict(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    write_junit(_record(), "shop", a, Redactor())
    write_junit(_verdict(), "shop", b, Redactor())
    assert (a / "junit.xml").read_text() == (b / "junit.xml").read_text()
    suite = ET.parse(a / "junit.xml").getroot()
    failed = [c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None]
    assert failed == ["during: fast (p99 <= 300ms)", "check: set", "revert: cut"]
    assert suite.get("tests") == "7" and suite.get("failures") == "3"


def test_a_workload_figure_the_record_does_not_know(caplog: pytest.LogCaptureFixture) -> None:
    verdict = _verdict()
    verdict.workloads["web"]["totals"] = {**TOTALS, "p75": 0.2}
    with pytest.raises(ValidationError, match="p75"):
        _record(verdict, drop_unknown=False)  # what the tests see: add it to the record
    with caplog.at_level(logging.WARNING):
        record = _record(verdict)  # what a run does: keep its result
    assert record.workload is not None and record.workload.p99 == 0.31
    assert "p75" in caplog.text


def test_a_verdict_of_one_unnamed_workload_is_named_after_the_experiments() -> None:
    verdict = _verdict(workloads={})
    record = _record(verdict, drop_unknown=False)
    assert list(record.workloads) == ["web"] and record.workloads["web"].kind == "http"
    assert record.workload is not None and record.workload.planned == 90
    assert _record(_verdict(workloads={}, workload={}, generator={})).workloads == {}


def _write(tmp_path: Path, doc: Any) -> Path:
    path = tmp_path / "result.json"
    path.write_text(json.dumps(doc))
    return path


def _good() -> dict[str, Any]:
    return _record().model_dump(mode="json")


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d.pop("record_version"), r"written by faultlab 0\.1\.0 before run records had "
                                        r"a version \(hint: re-run"),
    (lambda d: d.update(record_version=2), r"record version 2 is newer than this faultlab "
                                           r"reads \(1\) \(hint: upgrade faultlab\)"),
    (lambda d: d.update(record_version="1"), r"record_version \"1\" is not a version"),
    (lambda d: d.update(exit_code=0), r"\(top level\): exit_code 0 does not go with status "
                                      r"'violated'"),
    (lambda d: d["clauses"][0].update(name="during: fast"), r"clauses\[0\]: 'name' is "
                                                            r"'during: fast' but"),
    (lambda d: d["checks"][1].update(passed=False), r"checks\[1\]: 'passed' is False"),
    (lambda d: d.update(workload=None), r"'workload' is None but"),
    (lambda d: d["faults"][0].update(colour="red"), r"faults\[0\]\.colour: Extra inputs"),
    (lambda d: d["workloads"]["web"]["totals"].update(sent="many"),
     r"workloads\.web\.totals\.sent: Input should be a valid integer"),
    (lambda d: d["clauses"][0].update(phase="later"), r"clauses\[0\]\.phase: Input should be "
                                                      r"'before', 'during' or 'after'"),
])
def test_a_damaged_record_is_one_clear_line(tmp_path: Path, change: Any, message: str) -> None:
    doc = _good()
    change(doc)
    with pytest.raises(RecordError, match=message) as e:
        RunRecord.load(_write(tmp_path, doc))
    assert str(e.value).startswith(f"{tmp_path / 'result.json'}: ")
    assert "\n" not in str(e.value) and "hint: " in str(e.value)


@pytest.mark.parametrize(("text", "message"), [
    ('{"a": ', r"result\.json:1:7: not JSON: Expecting value"),
    ('"done"', r"not a faultlab run record: the file holds a string"),
    ('{"name": "x"}', r"not a faultlab run record: no record_version"),
    ("\udcff", r"cannot be read"),
])
def test_a_foreign_file_is_one_clear_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "result.json"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    with pytest.raises(RecordError, match=message) as e:
        RunRecord.load(path)
    assert "\n" not in str(e.value) and "hint: " in str(e.value)


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RecordError, match=r"no such file \(hint: "):
        RunRecord.load(tmp_path / "result.json")


def _properties(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    out = [("RunRecord", k, v) for k, v in schema["properties"].items()]
    for name, part in schema["$defs"].items():
        out += [(name, k, v) for k, v in part.get("properties", {}).items()]
    return out


def test_every_field_of_the_schema_has_a_description() -> None:
    schema = record_schema()
    fields = _properties(schema)
    assert len(fields) > 80
    missing = [f"{part}.{name}" for part, name, prop in fields if not prop.get("description")]
    assert missing == []
    assert schema["title"] == "faultlab run record (version 1)"
    assert schema["properties"]["record_version"]["const"] == 1
    derived = {(p, n) for p, n, prop in fields if prop.get("readOnly")}
    assert derived == {("ClauseEntry", "name"), ("CheckEntry", "passed"),
                       ("FaultEntry", "target"), ("RunRecord", "workload"),
                       ("RunRecord", "generator"), ("RunRecord", "history")}
    jsonschema.Draft202012Validator.check_schema(schema)


def test_the_schema_commands() -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["schema", "--result"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == record_schema()
    experiment = runner.invoke(app, ["schema"])
    assert experiment.exit_code == 0
    doc = json.loads(experiment.output)
    assert doc["title"] == "faultlab experiment (version 1)" and "faults" in doc["properties"]
    # built from experiment_model(): the registered fault kinds are in it
    assert "command" in json.dumps(doc["properties"]["faults"]) or "command" in json.dumps(
        doc.get("$defs", {}))
