"""Many idle connections: memory per connection and API responsiveness while they are open.

Run: ``.venv/bin/python benchmarks/proxy_idle_connections.py [--connections 10000]``

The proxy server is spawned as the runner does; a holding target runs in another process.
Each proxied connection holds two sockets in the server, so this process raises
RLIMIT_NOFILE (soft, and hard when it may) before spawning, and the server raises its soft
limit to the hard one at start; the limit in force is printed. Figures: the server's RSS
delta per connection, and the time of ``GET /proxies`` with no connection open and with
all of them open (ratio in the same run).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import resource
import socket
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp

from faultlab.proxy.client import ProxyClient
from faultlab.proxy.process import spawn_proxy_server

FD_TARGET = 65536


def raise_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for limits in ((FD_TARGET, max(hard, FD_TARGET)), (hard, hard)):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, limits)
            return limits[0]
        except (ValueError, OSError):
            continue
    return soft


def _hold(port_queue: multiprocessing.Queue[int]) -> None:
    raise_limit()

    async def main() -> None:
        held: list[asyncio.StreamWriter] = []

        async def keep(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            held.append(writer)

        server = await asyncio.start_server(keep, "127.0.0.1", 0, backlog=4096)
        port_queue.put(server.sockets[0].getsockname()[1])
        await asyncio.Event().wait()

    asyncio.run(main())


def fd_limit_of(pid: int) -> str:
    limits = Path(f"/proc/{pid}/limits").read_text()
    return next(line for line in limits.splitlines()
                if line.startswith("Max open files")).split()[3]


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def api_ms(url: str, repeats: int = 20) -> float:
    samples = []
    async with aiohttp.ClientSession() as session:
        for _ in range(repeats):
            start = time.perf_counter()
            async with session.get(url + "/proxies") as response:
                await response.read()
            samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


async def main(count: int) -> None:
    limit = raise_limit()
    ports: multiprocessing.Queue[int] = multiprocessing.Queue()
    target = multiprocessing.Process(target=_hold, args=(ports,), daemon=True)
    target.start()
    target_port = ports.get(timeout=10)
    with tempfile.TemporaryDirectory() as directory:
        handle = await spawn_proxy_server(Path(directory) / "proxy.log")
        server_nofile = fd_limit_of(handle.pid)
        print(f"fd limit: this process {limit}, proxy server {server_nofile}")
        socks: list[socket.socket] = []
        try:
            async with ProxyClient(handle.api_url) as client:
                info = await client.create_proxy("idle", "127.0.0.1:0",
                                                 f"127.0.0.1:{target_port}")
                port = int(info["listen"].rsplit(":", 1)[1])
                await asyncio.sleep(0.5)
                before = rss_kb(handle.pid)
                idle_api = await api_ms(handle.api_url)
                loop = asyncio.get_running_loop()
                for _ in range(count):
                    sock = socket.socket()
                    sock.setblocking(False)
                    await loop.sock_connect(sock, ("127.0.0.1", port))
                    socks.append(sock)
                deadline = time.monotonic() + 60
                metrics = ""
                while time.monotonic() < deadline:
                    async with aiohttp.ClientSession() as session, \
                            session.get(handle.api_url + "/metrics") as response:
                        metrics = await response.text()
                    if f'faultlab_proxy_connections_active{{proxy="idle"}} {count}.0' in metrics:
                        break
                    await asyncio.sleep(0.5)
                else:
                    print("not every connection was established within 60 s")
                after = rss_kb(handle.pid)
                busy_api = await api_ms(handle.api_url)
                print(f"{count} idle connections: server RSS {before / 1024:.1f} -> "
                      f"{after / 1024:.1f} MiB, {(after - before) / count:.1f} KiB per "
                      "connection")
                print(f"GET /proxies median: {idle_api:.2f} ms with none open, "
                      f"{busy_api:.2f} ms with {count} open (ratio {busy_api / idle_api:.2f})")
        finally:
            for sock in socks:
                sock.close()
            await handle.stop()
            target.terminate()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=10_000)
    asyncio.run(main(parser.parse_args().connections))
