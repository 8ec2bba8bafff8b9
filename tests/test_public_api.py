"""The public surface of ``faultlab`` is locked: adding or removing a name is a decision."""

from __future__ import annotations

from pathlib import Path

import pytest

import faultlab


def test_all_is_locked() -> None:
    assert sorted(faultlab.__all__) == [
        "ExperimentError", "FaultlabError", "RunDirError", "RunResult", "__version__",
        "arun_experiment", "load_experiment", "run_experiment"]


def test_every_name_resolves() -> None:
    for name in faultlab.__all__:
        assert getattr(faultlab, name) is not None
    assert issubclass(faultlab.ExperimentError, faultlab.FaultlabError)
    assert issubclass(faultlab.RunDirError, faultlab.FaultlabError)


def test_run_experiment_returns_a_typed_result(tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    exp = tmp_path / "api.yaml"
    exp.write_text(f"""
version: 1
name: api
faults:
  - {{name: mark, kind: command, inject: "touch {flag}", revert: "rm -f {flag}", duration: 1s}}
""")
    result = faultlab.run_experiment(exp, runs_dir=tmp_path / "runs")
    assert result.held and result.exit_code == 0
    assert [f.name for f in result.faults] == ["mark"] and result.faults[0].revert_ok
    assert result.result_json.exists() and result.junit_xml.exists()
    assert result.report_html is not None and result.report_html.exists()
    assert not flag.exists()
    with pytest.raises(faultlab.RunDirError, match="already holds a run"):
        faultlab.run_experiment(exp, run_dir=result.run_dir)
