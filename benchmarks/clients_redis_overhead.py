"""What recording a history costs: HistoryLoad's throughput against a bare redis-py loop.

    .venv/bin/python benchmarks/clients_redis_overhead.py [--seconds 3] [--processes 5]

Starts its own redis-server (a temporary directory, a free port; stopped by its pid). The
baseline, measured in the same run, is ``processes`` closed-loop workers each sending
GET/SET through its own redis-py connection as fast as it can; then a HistoryLoad with the
same number of processes, a rate (12,000/s) above what they can serve (so every process is always
busy and the surplus is dropped), recording a cas-register history to a JSONL file. The
ratio is HistoryLoad's completed operations per second over the baseline's.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from redis.asyncio import Redis

from faultlab.ports import free_ports
from faultlab.workload.history_load import HistoryLoad, HistorySpec


async def baseline(address: str, processes: int, seconds: float) -> float:
    host, port = address.split(":")
    done = 0
    end = time.monotonic() + seconds

    async def worker(n: int) -> None:
        nonlocal done
        rng = random.Random(n)
        r = Redis(host=host, port=int(port), single_connection_client=True)
        try:
            while time.monotonic() < end:
                key = f"bench-base-k{rng.randrange(3)}"
                if rng.random() < 0.5:
                    await r.get(key)
                else:
                    await r.set(key, rng.randrange(1 << 30))
                done += 1
        finally:
            await r.aclose()

    async with asyncio.TaskGroup() as tg:
        for n in range(processes):
            tg.create_task(worker(n))
    return done / seconds


async def recorded(address: str, processes: int, seconds: float, sink: Path) -> float:
    spec = HistorySpec("redis", address, "cas-register", processes=processes, keys=3,
                       rate=12_000.0, timeout=1.0, seed=1, final_reads=False)
    load = HistoryLoad(spec, sink=sink)
    start = time.monotonic()
    history = await load.run(start, start + seconds)
    return len(history) / seconds


def wait_ready(port: int) -> None:
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("redis-server did not start")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--processes", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port = free_ports(1)[0]
        proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                                 "--save", "", "--dir", tmp], stdout=subprocess.DEVNULL)
        try:
            wait_ready(port)
            address = f"127.0.0.1:{port}"
            base = asyncio.run(baseline(address, args.processes, args.seconds))
            rec = asyncio.run(recorded(address, args.processes, args.seconds,
                                       Path(tmp) / "history.jsonl"))
        finally:
            proc.terminate()
            proc.wait(5)
    print(f"bare redis-py loop : {base:9.0f} ops/s ({args.processes} connections)")
    print(f"HistoryLoad        : {rec:9.0f} ops/s (history recorded to JSONL)")
    print(f"ratio              : {rec / base:9.2f}")


if __name__ == "__main__":
    main()
