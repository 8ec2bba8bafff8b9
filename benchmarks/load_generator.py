"""How fast does the open-loop generator go on one core, lean client against aiohttp?

Run: ``.venv/bin/python benchmarks/load_generator.py [--rates 2000,5000,10000,15000]
[--duration 5] [--wrk]``; it needs nginx (Debian's nginx-light, which
scripts/install-system-packages installs).

nginx (one worker, pinned to the last core, access log off, ``return 200 "ok"``) runs from a
temporary directory on a free loopback port. Each measurement is a fresh generator process
pinned to core 0 (``taskset -c 0``) that runs :class:`~faultlab.workload.http.HttpLoad`
under uvloop, as ``faultlab run`` does, for ``--duration`` seconds at one rate with one
client, after a one-second warm-up at that rate. For each rate the two clients run back to
back in the same run (lean, then aiohttp), and the script prints for each: the achieved rate
(OK responses per second, from second 0 until the last response of the plan), the share of
sends more than 10 ms late, the dropped requests, p50/p99 latency from the intended send
time, the generator's CPU per request and its scheduler wake-ups per request; then the
lean/aiohttp ratios of achieved rate and CPU per request. The goal (issue 14): >= 10,000
requests/s with < 1% late.

``--wrk`` also runs wrk (Debian; closed loop, 1 thread, 32 connections, pinned to core 0) for
the rate a C generator reaches against the same nginx: a ceiling, not an open-loop peer.
``--locust PATH`` runs that ``locust`` (e.g. from ``pip install locust`` in its own venv)
headless on core 0: FastHttpUser, 32 users, no wait (closed loop, as fast as it goes). Both
print their rate, CPU per request (their process's CPU over its requests, start-up included)
and the lean client's ratios against them.
``--scale-out RATE`` (issue 14, goal 2) measures one load over worker processes
(``workers:``): the same load at RATE (above one core's limit; e.g. 30000) with ``workers``
1 (the in-process load) and then 2, the generator *not* pinned (its processes go where the OS
puts them; nginx stays on the last core), and prints for each the sustained rate (OK
responses per second of the measured window), late share, drops, p50/p99 and CPU per
request (the generator's processes together, workers' start-up and warm-up included), then
the ratio 2 workers / 1 worker, and, with ``--wrk``/``--locust``, 2 workers' rate over theirs.
Each row also has the warm-up second's late share and max lag (``wu``): the workers are
spawned by the load's ``prepare()``, before the run; a third run, ``2*``, spawns them when the
run starts (as before), so their start-up shows there as late warm-up sends.
On a machine with two cores one worker shares its core with nginx: the ratio is a floor.
``--child`` is the generator process itself (internal).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NGINX_CONF = """
worker_processes 1;
worker_cpu_affinity {affinity};
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body; proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fcgi; uwsgi_temp_path {dir}/uwsgi; scgi_temp_path {dir}/scgi;
  keepalive_requests 10000000;
  keepalive_timeout 120s;
  server {{
    listen 127.0.0.1:{port} backlog=4096;
    location / {{ default_type text/plain; return 200 "ok"; }}
  }}
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def start_nginx(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    port = free_port()
    cores = os.cpu_count() or 1
    affinity = "1" + "0" * (cores - 1)  # the last core; the generator has core 0
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=tmp, port=port, affinity=affinity))
    proc = subprocess.Popen([nginx, "-c", str(conf), "-p", str(tmp)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, f"http://127.0.0.1:{port}/"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"nginx did not start: {(tmp / 'error.log').read_text()}")


def child(url: str, rate: float, duration: float, client: str, workers: int = 1,
          unprepared: bool = False) -> None:
    """The generator process: one load, its figures as one JSON line on stdout."""
    import uvloop

    from faultlab.clock import MonotonicClock
    from faultlab.workload.http import HttpLoad, HttpRequestSpec
    from faultlab.workload.stats import StatsRecorder, aggregate

    class CountingClock(MonotonicClock):
        wakeups = 0

        async def sleep_until(self, deadline: float) -> None:
            CountingClock.wakeups += 1
            await super().sleep_until(deadline)

    async def main() -> dict[str, float | str]:
        clock = CountingClock()
        recorder = StatsRecorder(0.0)
        kwargs = {"client": client} if client != "default" else {}
        load = HttpLoad(HttpRequestSpec(url, timeout=2.0), rate, max_in_flight=1000 * workers,
                        clock=clock, recorder=recorder, workers=workers,
                        **kwargs)  # type: ignore[arg-type]
        prepare = getattr(load, "prepare", None)  # workers spawned before the run (issue 14)
        if prepare is not None and not unprepared:
            await prepare()
        start = clock.now() + 0.05
        origin = start + 1.0  # a second of warm-up at the same rate
        stop = origin + duration
        recorder.origin = origin
        task = asyncio.create_task(load.run(start, stop, origin=origin))
        await clock.sleep_until(origin)
        cpu0, wake0 = time.process_time(), CountingClock.wakeups
        summary = await task
        # the workers' CPU (start-up and warm-up included: they are reaped only now)
        cpu, elapsed = time.process_time() - cpu0 + child_cpu(), clock.now() - origin
        agg = aggregate(recorder.complete_until(stop + 10, force=True))
        return {
            "client": getattr(load, "client", "aiohttp"),
            "achieved": agg.ok / elapsed, "sent": summary.sent, "dropped": summary.dropped,
            "late": summary.late / max(1, summary.sent), "failed": agg.failed + agg.timed_out,
            "p50": agg.percentile(50), "p99": agg.percentile(99),
            "cpu": cpu / max(1, summary.sent),
            "wakeups": (CountingClock.wakeups - wake0) / max(1, summary.sent),
            "warmup_late": recorder.warmup.late / max(1, recorder.warmup.sent),
            "warmup_lag": recorder.warmup.max_lag,
        }

    print(json.dumps(uvloop.run(main())))


def measure(url: str, rate: float, duration: float, client: str, workers: int = 0,
            unprepared: bool = False) -> dict[str, float | str]:
    """One generator run; ``workers`` 0 is the in-process load pinned to core 0, ``workers``
    >= 1 is that many processes (1: the in-process load) left unpinned; ``unprepared``: the
    workers are spawned by the run itself (as before issue 14's prepare), not ahead of it."""
    pin = ["taskset", "-c", "0"] if not workers else []
    cmd = [*pin, sys.executable, __file__, "--child", url, "--rates", str(rate),
           "--duration", str(duration), "--client", client, "--workers", str(workers or 1),
           *(["--unprepared"] if unprepared else [])]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    result: dict[str, float | str] = json.loads(out.strip().splitlines()[-1])
    return result


LOCUSTFILE = """
from locust import FastHttpUser, constant, task

class Hit(FastHttpUser):
    wait_time = constant(0)

    @task
    def root(self):
        self.client.get("/")
"""


def child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_wrk(url: str, duration: float) -> tuple[float, float] | None:
    """wrk's (requests/s, CPU s per request), or None without wrk."""
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    cpu0 = child_cpu()
    out = subprocess.run(["taskset", "-c", "0", wrk, "-t1", "-c32", f"-d{duration:g}s", url],
                         capture_output=True, text=True, check=True).stdout
    cpu = child_cpu() - cpu0
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    if rate is None or total is None:
        return None
    return float(rate.group(1)), cpu / int(total.group(1))


def run_locust(locust: str, url: str, duration: float, tmp: Path) -> tuple[float, float]:
    """Locust FastHttpUser's (requests/s, CPU s per request)."""
    (tmp / "locustfile.py").write_text(LOCUSTFILE)
    cpu0 = child_cpu()
    subprocess.run(["taskset", "-c", "0", locust, "-f", str(tmp / "locustfile.py"),
                    "--headless", "-u", "32", "-r", "32", "-t", f"{duration:g}s",
                    "--host", url.rstrip("/"), "--csv", str(tmp / "locust"), "--only-summary",
                    "--loglevel", "WARNING"],
                   capture_output=True, text=True, check=True, cwd=tmp)
    cpu = child_cpu() - cpu0
    with open(tmp / "locust_stats.csv") as f:
        rows = {r["Name"]: r for r in csv.DictReader(f)}
    agg = rows["Aggregated"]
    return float(agg["Requests/s"]), cpu / max(1, int(agg["Request Count"]))


def row(rate: float, r: dict[str, float | str]) -> str:
    f = {k: float(v) for k, v in r.items() if k != "client"}
    return (f"{rate:>7.0f} {r['client']:>7} {f['achieved']:>9.0f} {f['late']:>6.2%} "
            f"{f['dropped']:>6.0f} {f['failed']:>5.0f} {f['p50'] * 1e3:>7.2f} "
            f"{f['p99'] * 1e3:>8.2f} {f['cpu'] * 1e6:>7.1f} {f['wakeups']:>6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rates", default="2000,5000,10000,15000")
    parser.add_argument("--duration", type=float, default=5.0, help="measured seconds per run")
    parser.add_argument("--clients", default="lean,aiohttp",
                        help="comma-separated: lean, aiohttp (default: both, same run)")
    parser.add_argument("--wrk", action="store_true", help="also run wrk for a C ceiling")
    parser.add_argument("--locust", metavar="PATH", help="also run this locust (FastHttpUser)")
    parser.add_argument("--scale-out", metavar="RATE", type=float,
                        help="only measure workers 1 vs 2 at this rate (see the docstring)")
    parser.add_argument("--child", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--client", default="default", help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--unprepared", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    if args.child:
        child(args.child, rates[0], args.duration, args.client, args.workers, args.unprepared)
        return
    if args.scale_out:
        scale_out(args)
        return

    with tempfile.TemporaryDirectory() as tmp:
        nginx, url = start_nginx(Path(tmp))
        try:
            print(f"python {sys.version.split()[0]}, uvloop, nginx pid {nginx.pid} at {url}, "
                  f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; "
                  f"generator on core 0, {args.duration:g} s per run")
            print(f"{'rate/s':>7} {'client':>7} {'achieved':>9} {'late':>6} {'drop':>6} "
                  f"{'fail':>5} {'p50 ms':>7} {'p99 ms':>8} {'cpu µs':>7} {'wakes':>6}"
                  "   (cpu µs and wakes per request)")
            best: tuple[float, float] | None = None  # the lean client's on-time rate, CPU
            for rate in rates:
                results = {c: measure(url, rate, args.duration, c)
                           for c in args.clients.split(",")}
                for r in results.values():
                    print(row(rate, r))
                if "lean" in results and "aiohttp" in results:
                    lean, aio = results["lean"], results["aiohttp"]
                    print(f"{'':>7} lean/aiohttp: achieved "
                          f"{float(lean['achieved']) / float(aio['achieved']):.2f}x, "
                          f"CPU per request {float(lean['cpu']) / float(aio['cpu']):.2f}x")
                lean = results.get("lean", {})
                if lean and float(lean["late"]) < 0.01 and not float(lean["dropped"]):
                    best = (float(lean["achieved"]), float(lean["cpu"]))
            if best is not None:
                print(f"lean client: highest rate on time (< 1% late, no drop) {best[0]:.0f}/s, "
                      f"{best[1] * 1e6:.1f} µs CPU per request")
            peers: list[tuple[str, tuple[float, float] | None]] = []
            if args.wrk:
                peers.append(("wrk -t1 -c32 (C, closed loop)", run_wrk(url, args.duration)))
            if args.locust:
                peers.append(("Locust FastHttpUser, 32 users, no wait (closed loop)",
                              run_locust(args.locust, url, args.duration, Path(tmp))))
            for name, peer in peers:
                if peer is None:
                    print(f"{name}: not installed")
                    continue
                ratio = (f"; lean on time / it: {best[0] / peer[0]:.2f}x the rate, "
                         f"{best[1] / peer[1]:.2f}x the CPU per request" if best else "")
                print(f"{name} on core 0: {peer[0]:.0f} requests/s, "
                      f"{peer[1] * 1e6:.1f} µs CPU per request{ratio}")
        finally:
            nginx.terminate()
            nginx.wait(timeout=10)


def scale_out(args: argparse.Namespace) -> None:
    """Workers 1 vs 2 at ``args.scale_out`` requests/s, then the peers; see the docstring."""
    rate = args.scale_out
    with tempfile.TemporaryDirectory() as tmp:
        nginx, url = start_nginx(Path(tmp))
        try:
            print(f"python {sys.version.split()[0]}, uvloop, nginx pid {nginx.pid} at {url} "
                  f"(last core), {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; "
                  f"generator unpinned, {args.duration:g} s per run at {rate:.0f}/s")
            print(f"{'workers':>7} {'client':>7} {'achieved':>9} {'late':>6} {'drop':>6} "
                  f"{'fail':>5} {'p50 ms':>7} {'p99 ms':>8} {'cpu µs':>7} {'wu late':>7} "
                  f"{'wu lag':>7}   (cpu µs per request, all the generator's processes; "
                  "wu: the warm-up second, late share and max lag ms)")
            results = {n: measure(url, rate, args.duration, "default", n) for n in (1, 2)}
            # the same 2 workers spawned by the run (as before they were spawned in prepare)
            spawned_late = measure(url, rate, args.duration, "default", 2, unprepared=True)
            for label, r in [*results.items(), ("2*", spawned_late)]:
                print(f"{row(0, r).rsplit(' ', 1)[0].replace('      0', f'{label:>7}', 1)} "
                      f"{float(r.get('warmup_late', 0)):>7.2%} "
                      f"{float(r.get('warmup_lag', 0)) * 1e3:>7.1f}")
            print("2*: the workers spawned when the run starts, not by prepare() before it")
            one, two = (float(results[n]["achieved"]) for n in (1, 2))
            print(f"2 workers / 1 worker: sustained rate {two / one:.2f}x, CPU per request "
                  f"{float(results[2]['cpu']) / float(results[1]['cpu']):.2f}x")
            peers: list[tuple[str, tuple[float, float] | None]] = []
            if args.wrk:
                peers.append(("wrk -t1 -c32 (C, closed loop, core 0)",
                              run_wrk(url, args.duration)))
            if args.locust:
                peers.append(("Locust FastHttpUser, 32 users, no wait (closed loop, core 0)",
                              run_locust(args.locust, url, args.duration, Path(tmp))))
            for name, peer in peers:
                if peer is None:
                    print(f"{name}: not installed")
                    continue
                print(f"{name}: {peer[0]:.0f} requests/s; 2 workers / it: {two / peer[0]:.2f}x "
                      f"the rate, 1 worker / it: {one / peer[0]:.2f}x")
        finally:
            nginx.terminate()
            nginx.wait(timeout=10)


if __name__ == "__main__":
    main()
