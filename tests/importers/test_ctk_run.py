"""Converted Chaos Toolkit experiments run end to end against a real service: the hypothesis
(http, JSONPath, process and python probes) holds when the method leaves the service alone,
and is violated when the method breaks it (an http action carrying a secret from the
environment); either way the rollbacks run at the end of the check window and the secret
is masked in the journal."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from faultlab.api import run_experiment
from faultlab.run.verdict import Status

from .conftest import TOKEN, Service, convert

PY = sys.executable
_FIX = ("import sys, urllib.request\n"
        "urllib.request.urlopen(urllib.request.Request(sys.argv[1] + '/fix', data=b'', "
        "method='POST'), timeout=5)\n")


def _experiment(base: str, marker: Path, *, break_it: bool) -> dict[str, Any]:
    if break_it:
        action = {"type": "action", "name": "break-the-service", "pauses": {"after": 1},
                  "provider": {"type": "http", "method": "POST", "url": "${base}/break",
                               "headers": {"X-Token": "${token}"}, "expected_status": 200,
                               "secrets": ["svc"]}}
    else:
        action = {"type": "action", "name": "leave-a-mark", "pauses": {"after": 1},
                  "provider": {"type": "python", "module": "tests.importers.ctk_probes",
                               "func": "touch", "arguments": {"path": str(marker)}}}
    return {
        "version": "1.0.0",
        "title": "The service stays healthy",
        "configuration": {"base": base},
        "secrets": {"svc": {"token": {"type": "env", "key": "CTK_RUN_TOKEN"}}},
        "steady-state-hypothesis": {"title": "healthy", "probes": [
            {"type": "probe", "name": "health", "tolerance": 200,
             "provider": {"type": "http", "url": "${base}/health", "timeout": 2}},
            {"type": "probe", "name": "db-up", "provider": {"type": "http",
                                                              "url": "${base}/health"},
             "tolerance": {"type": "jsonpath", "path": "$.checks[0].state", "expect": "up",
                           "target": "body"}},
            {"type": "probe", "name": "load-low", "provider": {"type": "http",
                                                                 "url": "${base}/load"},
             "tolerance": {"type": "range", "range": [0, 50], "target": "body"}},
            {"type": "probe", "name": "python-says-healthy", "tolerance": True,
             "provider": {"type": "python", "module": "tests.importers.ctk_probes",
                          "func": "healthy", "arguments": {"base": "${base}"}}},
        ]},
        "method": [action],
        "rollbacks": [{"type": "action", "name": "fix", "provider": {
            "type": "process", "path": PY, "arguments": ["-c", _FIX, "${base}"]}}],
    }


@pytest.mark.timeout(300)
@pytest.mark.parametrize("break_it", [False, True], ids=["held", "violated"])
def test_a_converted_experiment_runs(service: Service, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch, break_it: bool) -> None:
    monkeypatch.setenv("CTK_RUN_TOKEN", TOKEN)
    marker = tmp_path / "mark"
    conv = convert(_experiment(service.url, marker, break_it=break_it))
    assert conv.unconverted == []
    exp = tmp_path / "converted.yaml"
    exp.write_text(conv.text)
    before = service.state()
    result = run_experiment(exp, runs_dir=tmp_path / "runs", report=False)
    after = service.state()
    status = result.verdict.status
    during = [c for c in result.verdict.clauses if c.phase == "during"]
    if break_it:
        assert status is Status.VIOLATED, result.verdict.reasons
        assert during and not all(c.held for c in during)
        assert after["breaks"] == before["breaks"] + 1  # the secret token was accepted
        assert not marker.exists()
    else:
        assert status is Status.HELD, result.verdict.reasons
        assert during and all(c.held for c in during)
        assert marker.read_text() == "x"  # the python action ran
    before_clauses = [c for c in result.verdict.clauses if c.phase == "before"]
    assert len(before_clauses) == 4 and all(c.held for c in before_clauses)
    assert after["fixes"] == before["fixes"] + 1 and after["healthy"]  # rollbacks ran
    journals = list((tmp_path / "runs").rglob("journal.jsonl"))
    assert len(journals) == 1 and TOKEN not in journals[0].read_text()


@pytest.mark.timeout(300)
def test_a_broken_steady_state_stops_before_the_method(service: Service, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Converted through the command line, then run: the steady state fails, so the method
    never runs (as in Chaos Toolkit)."""
    monkeypatch.setenv("CTK_RUN_TOKEN", TOKEN)
    marker = tmp_path / "mark"
    source = tmp_path / "exp.json"
    source.write_text(json.dumps(_experiment(service.url, marker, break_it=False)))
    out = tmp_path / "out.yaml"
    done = subprocess.run([PY, "-m", "faultlab", "import", "chaostoolkit", str(source), "-o",
                           str(out), "--every", "250ms", "--steady-for", "1s", "--check-for",
                           "1s", "--python", PY], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert service.post("/break") == 200
    result = run_experiment(out, runs_dir=tmp_path / "runs", report=False)
    assert result.verdict.status is Status.STEADY_STATE_FAILED, result.verdict.reasons
    assert not marker.exists()
