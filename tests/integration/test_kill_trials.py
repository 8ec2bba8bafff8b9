"""Kill trials: SIGKILL, SIGINT or SIGTERM at a random moment of a run's whole life (set-up,
steady state, faults, recovery, tear-down), then ``faultlab recover``. Afterwards nothing
may be left: no process carrying the run's marker, no toxic or disabled proxy on the run's
proxy server, no paused process; and what the run wrote must be true (an interrupted run's
verdict says interrupted and every fault reverted).

The moments are drawn from a seeded generator (printed), bounded in number and time."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from faultlab.hosts import local_host
from faultlab.ports import free_ports
from faultlab.run.setup import MARKER_ENV

from .conftest import faultlab, is_stopped, journal, run_faultlab, wait_for

pytestmark = pytest.mark.slow

EXPERIMENT = """
version: 1
name: trial
system:
  services:
    data:
      command: ["${{python}}", -m, faultlab.demo.services, data, --port, "{data}"]
      ready: {{http: "http://127.0.0.1:{data}/health", timeout: 30s}}
    sleeper: {{command: [sleep, "300"]}}
targets:
  link: {{proxy: {{listen: "127.0.0.1:{proxy}", upstream: "127.0.0.1:{data}"}}}}
  sleeper: {{process: {{service: sleeper}}}}
workload:
  http: {{url: "http://127.0.0.1:{proxy}/item/1", rate: 20/s, timeout: 1s}}
hypothesis:
  before: {{for: 1s}}
  after: {{recover_within: 1s, observe: 1s}}
faults:
  - {{name: slow, kind: latency, target: link, delay: 50ms, duration: 1500ms}}
  - {{name: cut, kind: down, target: link, start: 1500ms, duration: 1s}}
  - {{name: frozen, kind: pause, target: sleeper, duration: 2s}}
  - {{name: mark, kind: command, inject: "touch {flag}", revert: "rm -f {flag}",
     duration: 2s}}
revert: {{lease_grace: 2s}}
"""


def _leftovers(run_dir: Path) -> list[str]:
    events = journal(run_dir)
    marker = next((e.get("marker") for e in events if e["event"] == "run_started"), None)
    out = []
    if marker:
        out += [f"process {p.pid}" for p in local_host().processes_with_env(MARKER_ENV, marker)]
    for e in events:
        if e["event"] == "service_started" and is_stopped(int(e["pid"])):
            out.append(f"paused {e['pid']}")
    return out


@pytest.mark.parametrize("trial", range(int(os.environ.get("FAULTLAB_KILL_TRIALS", "6"))))
def test_kill_at_a_random_moment_leaves_nothing(tmp_path: Path, run_dirs: list[Path],
                                               trial: int) -> None:
    rng = random.Random(1000 + trial)
    sig = [signal.SIGKILL, signal.SIGINT, signal.SIGKILL, signal.SIGTERM][trial % 4]
    delay = rng.uniform(0.0, 6.0)  # a whole run lasts about 5 s after its set-up
    print(f"trial {trial}: {sig.name} after {delay:.2f}s")
    flag = tmp_path / "flag"
    exp = tmp_path / "trial.yaml"
    data, proxy = free_ports(2)
    exp.write_text(EXPERIMENT.format(data=data, proxy=proxy, flag=flag))
    run_dir = tmp_path / "run"
    run_dirs.append(run_dir)
    proc = subprocess.Popen(faultlab("run", str(exp), "--run-dir", str(run_dir), "-q"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: (run_dir / "journal.jsonl").exists() or proc.poll() is not None, 30,
                 "the run to start")
        time.sleep(delay)
        if proc.poll() is None:
            proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "Traceback" not in err and "never retrieved" not in err, err
    events = journal(run_dir)
    verdict = next((e for e in events if e["event"] == "verdict"), None)
    if sig is not signal.SIGKILL or verdict is not None:
        assert verdict is not None, err
        assert proc.returncode in (0, 1, 3), err
        if verdict["status"] == "interrupted":
            assert "every fault was reverted" in verdict["reasons"][0]
        assert _leftovers(run_dir) == []
        assert not flag.exists()
    result = run_faultlab(["recover", str(run_dir)])
    assert result.returncode == 0, result.stdout + result.stderr
    wait_for(lambda: _leftovers(run_dir) == [], 10, "the run's processes to end")
    assert not flag.exists()
