"""A run's files for machines: ``result.json`` (the :class:`~faultlab.record.RunRecord`) and
``junit.xml`` (one test case per hypothesis clause and history check, plus one per fault's
revert), both written from the record, through the run's redactor, atomically.

``api.finish`` calls ``result_document`` / ``write_result`` / ``write_junit``; the first two
also accept and return the record itself (``run_record`` builds it).
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faultlab.journal import Redactor
from faultlab.record import CheckEntry, ClauseEntry, FaultEntry, RunRecord, Unit
from faultlab.record.build import check_entry, clause_entry, fault_entry
from faultlab.run.verdict import Status
from faultlab.units import format_duration

if TYPE_CHECKING:
    from faultlab.experiment.loader import LoadedExperiment
    from faultlab.run.verdict import Verdict

__all__ = ["RESULT_NAME", "junit_suite", "result_document", "run_record", "write_junit",
           "write_result"]

RESULT_NAME = "result.json"
JUNIT_NAME = "junit.xml"


def run_record(verdict: Verdict, loaded: LoadedExperiment, run_dir: Path, seed: int,
               argv: list[str]) -> RunRecord:
    return RunRecord.from_verdict(verdict, loaded, run_dir, seed, argv)


def result_document(verdict: Verdict, loaded: LoadedExperiment, run_dir: Path, seed: int,
                    argv: list[str]) -> dict[str, Any]:
    """The record as JSON values (what ``result.json`` holds before redaction)."""
    return run_record(verdict, loaded, run_dir, seed, argv).model_dump(mode="json")


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


def write_result(record: RunRecord | dict[str, Any], run_dir: Path, redactor: Redactor) -> Path:
    """Write ``result.json``: the record, every string (and any value equal to a secret)
    through ``redactor``. A dict is validated as a record first."""
    if not isinstance(record, RunRecord):
        record = RunRecord.from_json_value(record, "the run's result")
    doc = redactor.value(record.model_dump(mode="json"))
    path = run_dir / RESULT_NAME
    _atomic_write(path, json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    return path


def _figure(c: ClauseEntry, value: float | None) -> str:
    if value is None:
        return "no data"
    return format_duration(value) if c.unit is Unit.SECONDS else f"{value:.2%}"


def _window(c: ClauseEntry) -> str:
    return f"{c.worst_window[0]}s-{c.worst_window[1]}s" if c.worst_window else "none"


def junit_suite(record: RunRecord | Verdict, experiment: str, redactor: Redactor
                ) -> ET.Element:
    """The test suite of a run: from its record, or from its verdict's parts as the record
    holds them."""
    if not isinstance(record, RunRecord):
        return _suite(record.status, record.reasons, [clause_entry(c) for c in record.clauses],
                      [check_entry(c) for c in record.checks],
                      [fault_entry(f) for f in record.faults], experiment, redactor)
    return _suite(record.status, record.reasons, record.clauses, record.checks, record.faults,
                  experiment, redactor)


def _suite(status: Status, reasons: list[str], clauses: list[ClauseEntry],
           checks: list[CheckEntry], faults: list[FaultEntry], experiment: str,
           redactor: Redactor) -> ET.Element:
    suite = ET.Element("testsuite", name=f"faultlab.{experiment}")
    cases = failures = 0

    def case(classname: str, name: str) -> ET.Element:
        nonlocal cases
        cases += 1
        return ET.SubElement(suite, "testcase", classname=redactor.text(classname),
                             name=redactor.text(name))

    def failure(parent: ET.Element, message: str, kind: str, text: str | None = None) -> None:
        nonlocal failures
        failures += 1
        ET.SubElement(parent, "failure", message=redactor.text(message),
                      type=kind).text = None if text is None else redactor.text(text)

    base = f"faultlab.{experiment}"
    for c in clauses:
        tc = case(base, f"{c.name} ({c.objective})")
        ET.SubElement(tc, "system-out").text = redactor.text(
            f"measured {_figure(c, c.measured)}; {c.detail}")
        if not c.held:
            failure(tc, c.detail, "HypothesisViolated",
                    f"{c.name}: {c.objective}: measured {_figure(c, c.measured)} "
                    f"(worst window {_window(c)}); {c.detail}")
    for check in checks:
        tc = case(f"{base}.checks", f"check: {check.kind}")
        ET.SubElement(tc, "system-out").text = redactor.text(check.detail)
        if not check.passed:
            failure(tc, check.summary, f"History{check.verdict.value.capitalize()}",
                    check.detail)
    for f in faults:
        if f.injected_at is None and f.error is None:
            continue
        tc = case(f"{base}.faults", f"revert: {f.name}")
        if f.revert_ok is False or f.error:
            failure(tc, f.error or "revert failed", "FaultError")
    if status not in (Status.HELD, Status.VIOLATED):
        tc = case(base, f"run: {status.value}")
        failure(tc, "; ".join(reasons), status.value)
    suite.set("tests", str(cases))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    return suite


def write_junit(source: RunRecord | Verdict, experiment: str, run_dir: Path,
                redactor: Redactor) -> Path:
    """Write ``junit.xml`` from the run's record (or its verdict, as ``api.finish`` calls
    it: the same parts, built the record's way)."""
    suite = junit_suite(source, experiment, redactor)
    ET.indent(suite)
    path = run_dir / JUNIT_NAME
    _atomic_write(path, '<?xml version="1.0" encoding="utf-8"?>\n'
                  + ET.tostring(suite, encoding="unicode") + "\n")
    return path
