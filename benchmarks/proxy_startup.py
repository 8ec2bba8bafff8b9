"""Proxy server start-up: exec to ready, against a bare interpreter in the same run.

Run: ``.venv/bin/python benchmarks/proxy_startup.py [--rounds 21] [--compare SRC]``

Each round starts ``python -c pass`` and ``python -m faultlab.proxy serve`` (as the runner
spawns it) and times exec to the ready file; with ``--compare`` it also starts the server
from another checkout's ``src`` directory (``git worktree add /tmp/old <commit>``, then
``--compare /tmp/old/src``), interleaved, so load on the machine hits all of them alike.
Figures: medians, and ratios to ``python -c pass``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def ready_ms(env: dict[str, str]) -> float:
    with tempfile.TemporaryDirectory() as directory:
        ready = Path(directory) / "ready"
        start = time.perf_counter()
        server = subprocess.Popen([sys.executable, "-m", "faultlab.proxy", "serve", "--api",
                                   "127.0.0.1:0", "--ready-file", str(ready)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while not ready.exists():
                if server.poll() is not None:
                    raise SystemExit(f"the server exited with {server.returncode}")
                time.sleep(0.001)
            return (time.perf_counter() - start) * 1000
        finally:
            server.terminate()
            server.wait()


def bare_ms() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--compare", metavar="SRC", help="another checkout's src directory")
    args = parser.parse_args()
    variants: dict[str, dict[str, str] | None] = {"python -c pass": None,
                                                   "this checkout": dict(os.environ)}
    if args.compare:
        variants[f"{args.compare}"] = dict(os.environ, PYTHONPATH=args.compare)
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, env in variants.items():
            times[name].append(bare_ms() if env is None else ready_ms(env))
    base = statistics.median(times["python -c pass"])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:30} median {median:7.1f} ms  min {min(values):7.1f} ms  "
              f"{median / base:5.1f}x python -c pass")


if __name__ == "__main__":
    main()
