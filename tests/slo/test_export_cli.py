"""``faultlab export openslo``: the command a user runs, as a real process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

OWN = """
name: own-slos
workload: {http: {url: "http://127.0.0.1:1/", rate: 10/s}}
slos:
  - {name: avail, success_ratio: 99.9%, window: 3s, budget: {period: 30d}}
  - {name: fast, latency: {p99: 250ms}}
"""


def faultlab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "faultlab", *args], capture_output=True,
                          text=True, timeout=60, check=False)


def test_export_writes_openslo_that_reads_back(tmp_path: Path) -> None:
    (tmp_path / "own.yaml").write_text(OWN)
    out = tmp_path / "slos.yaml"
    done = faultlab("export", "openslo", str(tmp_path / "own.yaml"), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert "wrote" in done.stderr and "2 SLOs" in done.stderr
    names = [d["metadata"]["name"] for d in yaml.safe_load_all(out.read_text())]
    assert names == ["avail", "fast"]
    printed = faultlab("export", "openslo", str(tmp_path / "own.yaml"))
    assert printed.returncode == 0 and printed.stdout == out.read_text()
    back = tmp_path / "back.yaml"
    back.write_text(OWN.split("slos:")[0] + "slos:\n  - {openslo: slos.yaml, measure: "
                    "workload}\n")
    assert faultlab("validate", str(back)).returncode == 0


def test_export_refuses_cleanly(tmp_path: Path) -> None:
    bare = tmp_path / "bare.yaml"
    bare.write_text("name: bare\n")
    done = faultlab("export", "openslo", str(bare))
    assert done.returncode == 2 and "has no SLOs" in done.stderr
    (tmp_path / "own.yaml").write_text(OWN)
    done = faultlab("export", "openslo", str(tmp_path / "own.yaml"), "-o",
                    str(tmp_path / "no" / "such" / "dir.yaml"))
    assert done.returncode == 2 and "cannot write" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "no").exists()
