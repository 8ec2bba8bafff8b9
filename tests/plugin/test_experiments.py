"""Experiment files collected as tests, in a small project run by ``pytester``: one item per
file, a pass when the hypothesis holds, a failure that names the violated clauses, the
reasons and the report, and invalid files as one-line collection errors."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from faultlab.experiment import ExperimentError, load_experiment_text

from .conftest import INI
from .servers import StatusServer


def command_experiment(name: str, state: Path, log: Path, inject: str = "") -> str:
    """A run with one command fault: inject creates ``state``, revert removes it; both
    append to ``log``, so the test sees that each ran, and in which order."""
    inject = inject or f"touch {state}; echo inject >> {log}"
    return f"""
name: {name}
faults:
  - kind: command
    inject: ["sh", "-c", "{inject}"]
    revert: ["sh", "-c", "rm -f {state}; echo revert >> {log}"]
    duration: 200ms
"""


UNAVAILABLE = """
name: always-503
vars: {port: 1}
workload:
  http: {url: "http://127.0.0.1:${port}/", rate: 20/s, timeout: 1s, expect_status: [200]}
slos:
  - {name: served, success_ratio: 99%, window: 1s}
hypothesis:
  before: {for: 1s}
  during: {hold: [served]}
  after: {recover_within: 1s, observe: 1s}
faults:
  - {kind: command, inject: "true", revert: "true", duration: 1s}
"""


def junit_properties(project: pytest.Pytester) -> dict[str, str]:
    return {str(p.get("name")): str(p.get("value"))
            for p in ET.parse(project.path / "junit.xml").iter("property")}


def test_a_held_experiment_is_one_passing_item(project: pytest.Pytester) -> None:
    state, log = project.path / "state", project.path / "log"
    project.makefile(".faultlab.yaml", touch=command_experiment("touch-state", state, log))

    result = project.runpytest("-v", "--junitxml=junit.xml")

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*touch.faultlab.yaml::touch-state PASSED*"])
    assert log.read_text().split() == ["inject", "revert"]
    assert not state.exists()
    run_dir = Path(junit_properties(project)["faultlab_run_dir"])
    assert run_dir.name.startswith("faultlab-touch-state")
    assert run_dir.parent.samefile(project.path.parent / "basetemp"), \
        "the run directory is under pytest's temporary directory"
    assert json.loads((run_dir / "result.json").read_text())["status"] == "held"


def test_a_violated_experiment_fails_with_its_clauses_reasons_and_report(
        project: pytest.Pytester, unavailable_server: StatusServer) -> None:
    project.makefile(".faultlab.yaml", unavailable=UNAVAILABLE)

    result = project.runpytest(f"--faultlab-var=port={unavailable_server.port}",
                                "--junitxml=junit.xml")

    result.assert_outcomes(failed=1)
    run_dir = Path(junit_properties(project)["faultlab_run_dir"])
    doc = json.loads((run_dir / "result.json").read_text())
    violated = [c for c in doc["clauses"] if not c["held"]]
    assert [c["name"] for c in violated] == ["during: served"]
    result.stdout.fnmatch_lines([
        "*_ faultlab experiment always-503 _*",
        "experiment 'always-503': violated (exit code 1)",
        "violated clauses:",
        *(f"  {c['name']}: {c['detail']}" for c in violated),
        "reasons:",
        *(f"  {r}" for r in doc["reasons"]),
        f"report: {run_dir / 'report.html'}",
        f"run directory: {run_dir}",
    ])
    assert "Traceback" not in result.stdout.str()
    assert (run_dir / "report.html").is_file()
    assert junit_properties(project)["faultlab_report"] == str(run_dir / "report.html")


def test_a_run_that_cannot_apply_its_fault_fails_with_the_error(
        project: pytest.Pytester) -> None:
    state, log = project.path / "state", project.path / "log"
    project.makefile(".faultlab.yaml", broken=command_experiment(
        "inject-fails", state, log, inject=f"touch {state}; exit 3"))

    result = project.runpytest("--junitxml=junit.xml")

    result.assert_outcomes(failed=1)
    run_dir = Path(junit_properties(project)["faultlab_run_dir"])
    reasons = json.loads((run_dir / "result.json").read_text())["reasons"]
    assert any("could not be applied" in r for r in reasons)
    result.stdout.fnmatch_lines(["experiment 'inject-fails': error (exit code 4)",
                                 "reasons:", *(f"  {r}" for r in reasons)])
    assert not state.exists(), "the run reverted the fault whose inject failed"


def test_an_invalid_file_is_a_collection_error_of_located_lines(
        project: pytest.Pytester) -> None:
    text = """\
name: bad
targets:
  link: {proxy: {listen: "127.0.0.1:1", upstream: "127.0.0.1:2"}}
faults:
  - {kind: latency, target: link, delay: 200, duration: 1s, dealy: 5ms}
"""
    project.makefile(".faultlab.yaml", bad=text)
    with pytest.raises(ExperimentError) as loading:
        load_experiment_text(text, "bad.faultlab.yaml")
    assert [p.path for p in loading.value.problems] == ["faults[0].delay", "faults[0].dealy"]

    result = project.runpytest()

    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([
        "*_ ERROR collecting bad.faultlab.yaml _*",
        *(str(p) for p in loading.value.problems),
        "*short test summary*",
    ])
    out = result.stdout.str()
    assert "Traceback" not in out and "faultlab/experiment" not in out


def test_file_patterns_and_runs_directory_come_from_the_ini_file(
        project: pytest.Pytester) -> None:
    project.makeini(INI + "faultlab_files = *.chaos.yml\nfaultlab_runs_dir = runs\n")
    log = project.path / "log"
    project.makefile(".chaos.yml", one=command_experiment("one", project.path / "s1", log))
    project.makefile(".faultlab.yaml", two=command_experiment("two", project.path / "s2",
                                                               log))

    result = project.runpytest("-v")

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*one.chaos.yml::one PASSED*"])
    assert len(list((project.path / "runs").glob("*-one/result.json"))) == 1

    result = project.runpytest("--faultlab-runs-dir=elsewhere", "-m", "faultlab")
    result.assert_outcomes(passed=1)
    assert len(list((project.path / "elsewhere").glob("*-one/result.json"))) == 1

    result = project.runpytest("-m", "not faultlab")
    result.assert_outcomes(deselected=1)
