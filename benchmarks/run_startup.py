"""Wall time of faultlab's quick commands against `python -c pass`, measured in the same
run: `faultlab --help`, `faultlab validate` of a small experiment, `faultlab check` of a
small history, and a trivial `faultlab run` (no workload, one zero-length fault), with
issue 14's goals (100 / 150 / 120 / 250 ms).

    .venv/bin/python benchmarks/run_startup.py [--runs 15]

Besides each median wall time it prints the median CPU time (user + system) of the
process, which other load on the machine disturbs far less than wall time: on a busy
machine compare CPU times.

The trivial experiment kills a `sleep` process found by pid file: every run loads and
validates the file, creates a run directory and journal, applies and reverts one fault,
and writes result.json and junit.xml. The commands run with Python's bytecode cache on, as
users have it (PYTHONDONTWRITEBYTECODE is removed from their environment, and each command
runs once before the timing): without it every faultlab module is compiled from source on
each start, about 150 ms more.
"""

from __future__ import annotations

import argparse
import os
import resource
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


HISTORY = (
    '{"process": 0, "f": "write", "value": 1, "invoke_ns": 0, "complete_ns": 10, '
    '"outcome": "ok"}\n'
    '{"process": 1, "f": "read", "value": 1, "invoke_ns": 20, "complete_ns": 30, '
    '"outcome": "ok"}\n')
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
GOALS_MS = {"help": 100, "validate": 150, "check": 120, "run": 250}


def timed(cmd: list[str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one run of ``cmd``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, check=False, env=ENV)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"{cmd} failed ({result.returncode}): {result.stderr.decode()[-500:]}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        pidfile = root / "victim.pid"
        exp = root / "trivial.yaml"
        exp.write_text(EXPERIMENT.format(pidfile=pidfile))
        history = root / "h.jsonl"
        history.write_text(HISTORY)
        fl = [sys.executable, "-m", "faultlab"]
        commands = {"help": [*fl, "--help"], "validate": [*fl, "validate", str(exp)],
                    "check": [*fl, "check", str(history)]}
        for cmd in commands.values():
            timed(cmd)  # the bytecode cache, written once
        times: dict[str, list[float]] = {"python": [], **{n: [] for n in commands}, "run": []}
        cpu: dict[str, list[float]] = {name: [] for name in times}

        def record(name: str, cmd: list[str]) -> None:
            wall, used = timed(cmd)
            times[name].append(wall)
            cpu[name].append(used)

        for i in range(args.runs):
            record("python", [sys.executable, "-c", "pass"])
            for name, cmd in commands.items():
                record(name, cmd)
            victim = subprocess.Popen(["sleep", "60"])
            pidfile.write_text(f"{victim.pid}\n")
            record("run", [*fl, "run", str(exp), "--quiet", "--run-dir", str(root / f"run-{i}")])
            if victim.wait(timeout=5) != -9:
                raise SystemExit("the kill fault did not kill the victim")
    base = statistics.median(times["python"])
    print(f"runs: {args.runs} each (medians; bytecode cache on; cpu = user + system)")
    print(f"{'python -c pass':24} {base * 1000:8.1f} ms   1.00x   "
          f"cpu {statistics.median(cpu['python']) * 1000:6.1f} ms")
    for name in ("help", "validate", "check", "run"):
        m = statistics.median(times[name])
        goal = GOALS_MS[name]
        print(f"{'faultlab ' + name:24} {m * 1000:8.1f} ms   {m / base:6.2f}x   "
              f"cpu {statistics.median(cpu[name]) * 1000:6.1f} ms   goal {goal} ms: "
              f"{'met' if m * 1000 <= goal else 'NOT met'} "
              f"(min {min(times[name]) * 1000:.1f} ms)")


if __name__ == "__main__":
    main()
