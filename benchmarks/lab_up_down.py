"""Lab up and down: `faultlab lab up` / `lab down` of a lab of N hosts with no processes,
against making and removing the same number of bare namespaces with `ip netns add` / `ip
netns del` (one command each, as a shell script would) in the same run.

Run (as root): ``.venv/bin/python benchmarks/lab_up_down.py [--hosts 5] [--rounds 11]``

Both are timed as whole commands (process start included), interleaved round by round so
load on the machine hits both alike. Goals (issue 10): up < 2 s, down < 1 s for 5 hosts.
Figures: medians, and ratios to the bare namespaces.
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


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=11)
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("labs need root")
    name = f"bench{os.getpid()}"
    hosts = "".join(f"  h{i}: {{}}\n" for i in range(args.hosts))
    faultlab = [sys.executable, "-m", "faultlab", "lab"]
    bare = [f"blb{os.getpid()}h{i}" for i in range(args.hosts)]
    up, down, bare_up, bare_down, api_up, api_down = [], [], [], [], [], []
    import asyncio

    from faultlab.lab.control import lab_down, lab_up
    from faultlab.lab.spec import LabSpec

    spec = LabSpec(name=f"{name}api", hosts={f"h{i}": {} for i in range(args.hosts)})
    with tempfile.TemporaryDirectory() as directory:
        file = Path(directory) / "lab.yaml"
        file.write_text(f"name: {name}\nhosts:\n{hosts}")
        try:
            for _ in range(args.rounds):
                up.append(timed([*faultlab, "up", str(file)]))
                down.append(timed([*faultlab, "down", name]))
                start = time.perf_counter()
                asyncio.run(lab_up(spec))
                api_up.append(time.perf_counter() - start)
                start = time.perf_counter()
                lab_down(spec.name)
                api_down.append(time.perf_counter() - start)
                start = time.perf_counter()
                for ns in bare:
                    subprocess.run(["ip", "netns", "add", ns], check=True)
                bare_up.append(time.perf_counter() - start)
                start = time.perf_counter()
                for ns in bare:
                    subprocess.run(["ip", "netns", "del", ns], check=True)
                bare_down.append(time.perf_counter() - start)
        finally:
            subprocess.run([*faultlab, "down", name], stdout=subprocess.DEVNULL)
            lab_down(spec.name)
            for ns in bare:
                subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)
    med = statistics.median
    print(f"{args.hosts} hosts, {args.rounds} rounds, medians (whole commands):")
    print(f"  faultlab lab up    {med(up) * 1000:7.1f} ms   ({med(up) / med(bare_up):.2f}x "
          f"{args.hosts} x `ip netns add`: {med(bare_up) * 1000:.1f} ms)   goal < 2000 ms")
    print(f"  faultlab lab down  {med(down) * 1000:7.1f} ms   ({med(down) / med(bare_down):.2f}x "
          f"{args.hosts} x `ip netns del`: {med(bare_down) * 1000:.1f} ms)   goal < 1000 ms")
    print(f"  in-process (faultlab.lab API, no interpreter start): up "
          f"{med(api_up) * 1000:.1f} ms ({med(api_up) / med(bare_up):.2f}x), down "
          f"{med(api_down) * 1000:.1f} ms ({med(api_down) / med(bare_down):.2f}x)")
    print("  (a lab host is more than a namespace: veth pair on a bridge, addresses, loopback "
          "up, hosts file, state on disk)")


if __name__ == "__main__":
    main()
