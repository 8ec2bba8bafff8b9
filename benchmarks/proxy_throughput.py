"""How much the proxy costs: throughput, round-trip time and connection rate, as ratios.

Run: ``.venv/bin/python benchmarks/proxy_throughput.py [--quick]``

Three processes: a target server (blocking sockets, a thread per connection), the proxy
server (spawned exactly as the runner does, so on uvloop when installed) and this client
(blocking sockets). Every measurement is taken three ways in the same run: straight to the
target (the baseline), through the proxy with no toxic (the fast path), and through the
proxy with a ``noop`` toxic on both directions (the toxic path, which copies each chunk
through the chain and the writer task). Ratios are proxy / direct. The goal (issue 14) is
a throughput ratio of at least 0.50 without a toxic; the last line says whether each
throughput row meets it.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import socket
import socketserver
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from faultlab.proxy.client import ProxyClient
from faultlab.proxy.process import spawn_proxy_server

CHUNK = 256 * 1024
GOAL_THROUGHPUT_RATIO = 0.5  # proxy / direct, no toxic


class _Target(socketserver.BaseRequestHandler):
    """One line of command, then: SOURCE n (send n bytes), SINK n (read n, reply), ECHO."""

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        line = b""
        while not line.endswith(b"\n"):
            byte = sock.recv(1)
            if not byte:
                return
            line += byte
        verb, _, arg = line.decode().strip().partition(" ")
        if verb == "SOURCE":
            block = b"x" * CHUNK
            left = int(arg)
            while left > 0:
                left -= sock.send(block[:min(left, CHUNK)])
        elif verb == "SINK":
            buffer = bytearray(CHUNK)
            left = int(arg)
            while left > 0:
                got = sock.recv_into(buffer)
                if not got:
                    return
                left -= got
            sock.sendall(b"OK")
        elif verb == "ECHO":
            while data := sock.recv(65536):
                sock.sendall(data)


def _serve_target(port_queue: multiprocessing.Queue[int]) -> None:
    socketserver.ThreadingTCPServer.daemon_threads = True
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Target) as server:
        port_queue.put(server.server_address[1])
        server.serve_forever()


def _connect(port: int, command: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(command.encode() + b"\n")
    return sock


def downstream_mb_s(port: int, size: int) -> float:
    buffer = bytearray(CHUNK)
    start = time.perf_counter()
    with _connect(port, f"SOURCE {size}") as sock:
        left = size
        while left > 0:
            got = sock.recv_into(buffer)
            if not got:
                raise RuntimeError("stream ended early")
            left -= got
    return size / (time.perf_counter() - start) / 1e6


def upstream_mb_s(port: int, size: int) -> float:
    block = b"y" * CHUNK
    start = time.perf_counter()
    with _connect(port, f"SINK {size}") as sock:
        left = size
        while left > 0:
            sock.sendall(block[:min(left, CHUNK)])
            left -= CHUNK
        if sock.recv(2) != b"OK":
            raise RuntimeError("sink did not confirm")
    return size / (time.perf_counter() - start) / 1e6


def rtt_us(port: int, rounds: int, size: int = 100) -> list[float]:
    """Round trips of a ``size``-byte message (ping-pong), in microseconds."""
    samples = []
    message = b"z" * size
    with _connect(port, "ECHO") as sock:
        for _ in range(rounds):
            start = time.perf_counter()
            sock.sendall(message)
            got = 0
            while got < len(message):
                got += len(sock.recv(size - got))
            samples.append((time.perf_counter() - start) * 1e6)
    return samples


def parallel_mb_s(port: int, size: int, streams: int) -> float:
    """Aggregate downstream MB/s of ``streams`` simultaneous transfers of ``size`` each."""
    with ThreadPoolExecutor(streams) as pool:
        start = time.perf_counter()
        list(pool.map(lambda _: downstream_mb_s(port, size), range(streams)))
        return streams * size / (time.perf_counter() - start) / 1e6


def start_target() -> tuple[multiprocessing.Process, int]:
    ports: multiprocessing.Queue[int] = multiprocessing.Queue()
    target = multiprocessing.Process(target=_serve_target, args=(ports,), daemon=True)
    target.start()
    return target, ports.get(timeout=10)


def connections_per_s(port: int, count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        with _connect(port, "ECHO") as sock:
            sock.sendall(b"!")
            if sock.recv(1) != b"!":
                raise RuntimeError("echo failed")
    return count / (time.perf_counter() - start)


@dataclass
class Row:
    name: str
    unit: str
    higher_is_better: bool
    measure: Callable[[int], float]


def _best(measure: Callable[[int], float], port: int, repeats: int, higher: bool) -> float:
    values = [measure(port) for _ in range(repeats)]
    return max(values) if higher else min(values)


async def _configure(api_url: str, target_port: int) -> tuple[int, int]:
    async with ProxyClient(api_url) as client:
        plain = await client.create_proxy("plain", "127.0.0.1:0", f"127.0.0.1:{target_port}")
        noop = await client.create_proxy("noop", "127.0.0.1:0", f"127.0.0.1:{target_port}")
        for stream in ("upstream", "downstream"):
            await client.add_toxic("noop", "noop", {}, stream=stream)
    return int(plain["listen"].rsplit(":", 1)[1]), int(noop["listen"].rsplit(":", 1)[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = parser.parse_args()
    size = (64 if args.quick else 512) * 1024 * 1024
    rounds = 500 if args.quick else 5000
    conns = 100 if args.quick else 1000
    repeats = 1 if args.quick else 3

    target, target_port = start_target()
    loop = asyncio.new_event_loop()
    with tempfile.TemporaryDirectory() as directory:
        handle = loop.run_until_complete(spawn_proxy_server(Path(directory) / "proxy.log"))
        try:
            plain_port, noop_port = loop.run_until_complete(
                _configure(handle.api_url, target_port))
            rows = [
                Row("downstream throughput", "MB/s", True, lambda p: downstream_mb_s(p, size)),
                Row("upstream throughput", "MB/s", True, lambda p: upstream_mb_s(p, size)),
                Row("4 streams down", "MB/s", True, lambda p: parallel_mb_s(p, size // 4, 4)),
                Row("100 B round trip p50", "us", False,
                    lambda p: statistics.median(rtt_us(p, rounds))),
                Row("100 B round trip p99", "us", False,
                    lambda p: statistics.quantiles(rtt_us(p, rounds), n=100)[98]),
                Row("connections", "/s", True, lambda p: connections_per_s(p, conns)),
            ]
            print(f"{'':28}{'direct':>10}{'proxy':>10}{'ratio':>8}{'+noop':>10}{'ratio':>8}")
            goal: list[str] = []
            for row in rows:
                direct, plain, noop = (
                    _best(row.measure, port, repeats, row.higher_is_better)
                    for port in (target_port, plain_port, noop_port))
                if row.unit == "MB/s":
                    met = "met" if plain / direct >= GOAL_THROUGHPUT_RATIO else "NOT met"
                    goal.append(f"{row.name.removesuffix(' throughput')} "
                                f"{plain / direct:.2f} {met}")
                print(f"{row.name + ' (' + row.unit + ')':28}{direct:10.1f}{plain:10.1f}"
                      f"{plain / direct:8.2f}{noop:10.1f}{noop / direct:8.2f}")
                if row.unit == "us":
                    print(f"{'  added by the proxy (us)':28}{'':10}{plain - direct:10.1f}"
                          f"{'':8}{noop - direct:10.1f}")
            print(f"goal: proxy / direct throughput >= {GOAL_THROUGHPUT_RATIO:.2f} with no toxic: "
                  + ", ".join(goal))
        finally:
            loop.run_until_complete(handle.stop())
            loop.close()
            target.terminate()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
