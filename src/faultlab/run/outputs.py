"""A run's files for machines: ``result.json`` (the verdict and its evidence) and
``junit.xml`` (one test case per hypothesis clause, plus one per fault's revert)."""

from __future__ import annotations

import json
import math
import os
import xml.etree.ElementTree as ET
from dataclasses import asdict
from pathlib import Path
from typing import Any

from faultlab import __version__
from faultlab.experiment.loader import LoadedExperiment
from faultlab.journal import Redactor
from faultlab.run.verdict import ClauseResult, Verdict
from faultlab.units import format_duration

__all__ = ["result_document", "write_junit", "write_result"]


def result_document(verdict: Verdict, loaded: LoadedExperiment, run_dir: Path, seed: int,
                    argv: list[str]) -> dict[str, Any]:
    return {
        "faultlab_version": __version__,
        "experiment": {"name": loaded.experiment.name, "file": loaded.source,
                       "sha256": loaded.sha256},
        "run_dir": str(run_dir),
        "seed": seed,
        "command": argv,
        "status": verdict.status.value,
        "exit_code": int(verdict.exit_code),
        "reasons": verdict.reasons,
        "clauses": [{**asdict(c), "name": c.name} for c in verdict.clauses],
        "faults": [asdict(f) for f in verdict.faults],
        "workload": verdict.workload,
        "generator": verdict.generator,
        "history": verdict.history,
        "checks": [asdict(c) | {"passed": c.passed} for c in verdict.checks],
    }


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_result(doc: dict[str, Any], run_dir: Path, redactor: Redactor) -> Path:
    path = run_dir / "result.json"
    _atomic_write(path, json.dumps(redactor.value(_finite(doc)), indent=2) + "\n")
    return path


def _figure(c: ClauseResult, value: float | None) -> str:
    if value is None:
        return "no data"
    return format_duration(value) if c.unit == "s" else f"{value:.2%}"


def write_junit(verdict: Verdict, experiment: str, run_dir: Path, redactor: Redactor) -> Path:
    suite = ET.Element("testsuite", name=f"faultlab.{experiment}")
    cases = 0
    failures = 0
    for c in verdict.clauses:
        cases += 1
        case = ET.SubElement(suite, "testcase", classname=f"faultlab.{experiment}",
                             name=f"{c.phase}: {c.slo} ({c.objective})")
        ET.SubElement(case, "system-out").text = redactor.text(
            f"measured {_figure(c, c.measured)}; {c.detail}")
        if not c.held:
            failures += 1
            ET.SubElement(case, "failure", message=redactor.text(c.detail),
                          type="HypothesisViolated").text = redactor.text(
                f"{c.name}: {c.objective}: measured {_figure(c, c.measured)} "
                f"(worst window {c.worst_window}); {c.detail}")
    for check in verdict.checks:
        cases += 1
        case = ET.SubElement(suite, "testcase", classname=f"faultlab.{experiment}.checks",
                             name=f"check: {check.kind}")
        ET.SubElement(case, "system-out").text = redactor.text(check.detail)
        if not check.passed:
            failures += 1
            ET.SubElement(case, "failure", message=redactor.text(check.summary),
                          type=f"History{check.verdict.capitalize()}").text = redactor.text(
                check.detail)
    for f in verdict.faults:
        if f.injected_at is None and f.error is None:
            continue
        cases += 1
        case = ET.SubElement(suite, "testcase", classname=f"faultlab.{experiment}.faults",
                             name=f"revert: {f.name}")
        if f.revert_ok is False or f.error:
            failures += 1
            ET.SubElement(case, "failure", message=redactor.text(f.error or "revert failed"),
                          type="FaultError")
    if verdict.status.value not in ("held", "violated"):
        cases += 1
        failures += 1
        case = ET.SubElement(suite, "testcase", classname=f"faultlab.{experiment}",
                             name=f"run: {verdict.status.value}")
        ET.SubElement(case, "failure", message=redactor.text("; ".join(verdict.reasons)),
                      type=verdict.status.value)
    suite.set("tests", str(cases))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    ET.indent(suite)
    path = run_dir / "junit.xml"
    _atomic_write(path, '<?xml version="1.0" encoding="utf-8"?>\n'
                  + ET.tostring(suite, encoding="unicode") + "\n")
    return path
