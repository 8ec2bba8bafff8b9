"""The shipped examples run end to end with their documented verdicts (examples/*/README.md):
real etcd and Redis clusters in labs, real partitions and crashes, real checkers."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from faultlab.lab.control import free_subnet, lab_down
from faultlab.lab.state import read_state

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900),  # real clusters, ~1 min a run
              pytest.mark.skipif(os.geteuid() != 0, reason="labs need root")]


def run_example(tmp_path: Path, file: str, *extra: str) -> tuple[int, dict[str, Any], str]:
    """Run an example in a lab of its own (unique name, a free subnet); its exit code, its
    result.json and its stdout. The lab is gone afterwards, whatever happened."""
    lab = f"ex{os.getpid()}-{tmp_path.name[-12:].strip('_')}"[:40]
    net = free_subnet().rsplit(".", 1)[0]
    runs = tmp_path / "runs"
    try:
        out = subprocess.run(
            [sys.executable, "-m", "faultlab", "run", str(EXAMPLES / file), "-q",
             "--runs-dir", str(runs), "--var", f"lab={lab}", "--var", f"net={net}", *extra],
            capture_output=True, text=True, timeout=600)
        assert read_state(lab) is None, "the run left its lab up"
    finally:
        lab_down(lab)
    assert "Traceback" not in out.stderr, out.stderr
    (run_dir,) = runs.iterdir()
    return out.returncode, json.loads((run_dir / "result.json").read_text()), out.stdout


def check(result: dict[str, Any]) -> dict[str, Any]:
    (only,) = result["checks"]
    return dict(only)


needs_etcd = pytest.mark.skipif(shutil.which("etcd") is None, reason="Debian's etcd-server")
needs_redis = pytest.mark.skipif(shutil.which("redis-server") is None,
                                 reason="Debian's redis-server")


@needs_etcd
def test_etcd_quorum_reads_are_linearizable_under_partitions_and_crashes(tmp_path: Path
                                                                         ) -> None:
    code, result, stdout = run_example(tmp_path, "etcd/linearizable.yaml")
    assert code == 0, stdout
    assert check(result)["verdict"] == "valid"
    kinds = {f["kind"] for f in result["faults"] if f.get("injected_at") is not None}
    assert {"partition", "restart"} <= kinds


@needs_etcd
def test_etcd_serializable_reads_are_stale_under_partition(tmp_path: Path) -> None:
    code, result, stdout = run_example(tmp_path, "etcd/serializable.yaml")
    assert code == 1, stdout
    verdict = check(result)
    assert verdict["verdict"] == "invalid"
    # the explanation names a read that saw an older value than the register held
    stale = re.search(r"it read (\d+), so the register must hold \1; it holds (\d+)",
                      verdict["detail"])
    assert stale and stale[1] != stale[2], verdict["detail"]
    report = (Path(result["run_dir"]) / "report.html").read_text()
    assert "not linearizable" in report and "had to complete first" in report


def lost_adds(result: dict[str, Any]) -> int:
    return sum(int(n) for n in re.findall(r"(\d+) acknowledged adds missing",
                                          check(result)["summary"]))


@needs_redis
def test_redis_failover_loses_acknowledged_writes_and_what_changes_it(tmp_path: Path
                                                                     ) -> None:
    code, asynchronous, stdout = run_example(tmp_path / "async", "redis/failover.yaml")
    assert code == 1, stdout
    assert check(asynchronous)["verdict"] == "invalid" and lost_adds(asynchronous) > 0

    code, bounded, stdout = run_example(
        tmp_path / "min-replicas", "redis/failover.yaml",
        "--var", "primary_flags=--min-replicas-to-write 1 --min-replicas-max-lag 1")
    assert code == 1, stdout
    # it stops taking writes about a second into the partition, instead of after nine
    assert 0 < lost_adds(bounded) < lost_adds(asynchronous)

    code, waited, stdout = run_example(tmp_path / "wait", "redis/failover.yaml",
                                       "--var", "wait=2")
    assert code == 0, stdout
    assert check(waited)["verdict"] == "valid"
