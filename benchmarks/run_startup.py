"""Wall time of a trivial `faultlab run` (no workload, one zero-length fault) against
`python -c pass`, measured in the same run.

    .venv/bin/python benchmarks/run_startup.py [--runs 15]

The trivial experiment kills a `sleep` process found by pid file: every run loads and
validates the file, creates a run directory and journal, applies and reverts one fault,
and writes result.json and junit.xml.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXPERIMENT = """
name: trivial
targets:
  victim:
    process: {{pidfile: {pidfile}}}
faults:
  - {{target: victim, kind: kill, signal: SIGKILL}}
"""


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{cmd} failed ({result.returncode}): {result.stderr.decode()[-500:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        pidfile = root / "victim.pid"
        exp = root / "trivial.yaml"
        exp.write_text(EXPERIMENT.format(pidfile=pidfile))
        base, run, validate = [], [], []
        for i in range(args.runs):
            base.append(timed([sys.executable, "-c", "pass"]))
            validate.append(timed([sys.executable, "-m", "faultlab", "validate", str(exp)]))
            victim = subprocess.Popen(["sleep", "60"])
            pidfile.write_text(f"{victim.pid}\n")
            run.append(timed([sys.executable, "-m", "faultlab", "run", str(exp), "--quiet",
                              "--run-dir", str(root / f"run-{i}")]))
            if victim.wait(timeout=5) != -9:
                raise SystemExit("the kill fault did not kill the victim")
    b, r, v = statistics.median(base), statistics.median(run), statistics.median(validate)
    print(f"runs: {args.runs} each (medians)")
    print(f"python -c pass        {b * 1000:8.1f} ms   1.00x")
    print(f"faultlab validate     {v * 1000:8.1f} ms   {v / b:5.2f}x")
    print(f"faultlab run trivial  {r * 1000:8.1f} ms   {r / b:5.2f}x   "
          f"(min {min(run) * 1000:.1f} ms)")


if __name__ == "__main__":
    main()
