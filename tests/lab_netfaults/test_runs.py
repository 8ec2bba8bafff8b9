"""A real ``faultlab run`` partitions a lab and is SIGKILLed during the partition: the
watchdog removes the tables when the lease lapses; or ``faultlab recover`` removes them at
once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from faultlab.journal import read_journal

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="labs need root"),
              pytest.mark.slow]

EXPERIMENT = """
version: 1
name: netpart
hosts:
  n1: {{kind: lab, lab: {lab}, host: n1}}
  n2: {{kind: lab, lab: {lab}, host: n2}}
  n3: {{kind: lab, lab: {lab}, host: n3}}
targets:
  a: {{host: n1}}
  b: {{host: n2}}
  c: {{host: n3}}
faults:
  - {{name: split, kind: partition, mode: isolate, hosts: [a, b, c], duration: {duration}}}
  - {{name: slow, kind: net_latency, from: [a], to: [b], ports: [{port}], delay: 20ms,
     duration: {duration}}}
revert: {{lease_grace: 1s}}
"""


def journal(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "journal.jsonl"
    return list(read_journal(path)) if path.exists() else []


def start_run(cluster: Any, kit: Any, tmp_path: Path, duration: str
              ) -> tuple[subprocess.Popen[bytes], Path]:
    exp = tmp_path / "exp.yaml"
    exp.write_text(EXPERIMENT.format(lab=cluster.state.name, duration=duration,
                                     port=kit.tcp_port))
    run_dir = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "faultlab", "run", str(exp), "--run-dir",
                             str(run_dir), "-q"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)

    def injected() -> bool:
        assert proc.poll() is None, "the run ended before its faults were injected"
        done = {e.get("fault") for e in journal(run_dir) if e["event"] == "fault_injected"}
        return done >= {"split", "slow"}

    try:
        kit.wait_for(injected, 120, "both faults to be injected")
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return proc, run_dir


def test_sigkilled_run_the_lease_removes_the_partition(make_cluster: Any, kit: Any,
                                                       tmp_path: Path) -> None:
    cluster = make_cluster(3)
    proc, run_dir = start_run(cluster, kit, tmp_path, "3s")
    assert set(kit.tables(cluster.state)) == {"n1", "n2", "n3"}
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # the run never reverted; the watchdogs do once the 4 s lease lapsed
    kit.wait_for(lambda: kit.tables(cluster.state) == {}, 120, "the lease to lapse")
    kit.wait_for(lambda: not kit.watchdogs(), 60, "the watchdogs to exit")
    assert not [e for e in journal(run_dir) if e["event"] == "fault_reverted"]
    assert cluster.tcp_reachable() == {(a, b) for a in cluster.names for b in cluster.names
                                       if a != b}


def test_sigkilled_run_recover_removes_the_partition_at_once(make_cluster: Any, kit: Any,
                                                             tmp_path: Path) -> None:
    cluster = make_cluster(3)
    proc, run_dir = start_run(cluster, kit, tmp_path, "300s")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    intents = [e for e in journal(run_dir) if e["event"] == "fault_intent"]
    split = next(e for e in intents if e["fault"] == "split")
    assert sorted(split["undo"]["params"]["cut"])  # the journal says which pairs were cut
    out = subprocess.run([sys.executable, "-m", "faultlab", "recover", str(run_dir)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    # at once: no waiting for a lease of 301 s
    assert kit.tables(cluster.state) == {}
    assert not kit.watchdogs()
    assert "removed table" in out.stdout, out.stdout
