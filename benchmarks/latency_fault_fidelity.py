"""Latency measured by faultlab's workload through a latency fault, against the base latency
measured in the same run.

    .venv/bin/python benchmarks/latency_fault_fidelity.py [--rate 100] [--seconds 5]

Three measurements of the same tiny HTTP endpoint on loopback, each with the open-loop
workload (latency from the intended send time): directly; through faultlab's proxy with no
toxic; through the proxy with a 100 ms latency toxic (and 10 ms). Prints p50/p90/p99 and the
added latency at p50 against the requested delay.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from aiohttp import web

from faultlab.clock import MonotonicClock
from faultlab.proxy.client import ProxyClient
from faultlab.proxy.process import spawn_proxy_server
from faultlab.workload.http import HttpLoad, HttpRequestSpec
from faultlab.workload.stats import Aggregate, StatsRecorder, aggregate


async def measure(url: str, rate: float, seconds: float) -> Aggregate:
    clock = MonotonicClock()
    start = clock.now() + 0.05
    recorder = StatsRecorder(start)
    spec = HttpRequestSpec(url=url, timeout=2.0, expect_status=frozenset({200}))
    load = HttpLoad(spec, rate, clock=clock, recorder=recorder)
    await load.run(start, start + seconds)
    recorder.complete_until(clock.now() + 10, force=True)
    # Drop the first second: connection set-up is not what this benchmark is about.
    return aggregate(recorder.window(1, 10**9))


def row(label: str, agg: Aggregate, base: Aggregate | None, requested: float | None) -> str:
    p50, p90, p99 = (agg.percentile(q) * 1000 for q in (50, 90, 99))
    text = (f"{label:28} n={agg.ok:5d}  p50 {p50:7.2f} ms  p90 {p90:7.2f} ms  "
            f"p99 {p99:7.2f} ms")
    if base is not None and requested is not None:
        added = p50 - base.percentile(50) * 1000
        text += f"   added p50 {added:7.2f} ms (requested {requested:.0f} ms, error " \
                f"{added - requested:+.2f} ms)"
    return text


async def main(rate: float, seconds: float) -> None:
    async def hello(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    with tempfile.TemporaryDirectory() as tmp:
        server = await spawn_proxy_server(Path(tmp) / "proxy.log")
        client = ProxyClient(server.api_url)
        try:
            info = await client.create_proxy("bench", "127.0.0.1:0", f"127.0.0.1:{port}")
            proxy_url = f"http://{info['listen']}/"
            direct = await measure(f"http://127.0.0.1:{port}/", rate, seconds)
            print(f"rate {rate:g}/s for {seconds:g}s per line (first second dropped)")
            print(row("direct", direct, None, None))
            through = await measure(proxy_url, rate, seconds)
            print(row("proxy, no toxic", through, direct, 0))
            for delay in (10, 100):
                await client.add_toxic("bench", "latency", {"latency": delay, "jitter": 0},
                                       name="lat")
                agg = await measure(proxy_url, rate, seconds)
                await client.remove_toxic("bench", "lat")
                print(row(f"proxy, latency {delay} ms", agg, through, delay))
        finally:
            await client.close()
            await server.stop()
            await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--seconds", type=float, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.rate, args.seconds))
