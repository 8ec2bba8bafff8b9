"""Experiments with their own lab (system.lab): services inside lab hosts, faults on them,
everything removed after the run, and by `faultlab recover` after a SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from faultlab.lab.control import free_subnet, lab_down
from faultlab.lab.net import NETNS_DIR
from faultlab.lab.state import read_state

from .conftest import lab_name, write

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="labs need root")


def experiment(tmp_path: Path, name: str, net: str, length: str = "3s") -> Path:
    return write(tmp_path / "exp.yaml", f"""
name: lab-run
vars: {{net: "{net}"}}
system:
  lab:
    name: {name}
    subnet: ${{net}}.0/24
    hosts: {{n1: {{}}, n2: {{}}}}
  services:
    web:
      host: n1
      command: ["${{python}}", -m, http.server, --bind, "${{net}}.1", "8080"]
      ready: {{http: "http://${{net}}.1:8080/", timeout: 30s}}
targets:
  web: {{process: {{service: web}}}}
  n2: {{host: n2}}
workload:
  http: {{url: "http://${{net}}.1:8080/", rate: 20/s, timeout: 2s}}
slos:
  - {{name: served, success_ratio: 50%, window: 1s}}
hypothesis:
  during: {{hold: [served]}}
faults:
  - {{kind: pause, target: web, start: 1s, duration: 1s}}
  - kind: command
    target: n2
    inject: [sh, -c, "ip -4 -br addr show eth0 > {tmp_path}/n2-addr"]
    start: 0s
    duration: {length}
""")


def faultlab(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "faultlab", *args], capture_output=True,
                          text=True, timeout=timeout)


def test_a_run_brings_its_lab_up_runs_services_inside_and_removes_it(tmp_path: Path) -> None:
    name = lab_name("run")
    net = free_subnet().rsplit(".", 1)[0]
    exp = experiment(tmp_path, name, net)
    try:
        out = faultlab("run", str(exp), "--runs-dir", str(tmp_path / "runs"))
        assert out.returncode in (0, 1), out.stdout + out.stderr
        (run_dir,) = (tmp_path / "runs").iterdir()
        events = [json.loads(line) for line in (run_dir / "journal.jsonl").open()]
        kinds = [e["event"] for e in events]
        assert kinds.index("lab_starting") < kinds.index("lab_up") < kinds.index(
            "service_starting")
        assert kinds.index("service_stopped") < kinds.index("lab_down")
        up = next(e for e in events if e["event"] == "lab_up")
        assert up["hosts"] == {"n1": f"{net}.1", "n2": f"{net}.2"}
        # the command fault ran inside n2; the workload reached the service inside n1
        assert f"{net}.2/24" in (tmp_path / "n2-addr").read_text()
        result = json.loads((run_dir / "result.json").read_text())
        assert result["workloads"]["http"]["totals"]["ok"] > 0
        assert read_state(name) is None
        assert not list(NETNS_DIR.glob(f"fl-{name}-*"))
    finally:
        lab_down(name)


def test_recover_removes_the_lab_of_a_killed_run(tmp_path: Path) -> None:
    name = lab_name("crash")
    net = free_subnet().rsplit(".", 1)[0]
    exp = experiment(tmp_path, name, net, length="600s")
    runs = tmp_path / "runs"
    proc = subprocess.Popen([sys.executable, "-m", "faultlab", "run", str(exp),
                             "--runs-dir", str(runs)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "n2-addr").exists():
            assert proc.poll() is None, "the run ended before its command fault ran"
            assert time.monotonic() < deadline, "the command fault never ran"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        state = read_state(name)
        assert state is not None and state.owner  # the run's lab outlived it
        (run_dir,) = runs.iterdir()
        out = faultlab("recover", str(run_dir))
        assert out.returncode == 0, out.stdout + out.stderr
        assert f"lab '{name}' removed" in out.stdout
        assert read_state(name) is None and not list(NETNS_DIR.glob(f"fl-{name}-*"))
    finally:
        proc.kill()
        lab_down(name)


CLOCK_SERVICE = """
import asyncio, sys, time
async def main():
    with open(sys.argv[1], "a") as out:
        while True:
            out.write(f"{time.time()}\\n"); out.flush()
            await asyncio.sleep(0.05)   # Python 3.11's time.sleep fails under libfaketime
asyncio.run(main())
"""


def test_a_clock_fault_skews_a_service_inside_a_lab_host(tmp_path: Path) -> None:
    name = lab_name("clock")
    times = tmp_path / "times"
    exp = write(tmp_path / "clock.yaml", f"""
name: lab-clock
system:
  lab: {{name: {name}, hosts: {{n1: {{}}}}}}
  services:
    ticker: {{host: n1, command: ["${{python}}", -c, {json.dumps(CLOCK_SERVICE)}, "{times}"]}}
targets:
  ticker: {{process: {{service: ticker}}}}
faults:
  - {{kind: clock_skew, target: ticker, offset: "+1h", start: 1s, duration: 3s}}
hypothesis: {{after: {{observe: 3s}}}}   # libfaketime sees the reset within a second
""")
    before = time.time()
    try:
        out = faultlab("run", str(exp), "--runs-dir", str(tmp_path / "runs"), "-q")
    finally:
        lab_down(name)
    after = time.time()
    assert out.returncode == 0, out.stdout + out.stderr
    seen = [float(line) for line in times.read_text().split()]
    skewed = [t for t in seen if t > after + 3000]
    assert skewed and all(before + 3000 < t < after + 3700 for t in skewed)
    assert any(before - 5 < t < after + 5 for t in seen)  # and real time before and after
    assert before - 5 < seen[-1] < after + 5
