"""How much does the open-loop generator add to the latency it measures, and what does it cost?

Run: ``.venv/bin/python benchmarks/workload_overhead.py [--rates 200,1000,2000] [--duration 5]``
and ``... --first-second 7`` for the warm-up figures (below).

A trivial aiohttp server runs in a child process (its own core where there is one). In this
process a sequential aiohttp client (one request at a time, keep-alive) first measures the
baseline: latency and CPU per request with no scheduler at all. Then ``HttpLoad`` drives the same
server at each rate. For each rate it prints the achieved rate, p50/p99/max latency (from the
intended send time), late and dropped counts, the median generator lag (actual - intended send)
and median service time (completion - actual send), and ratios against the baseline of this
run: p50 latency, p50 service time, and generator CPU per request.

``--first-second N`` measures what a fresh ``faultlab run`` process does in its first
measured second, against the same already running server (no ``system:``): N runs each with
``warmup: 0s`` and ``warmup: 1s`` at 200 requests/s, and for each the second-0 max generator
lag and p99 against the p99 of seconds 1-2 of the same run (the baseline), and how many runs
failed a ``p99 <= 50ms`` steady-state gate over 1 s windows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

import aiohttp
from aiohttp import web

from faultlab.clock import MonotonicClock
from faultlab.workload.http import HttpLoad, HttpRequestSpec
from faultlab.workload.stats import Outcome, StatsRecorder, aggregate


class SplittingRecorder(StatsRecorder):
    """Also splits each latency into generator lag (actual - intended) and service time
    (completion - actual), to show which part of the p50 ratio the scheduler adds."""

    def __init__(self, origin: float) -> None:
        super().__init__(origin)
        self.sent_at: dict[float, float] = {}
        self.lags: list[float] = []
        self.services: list[float] = []

    def on_sent(self, intended: float, actual: float) -> None:
        self.sent_at[intended] = actual
        self.lags.append(actual - intended)
        super().on_sent(intended, actual)

    def on_done(self, intended: float, outcome: Outcome, latency: float) -> None:
        self.services.append(latency - (self.sent_at.pop(intended) - intended))
        super().on_done(intended, outcome, latency)


def serve(conn: Connection) -> None:
    """Child process: a loopback server answering ``ok`` until the parent says stop."""

    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096)
        await site.start()
        conn.send(runner.addresses[0][1])
        try:
            await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        finally:
            await runner.cleanup()

    asyncio.run(main())


async def baseline(url: str, seconds: float) -> tuple[float, float, int]:
    """Sequential client: (p50 latency s, CPU s per request, requests)."""
    clock = MonotonicClock()
    latencies: list[float] = []
    async with aiohttp.ClientSession() as session:
        for _ in range(50):  # warm up: connection, code paths
            async with session.get(url) as resp:
                await resp.read()
        cpu0, end = time.process_time(), clock.now() + seconds
        while clock.now() < end:
            t = clock.now()
            async with session.get(url) as resp:
                await resp.read()
            latencies.append(clock.now() - t)
        cpu = time.process_time() - cpu0
    return statistics.median(latencies), cpu / len(latencies), len(latencies)


@dataclass(frozen=True)
class Result:
    rate: float
    achieved: float  # completed OK per second of plan
    ok: int
    failed: int  # failed + timed out
    p50: float
    p99: float
    max: float
    late: int
    dropped: int
    max_lag: float
    lag_p50: float  # generator lag: actual send - intended
    service_p50: float  # completion - actual send (what a closed-loop tool would report)
    cpu_per_request: float
    reason: str


async def drive(url: str, rate: float, seconds: float) -> Result:
    clock = MonotonicClock()
    start = clock.now() + 0.1
    stop = start + seconds
    recorder = SplittingRecorder(origin=start)
    load = HttpLoad(HttpRequestSpec(url, timeout=5.0), rate, clock=clock, recorder=recorder)
    cpu0 = time.process_time()
    summary = await load.run(start, stop)
    cpu = time.process_time() - cpu0
    agg = aggregate(recorder.complete_until(stop + 1.0, force=True))
    return Result(
        rate=rate,
        achieved=agg.ok / seconds,
        ok=agg.ok,
        failed=agg.failed + agg.timed_out,
        p50=agg.percentile(50),
        p99=agg.percentile(99),
        max=agg.max_latency,
        late=summary.late,
        dropped=summary.dropped,
        max_lag=summary.max_lag,
        lag_p50=statistics.median(recorder.lags) if recorder.lags else math.nan,
        service_p50=statistics.median(recorder.services) if recorder.services else math.nan,
        cpu_per_request=cpu / max(1, summary.sent),
        reason=summary.reason,
    )


async def bench(url: str, rates: list[float], seconds: float) -> None:
    b_p50, b_cpu, b_n = await baseline(url, min(seconds, 3.0))
    print(
        f"baseline: sequential aiohttp client, {b_n} requests: p50 {b_p50 * 1e3:.3f} ms, "
        f"CPU {b_cpu * 1e6:.0f} µs/request"
    )
    print(f"HttpLoad: {seconds:g} s per rate; latency from the intended send time (ms)")
    print()
    print(
        f"{'rate/s':>7} {'achieved/s':>10} {'ok':>6} {'fail':>5} {'p50':>7} {'p99':>8} "
        f"{'max':>8} {'late':>5} {'drop':>5} {'maxlag':>7} {'lag50':>6} {'svc50':>6} "
        f"{'p50/base':>8} {'svc50/base':>10} {'cpu/base':>8}"
    )
    for rate in rates:
        r = await drive(url, rate, seconds)
        print(
            f"{r.rate:>7.0f} {r.achieved:>10.1f} {r.ok:>6} {r.failed:>5} {r.p50 * 1e3:>7.3f} "
            f"{r.p99 * 1e3:>8.3f} {r.max * 1e3:>8.3f} {r.late:>5} {r.dropped:>5} "
            f"{r.max_lag * 1e3:>7.1f} {r.lag_p50 * 1e3:>6.3f} {r.service_p50 * 1e3:>6.3f} "
            f"{r.p50 / b_p50:>8.2f} {r.service_p50 / b_p50:>10.2f} "
            f"{r.cpu_per_request / b_cpu:>8.2f}"
        )
        if r.reason:
            print(f"        saturated: {r.reason}")


FIRST_SECOND = """
name: first-second
warmup: {warmup}
workload: {{http: {{url: "{url}", rate: 200/s, timeout: 2s}}}}
slos: [{{name: fast, latency: {{p99: 50ms}}, window: 1s}}]
hypothesis: {{before: {{hold: [fast], for: 3s}}}}
"""


def first_second(url: str, tries: int) -> None:
    """Fresh `faultlab run` processes: second 0 against seconds 1-2 (see the docstring)."""
    print(f"fresh `faultlab run` processes, 200 requests/s, {tries} runs per warm-up")
    print(f"{'warmup':>6} {'gate failed':>11} {'lag0 ms':>8} {'p99_0 ms':>9} "
          f"{'p99_1-2 ms':>10} {'p99_0/p99_1-2':>13}  (medians)")
    with tempfile.TemporaryDirectory() as tmp:
        for warmup in ("0s", "1s"):
            failed = 0
            lags: list[float] = []
            p0: list[float] = []
            p12: list[float] = []
            for n in range(tries):
                exp = Path(tmp) / f"exp-{warmup}.yaml"
                exp.write_text(FIRST_SECOND.format(warmup=warmup, url=url))
                run_dir = Path(tmp) / f"run-{warmup}-{n}"
                done = subprocess.run([sys.executable, "-m", "faultlab", "run", str(exp),
                                       "--run-dir", str(run_dir), "--quiet"],
                                      capture_output=True, text=True, check=False)
                failed += done.returncode != 0
                events = [json.loads(line) for line in
                          (run_dir / "journal.jsonl").read_text().splitlines()]
                seconds = {e["second"]: e for e in events if e["event"] == "second"}
                lags.append(seconds[0]["max_lag"])
                p0.append(seconds[0]["p99"])
                p12.append(max(seconds[1]["p99"], seconds[2]["p99"]))
            ratios = [a / b for a, b in zip(p0, p12, strict=True)]
            print(f"{warmup:>6} {failed:>4} of {tries:<3} {statistics.median(lags) * 1e3:>8.1f} "
                  f"{statistics.median(p0) * 1e3:>9.1f} {statistics.median(p12) * 1e3:>10.1f} "
                  f"{statistics.median(ratios):>13.2f}  (largest lag0 {max(lags) * 1e3:.0f} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rates", default="200,1000,2000", help="comma-separated requests/s")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per rate")
    parser.add_argument("--uvloop", action="store_true", help="run the generator on uvloop")
    parser.add_argument("--first-second", type=int, default=0, metavar="N",
                        help="instead: N fresh `faultlab run`s per warm-up (see the docstring)")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]

    parent, child = multiprocessing.Pipe()
    server = multiprocessing.Process(target=serve, args=(child,), daemon=True)
    server.start()
    try:
        port = parent.recv()
        url = f"http://127.0.0.1:{port}/"
        print(
            f"python {sys.version.split()[0]}, aiohttp {aiohttp.__version__}, "
            f"loop {'uvloop' if args.uvloop else 'asyncio'}, server pid {server.pid}"
        )
        if args.first_second:
            first_second(url, args.first_second)
        elif args.uvloop:
            import uvloop

            uvloop.run(bench(url, rates, args.duration))
        else:
            asyncio.run(bench(url, rates, args.duration))
    finally:
        parent.send("stop")
        server.join(timeout=5)
        if server.is_alive():
            server.terminate()
            server.join()


if __name__ == "__main__":
    main()
