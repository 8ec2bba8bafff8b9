"""One-way delay between two lab hosts through a ``net_latency`` fault, against the same
measurement without the fault, in the same run; and how long a partition takes to inject
and revert. Needs root (it brings a lab up, and removes it).

    .venv/bin/python benchmarks/lab_latency_fidelity.py [--delay 50] [--seconds 5]

A sender in host n1 writes lines stamped with the machine's monotonic clock (one clock for
every namespace) on one TCP connection to n2, 200 lines a second; a receiver in n2 notes
when each arrives. Measured: directly, then through the fault (delay, no jitter). Printed:
p50/p99, the ratio to the direct baseline, and the added p50 against the requested delay
(the goal: within 2 ms at 50 ms). Then a 5-host majorities ring: inject and revert times,
median of 20, against the cost of one bare ``ip netns exec true`` (the floor of any step
inside a host).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from faultlab.experiment.targets import Target
from faultlab.faults import BoundTarget, Fault, FaultContext, build_fault
from faultlab.faults.registry import FAULT_KINDS
from faultlab.lab.control import lab_down, lab_up
from faultlab.lab.host import LabHost
from faultlab.lab.spec import LabSpec
from faultlab.lab.state import LabState

PORT = 7300

RECEIVER = r"""
import socket, sys, time
addr, port, out = sys.argv[1], int(sys.argv[2]), open(sys.argv[3], "w", buffering=1)
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port)); s.listen(8)
open(sys.argv[3] + ".ready", "w").close()
while True:
    c, _ = s.accept()
    buf = b""
    while data := c.recv(65536):
        now = time.monotonic()
        buf += data
        *lines, buf = buf.split(b"\n")
        for line in lines:
            out.write(f"{now - float(line)}\n")
    c.close()
"""

SENDER = r"""
import socket, sys, time
addr, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.create_connection((addr, port), timeout=30)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
end = time.monotonic() + seconds
while time.monotonic() < end:
    s.sendall(f"{time.monotonic()}\n".encode())
    time.sleep(0.005)
s.close()
"""


def inside(state: LabState, host: str, *argv: str) -> list[str]:
    h = state.host(host)
    assert h is not None
    return ["ip", "netns", "exec", h.netns, *argv]


def fault(state: LabState, spec: dict[str, Any]) -> Fault[Any]:
    targets = {h.name: BoundTarget(h.name, Target(host=h.name),
                                   LabHost(h.name, state.name, h.name)) for h in state.hosts}
    ctx = FaultContext(targets, None, {}, 30.0, 60.0, random.Random(1))
    return build_fault(FAULT_KINDS[spec["kind"]].spec.model_validate(
        {"duration": "600s", **spec}), ctx)


def measure(state: LabState, log: Path, seconds: float) -> list[float]:
    start = len(log.read_text().splitlines())
    dst = state.host("n2")
    assert dst is not None
    subprocess.run(inside(state, "n1", sys.executable, "-c", SENDER, dst.address, str(PORT),
                          str(seconds)), check=True, timeout=seconds + 60)
    time.sleep(0.5)
    values = [float(v) for v in log.read_text().splitlines()[start:]]
    return values[len(values) // 10:]  # the first tenth: connection set-up, warm-up


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] * 1000


def latency(delay_ms: int, seconds: float) -> None:
    name = f"bench{os.getpid()}"
    state = asyncio.run(lab_up(LabSpec(name=name, hosts={"n1": {}, "n2": {}})))
    receiver = None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            log = Path(tmp) / "delays"
            dst = state.host("n2")
            assert dst is not None
            receiver = subprocess.Popen(inside(state, "n2", sys.executable, "-c", RECEIVER,
                                               dst.address, str(PORT), str(log)))
            while not Path(f"{log}.ready").exists():
                time.sleep(0.02)
            base = measure(state, log, seconds)
            f = fault(state, {"kind": "net_latency", "from": ["n1"], "to": ["n2"],
                              "ports": [PORT], "delay": f"{delay_ms}ms"})
            asyncio.run(f.prepare())
            asyncio.run(f.inject())
            try:
                delayed = measure(state, log, seconds)
            finally:
                asyncio.run(f.revert())
    finally:
        if receiver is not None:
            receiver.kill()
            receiver.wait()
        lab_down(name)
    print(f"one-way delay n1 -> n2, {seconds:g}s at 200 lines/s each (first tenth dropped)")
    for label, values in (("direct", base), (f"net_latency {delay_ms} ms", delayed)):
        print(f"  {label:22} n={len(values):5d}  p50 {pct(values, 50):8.3f} ms  "
              f"p99 {pct(values, 99):8.3f} ms  ratio p50 to direct "
              f"{pct(values, 50) / pct(base, 50):8.1f}")
    added = pct(delayed, 50) - pct(base, 50)
    ok = "within" if abs(added - delay_ms) <= 2 else "OUTSIDE"
    print(f"  added p50 {added:.3f} ms for {delay_ms} ms requested: error "
          f"{added - delay_ms:+.3f} ms, {ok} the 2 ms goal; added p99 "
          f"{pct(delayed, 99) - pct(base, 99):.3f} ms")


def partition(rounds: int = 20) -> None:
    name = f"benchp{os.getpid()}"
    hosts = [f"n{i}" for i in range(1, 6)]
    state = asyncio.run(lab_up(LabSpec(name=name, hosts={h: {} for h in hosts})))
    injects, reverts, floor = [], [], []
    try:
        for _ in range(rounds):
            t = time.perf_counter()
            subprocess.run(inside(state, "n1", "true"), check=True)
            floor.append(time.perf_counter() - t)
            f = fault(state, {"kind": "partition", "mode": "majorities_ring", "hosts": hosts})
            asyncio.run(f.prepare())
            t = time.perf_counter()
            asyncio.run(f.inject())
            injects.append(time.perf_counter() - t)
            t = time.perf_counter()
            asyncio.run(f.revert())
            reverts.append(time.perf_counter() - t)
    finally:
        lab_down(name)
    base = statistics.median(floor)
    print(f"partition, majorities ring of 5 hosts (5 tables), median of {rounds}:")
    for label, values in (("inject", injects), ("revert", reverts)):
        m = statistics.median(values)
        print(f"  {label:7} {m * 1000:7.1f} ms  ratio to one `ip netns exec true` "
              f"({base * 1000:.1f} ms): {m / base:5.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--delay", type=int, default=50, help="Delay in ms.")
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    latency(args.delay, args.seconds)
    partition()
