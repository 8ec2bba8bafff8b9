"""net_latency: TCP between lab hosts steered through a faultlab proxy. One-way delays are
measured inside the hosts (the sender stamps each line with the machine's monotonic clock,
the receiving agent compares); only lower bounds are asserted (a busy machine is slower)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

root = pytest.mark.skipif(os.geteuid() != 0, reason="labs need root")

SENDER = r"""
import socket, sys, time
addr, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.create_connection((addr, port), timeout=60)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
for _ in range(count):
    s.sendall(f"S {time.monotonic()}\n".encode())
    time.sleep(0.02)
s.shutdown(socket.SHUT_WR)
s.recv(1)
"""


def send(cluster: Any, kit: Any, src: str, dst: str, count: int = 10) -> list[float]:
    """Delays of ``count`` stamped lines from src to dst, as dst's agent measured them."""
    seen = len(cluster.delays(dst))
    subprocess.run(cluster.inside(src, sys.executable, "-c", SENDER, cluster.address(dst),
                                  str(kit.tcp_port), str(count)), check=True, timeout=120)
    kit.wait_for(lambda: len(cluster.delays(dst)) >= seen + count, 60, "the delays")
    delays: list[float] = cluster.delays(dst)[seen:]
    return delays


def proxies_of(kit: Any, api: str) -> dict[str, Any]:
    from faultlab.proxy.client import ProxyClient

    async def ask() -> dict[str, Any]:
        async with ProxyClient(api) as client:
            return dict(await client.list_proxies())
    result: dict[str, Any] = kit.run(ask())
    return result


def proxy_pids(directory: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                argv = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if b"faultlab.proxy" in argv and directory.encode() in argv:
                found.append(int(entry))
    return found


@root
def test_both_ways_each_direction_is_delayed_and_revert_stops_the_proxy(
        make_cluster: Any, kit: Any) -> None:
    cluster = make_cluster(3)
    fault = cluster.fault({"kind": "net_latency", "from": ["n1"], "to": ["n2"],
                           "ports": [kit.tcp_port], "delay": "50ms"})
    params = kit.run(fault.prepare()).params
    kit.run(fault.inject())
    assert sorted(kit.tables(cluster.state)) == ["n1", "n2"]
    assert all(d >= 0.050 for d in send(cluster, kit, "n1", "n2"))
    assert all(d >= 0.050 for d in send(cluster, kit, "n2", "n1"))
    # the destination sees the proxy (the bridge address) as its peer
    assert cluster.lines("n2", "peer ")[-1] == f"peer {cluster.state.bridge_address}"
    # n3 is not in the fault: its connections are not steered
    send(cluster, kit, "n3", "n2", 1)
    assert cluster.lines("n2", "peer ")[-1] == f"peer {cluster.address('n3')}"
    directory = params["dir"]
    assert proxy_pids(directory)
    kit.run(fault.revert())
    assert kit.tables(cluster.state) == {}
    assert proxy_pids(directory) == [] and not Path(directory).exists()
    send(cluster, kit, "n1", "n2", 1)
    assert cluster.lines("n2", "peer ")[-1] == f"peer {cluster.address('n1')}"
    kit.run(fault.revert())  # idempotent


@root
def test_one_way_delays_only_the_data_from_from_to_to(make_cluster: Any, kit: Any) -> None:
    cluster = make_cluster(2)
    fault = cluster.fault({"kind": "net_latency", "from": ["n1"], "to": ["n2"],
                           "ports": [kit.tcp_port], "delay": "30ms", "jitter": "5ms",
                           "both_ways": False})
    params = kit.run(fault.prepare()).params
    kit.run(fault.inject())
    toxics = {name: [(t["stream"], t["attributes"]["latency"], t["attributes"]["jitter"])
                     for t in p["toxics"]] for name, p in proxies_of(kit, params["proxy"]).items()}
    # connections to n2 carry n1's data upstream; connections to n1 carry it downstream
    assert toxics == {f"n2-{kit.tcp_port}": [("upstream", 30, 5)],
                      f"n1-{kit.tcp_port}": [("downstream", 30, 5)]}
    assert all(d >= 0.025 for d in send(cluster, kit, "n1", "n2"))
    kit.run(fault.revert())


@root
def test_the_proxy_does_not_outlive_the_lease(make_cluster: Any, kit: Any) -> None:
    cluster = make_cluster(2)
    fault = cluster.fault({"kind": "net_latency", "from": ["n1"], "to": ["n2"],
                           "ports": [kit.tcp_port], "delay": "10ms", "duration": "1s"},
                          grace=1.0)
    directory = kit.run(fault.prepare()).params["dir"]
    kit.run(fault.inject())
    assert proxy_pids(directory)
    # nobody reverts: the watchdog removes the tables and stops its proxy
    kit.wait_for(lambda: kit.tables(cluster.state) == {} and not proxy_pids(directory), 60,
                 "the lease to end the fault")
    kit.wait_for(lambda: not kit.watchdogs(), 30, "the watchdog to exit")
    send(cluster, kit, "n1", "n2", 1)
    assert cluster.lines("n2", "peer ")[-1] == f"peer {cluster.address('n1')}"
