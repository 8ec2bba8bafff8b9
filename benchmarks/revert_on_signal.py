"""How fast `faultlab run` puts everything back after SIGINT / SIGTERM.

    .venv/bin/python benchmarks/revert_on_signal.py [--runs 5]

Each run starts three faults (a latency toxic, a disabled proxy, a paused process), waits
until all are injected, sends the signal, and measures from the signal to the last
``fault_reverted`` event in the journal and to the process's exit. Baseline, measured in the
same way in the same run: the same experiment with no faults, signalled while it runs (how
long faultlab takes to exit at all).
"""

from __future__ import annotations

import argparse
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from faultlab.journal import JOURNAL_NAME, read_journal
from faultlab.ports import free_ports

EXPERIMENT = """
name: revert-bench
system:
  services:
    sleeper: {{command: [sleep, "120"]}}
targets:
  link: {{proxy: {{listen: "127.0.0.1:{a}", upstream: "127.0.0.1:{c}"}}}}
  other: {{proxy: {{listen: "127.0.0.1:{b}", upstream: "127.0.0.1:{c}"}}}}
  sleeper: {{process: {{service: sleeper}}}}
faults:
{faults}
"""
FAULTS = """  - {name: slow, target: link, kind: latency, delay: 200ms, duration: 30s}
  - {name: cut, target: other, kind: down, duration: 30s}
  - {name: frozen, target: sleeper, kind: pause, duration: 30s}"""
IDLE = """  - {name: idle, target: link, kind: latency, delay: 1ms, start: 60s, duration: 1s}"""


def events(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / JOURNAL_NAME
    return list(read_journal(path)) if path.exists() else []


def one(root: Path, i: int, faults: str, sig: signal.Signals, ready: str, need: int
        ) -> tuple[float, float]:
    a, b, c = free_ports(3)
    exp = root / f"e{i}.yaml"
    exp.write_text(EXPERIMENT.format(a=a, b=b, c=c, faults=faults))
    run_dir = root / f"run{i}"
    proc = subprocess.Popen([sys.executable, "-m", "faultlab", "run", str(exp), "--quiet",
                             "--run-dir", str(run_dir)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while sum(e["event"] == ready for e in events(run_dir)) < need:
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise SystemExit(f"run {i} never reached {ready}")
        time.sleep(0.01)
    time.sleep(0.2)
    sent = time.time()
    proc.send_signal(sig)
    proc.wait(timeout=30)
    exited = time.time()
    reverted = [float(str(e["wall"])) for e in events(run_dir) if e["event"] == "fault_reverted"]
    if proc.returncode != 3:
        raise SystemExit(f"run {i} exited {proc.returncode}, expected 3 (interrupted)")
    return (max(reverted) - sent if reverted else float("nan")), exited - sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    revert, exit_with, exit_without = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for i in range(args.runs):
            sig = signal.SIGINT if i % 2 == 0 else signal.SIGTERM
            r, e = one(root, 2 * i, FAULTS, sig, "fault_injected", 3)
            revert.append(r)
            exit_with.append(e)
            _, e0 = one(root, 2 * i + 1, IDLE, sig, "phase", 2)
            exit_without.append(e0)
    med = statistics.median
    print(f"runs: {args.runs} with 3 active faults, {args.runs} baseline runs with none "
          "(medians; SIGINT and SIGTERM alternate)")
    print(f"signal -> last fault reverted   {med(revert) * 1000:8.1f} ms "
          f"(max {max(revert) * 1000:.1f} ms)")
    print(f"signal -> exit, 3 faults        {med(exit_with) * 1000:8.1f} ms")
    print(f"signal -> exit, no fault active {med(exit_without) * 1000:8.1f} ms   "
          f"ratio {med(exit_with) / med(exit_without):.2f}x")


if __name__ == "__main__":
    main()
