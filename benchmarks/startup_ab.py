"""Start-up of two versions of faultlab side by side: is a change faster, and by how much?

    .venv/bin/python benchmarks/startup_ab.py [--runs 15] [--command run] OLD_SRC NEW_SRC

Each version is a ``src`` directory (e.g. of ``git worktree add /tmp/old HEAD~1``) put first
on ``PYTHONPATH`` for the installed ``faultlab`` command, so both run with the same Python
and the same dependencies. The runs alternate (old, new, old, new, ...) after one untimed
run of each (bytecode caches written), so a machine whose speed drifts (a VM's does, by a
third from minute to minute here) slows both alike; ``benchmarks/run_startup.py`` gives the
absolute figures against ``python -c pass``. The command is one of run_startup.py's: a
trivial ``run`` (one SIGKILL of a ``sleep``, a fresh victim each time), ``validate`` of that
experiment, ``check`` of a two-operation history, ``--help``. It prints each version's
median and minimum CPU time (user + system of the process; wall time follows it here) and
the ratio new / old of the medians.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from run_startup import ENV, EXPERIMENT, HISTORY

FAULTLAB = str(Path(sys.executable).with_name("faultlab"))


def cpu_ms(argv: list[str], src: str) -> float:
    """CPU milliseconds of one run of ``faultlab argv`` with ``src`` first on the path."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run([FAULTLAB, *argv], env={**ENV, "PYTHONPATH": src},
                          capture_output=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{src}: faultlab {' '.join(argv)} failed ({done.returncode}): "
                         f"{done.stderr.decode()[-400:]}")
    return 1e3 * (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", help="the baseline's src directory")
    parser.add_argument("new", help="the changed version's src directory")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--command", choices=("run", "validate", "check", "help"),
                        default="run")
    args = parser.parse_args()
    for src in (args.old, args.new):
        if not (Path(src) / "faultlab" / "__init__.py").is_file():
            parser.error(f"{src}: not a src directory holding faultlab/")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        pidfile = d / "victim.pid"
        (d / "exp.yaml").write_text(EXPERIMENT.format(pidfile=pidfile))
        (d / "h.jsonl").write_text(HISTORY)
        argv = {"run": ["run", str(d / "exp.yaml"), "--runs-dir", str(d / "runs")],
                "validate": ["validate", str(d / "exp.yaml")],
                "check": ["check", str(d / "h.jsonl")], "help": ["--help"]}[args.command]
        times: dict[str, list[float]] = {args.old: [], args.new: []}
        for i in range(args.runs + 1):
            for src in (args.old, args.new):
                victim = subprocess.Popen(["sleep", "60"])
                try:
                    pidfile.write_text(f"{victim.pid}\n")
                    took = cpu_ms(argv, src)
                finally:
                    victim.kill()
                    victim.wait()
                if i:  # the first round writes the bytecode caches
                    times[src].append(took)
    print(f"faultlab {args.command}: {args.runs} alternating runs each, CPU ms "
          f"(load {os.getloadavg()[0]:.1f})")
    medians = {}
    for label, src in (("old", args.old), ("new", args.new)):
        medians[label] = statistics.median(times[src])
        print(f"  {label} {src:40} median {medians[label]:7.1f}  min {min(times[src]):7.1f}")
    print(f"  new / old: {medians['new'] / medians['old']:.3f}")


if __name__ == "__main__":
    main()
