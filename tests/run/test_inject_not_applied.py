"""A fault whose inject certainly changed nothing (the external proxy server refuses
connections) is an error of the run, never a failed revert; and ``recover`` then has
nothing to do (it used to return 4 forever)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from faultlab.ports import free_ports


def test_unreachable_external_proxy_is_not_a_failed_revert(tmp_path: Path) -> None:
    (port,) = free_ports(1)  # nothing listens there
    exp = tmp_path / "gone.yaml"
    exp.write_text(f"""
version: 1
name: gone
targets:
  link: {{proxy: {{api: "http://127.0.0.1:{port}", name: shop}}}}
faults:
  - {{name: slow, kind: latency, target: link, delay: 5ms, duration: 2s}}
""")
    run_dir = tmp_path / "run"
    ran = subprocess.run([sys.executable, "-m", "faultlab", "run", str(exp), "--run-dir",
                          str(run_dir), "-q"], capture_output=True, text=True, timeout=120,
                         check=False)
    text = " ".join((ran.stdout + ran.stderr).split())
    assert ran.returncode == 4, text
    assert "could not be applied" in text and "REVERT FAILED" not in text
    journal = (run_dir / "journal.jsonl").read_text()
    assert '"event":"fault_closed"' in journal and '"event":"revert_failed"' not in journal
    recovered = subprocess.run([sys.executable, "-m", "faultlab", "recover", str(run_dir)],
                               capture_output=True, text=True, timeout=60, check=False)
    assert recovered.returncode == 0 and "nothing was active" in recovered.stdout
