"""The round-trip time the proxy adds: 100-byte ping-pong, direct vs through the proxy.

Run: ``.venv/bin/python benchmarks/proxy_rtt.py [--rounds 10000] [--repeats 3]``

Three processes: an echo target (blocking sockets, a thread per connection), the proxy
server (spawned as the runner does, so on uvloop when it is installed) and this client
(blocking sockets, TCP_NODELAY). The baseline is the direct connection to the target,
measured in the same run: no Toxiproxy binary is built here (it needs Go), so the peer's
figure is not in this script. Direct and proxied round trips alternate in blocks of
``--block`` on two long-lived connections, so that drift in the machine's load (other
processes, frequency changes) falls on both alike. "Added" is the proxied percentile minus
the direct one; the goal (issue 14) is added p50 <= 50 us and p99 <= 200 us. "CPU/rt" is
the proxy's main thread's CPU time per proxied round trip (from /proc/PID/schedstat, Linux),
which a busy machine disturbs less than the latencies.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import tempfile
import time
from pathlib import Path

from faultlab.proxy.client import ProxyClient
from faultlab.proxy.process import spawn_proxy_server
from proxy_throughput import _connect, start_target

GOAL_P50_US = 50.0
GOAL_P99_US = 200.0


def ping_pong(sock: socket.socket, rounds: int, message: bytes) -> list[float]:
    samples = []
    size = len(message)
    clock = time.perf_counter
    for _ in range(rounds):
        start = clock()
        sock.sendall(message)
        got = 0
        while got < size:
            chunk = sock.recv(size - got)
            if not chunk:
                raise RuntimeError("echo ended early")
            got += len(chunk)
        samples.append((clock() - start) * 1e6)
    return samples


def cpu_ns(pid: int) -> int | None:
    """CPU time of ``pid``'s main thread so far, in ns (None where schedstat is missing)."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def percentiles(samples: list[float]) -> tuple[float, float]:
    return statistics.median(samples), statistics.quantiles(samples, n=100)[98]


def measure(target_port: int, proxy_port: int, rounds: int, block: int,
            size: int) -> tuple[list[float], list[float]]:
    message = b"z" * size
    direct: list[float] = []
    proxied: list[float] = []
    with _connect(target_port, "ECHO") as to_target, _connect(proxy_port, "ECHO") as to_proxy:
        ping_pong(to_target, 200, message)  # warm up both paths
        ping_pong(to_proxy, 200, message)
        while len(direct) < rounds:
            count = min(block, rounds - len(direct))
            direct += ping_pong(to_target, count, message)
            proxied += ping_pong(to_proxy, count, message)
    return direct, proxied


async def main(rounds: int, repeats: int, block: int, size: int) -> None:
    target, target_port = start_target()
    with tempfile.TemporaryDirectory() as directory:
        handle = await spawn_proxy_server(Path(directory) / "proxy.log")
        try:
            async with ProxyClient(handle.api_url) as client:
                info = await client.create_proxy("rtt", "127.0.0.1:0",
                                                 f"127.0.0.1:{target_port}")
            proxy_port = int(info["listen"].rsplit(":", 1)[1])
            print(f"{size}-byte ping-pong, {rounds} round trips per path per run, "
                  f"blocks of {block}; baseline: direct connection (no Toxiproxy here)")
            print(f"{'run':>4}{'direct p50':>12}{'p99':>8}{'proxy p50':>12}{'p99':>8}"
                  f"{'added p50':>12}{'p99':>8}{'/goal p50':>11}{'p99':>7}{'CPU/rt':>8}")
            for run in range(1, repeats + 1):
                before = cpu_ns(handle.pid)
                direct, proxied = await asyncio.to_thread(
                    measure, target_port, proxy_port, rounds, block, size)
                after = cpu_ns(handle.pid)
                cpu = "" if before is None or after is None else \
                    f"{(after - before) / 1000 / len(proxied):8.1f}"
                d50, d99 = percentiles(direct)
                p50, p99 = percentiles(proxied)
                a50, a99 = p50 - d50, p99 - d99
                print(f"{run:4d}{d50:12.1f}{d99:8.1f}{p50:12.1f}{p99:8.1f}"
                      f"{a50:12.1f}{a99:8.1f}{a50 / GOAL_P50_US:11.2f}"
                      f"{a99 / GOAL_P99_US:7.2f}{cpu}")
            print(f"(us; goal added p50 <= {GOAL_P50_US:.0f} us, p99 <= {GOAL_P99_US:.0f} us: "
                  "a /goal ratio <= 1.00 meets it)")
        finally:
            await handle.stop()
            target.terminate()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10000, help="round trips per path per run")
    parser.add_argument("--repeats", type=int, default=3, help="runs, each printed")
    parser.add_argument("--block", type=int, default=500, help="round trips per alternation")
    parser.add_argument("--size", type=int, default=100, help="bytes per message")
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.repeats, args.block, args.size))
