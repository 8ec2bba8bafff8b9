"""`faultlab run` with a history workload and checks: a store that loses acknowledged writes
on a crash is caught; the same crash against the durable store passes."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from faultlab.experiment import ExperimentError, load_experiment_text

from .conftest import free_port, run_faultlab

pytestmark = pytest.mark.slow

EXPERIMENT = """
name: kv-crash
system:
  services:
    kv:
      command: ["${{python}}", -m, faultlab.demo.services, kv, --port, "{port}",
                --data-file, "{data}"{flag}]
      ready: {{tcp: "127.0.0.1:{port}"}}
targets:
  kv: {{process: {{service: kv}}}}
workload:
  history: {{client: kv-http, address: "127.0.0.1:{port}", model: set, rate: 100/s,
             keys: 2, timeout: 500ms}}
checks: [linearizable, set]
hypothesis:
  before: {{for: 1500ms}}
  after: {{recover_within: 2s}}
faults:
  - {{name: crash, target: kv, kind: restart, signal: SIGKILL, duration: 1s}}
"""


def run(tmp_path: Path, lossy: bool) -> tuple[int, dict[str, object], Path]:
    exp = tmp_path / "kv.yaml"
    flag = ", --lose-unsynced-writes" if lossy else ""
    exp.write_text(EXPERIMENT.format(port=free_port(), data=tmp_path / "kv.log", flag=flag))
    run_dir = tmp_path / "run"
    result = run_faultlab(["run", str(exp), "--run-dir", str(run_dir), "--quiet"])
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, json.loads((run_dir / "result.json").read_text()), run_dir


def test_lost_acknowledged_writes_are_caught(tmp_path: Path, run_dirs: list[Path]) -> None:
    run_dirs.append(tmp_path / "run")
    code, doc, run_dir = run(tmp_path, lossy=True)
    assert code == 1, doc["reasons"]
    assert doc["status"] == "violated"
    checks = {c["kind"]: c for c in doc["checks"]}  # type: ignore[attr-defined]
    assert checks["set"]["verdict"] == "invalid"
    assert "acknowledged adds missing" in checks["set"]["detail"]
    assert (run_dir / "history.jsonl").stat().st_size > 0
    suite = ET.parse(run_dir / "junit.xml").getroot()
    failed = {c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None}
    assert "check: set" in failed


def test_durable_store_survives_the_same_crash(tmp_path: Path, run_dirs: list[Path]) -> None:
    run_dirs.append(tmp_path / "run")
    code, doc, _ = run(tmp_path, lossy=False)
    assert code == 0, doc["reasons"]
    checks = doc["checks"]
    assert isinstance(checks, list)
    assert [c["verdict"] for c in checks] == ["valid", "valid"]
    history = doc["history"]
    assert isinstance(history, dict)
    assert history["ok"] > 100


@pytest.mark.parametrize(("body", "message"), [
    ("checks: [set]\n", "checks judge a recorded history"),
    ("workload: {history: {client: redis, address: '127.0.0.1:6379', model: register}}\n"
     "checks: [set]\n", "does not apply to the register model"),
    ("workload: {history: {client: mongo, address: '127.0.0.1:1', model: set}}\n",
     "mongo"),
])
def test_check_configuration_errors(body: str, message: str) -> None:
    with pytest.raises(ExperimentError) as e:
        load_experiment_text("name: t\n" + body, "x.yaml")
    assert message in str(e.value)
