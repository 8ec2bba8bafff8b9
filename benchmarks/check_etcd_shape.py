"""Benchmark of parsing and checking on histories shaped like Porcupine's and Knossos' suites.

    .venv/bin/python benchmarks/check_etcd_shape.py [--quick] [--only parse|hard|million]

Porcupine's etcd suite and Knossos' cas-register fixtures are not reachable here, so a seeded
generator makes histories of the same shape: 5–10 clients on one register, reads, writes and
cas over a few values, 100–700 operations each, and partitions (a quarter of the time, in
windows of 20 ms, 10–30% of operations crash: ``info``, their process replaced by a fresh
one as Jepsen does). Every figure is printed next to its baseline measured in the same run:

(a) parsing 103 such JSON Lines histories in one process: the fast line reader against the
    strict reference reader (the path every unusual line still takes; it shares the faster
    construction of operations, so it is not the reader of before this change), then
    checking them against the plain search (exact memo of configurations, no pruning: the
    algorithm of Porcupine and Knossos' linear checker, in the same Python);
(b) hard invalid cas-register histories (10 clients, 10 values, a stale read that the
    pre-passes do not catch, after 30–75 crashed operations) of 400 operations: the search
    with its prunings (greedy reads, dominated configurations skipped — by subset and by
    covering: crashed writes for crashed cas —, just-in-time placement of crashed operations,
    symmetry of crashed operations alike, step table, and the search by levels of crashed
    operations placed once depth first has not decided) against the
    plain search; then 800 operations, every seed that can hold such a read (2–6), within
    60 s each;
(c) a 1e6-operation key-value JSON Lines history (1,000 keys) read and checked in a child
    process: wall and CPU time, peak RSS (VmHWM), against building as many operations with
    their sources in memory (what any reader of this data model must allocate).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from faultlab.check import MODELS, Budget, CheckResult, Model, check_linearizable, linear
from faultlab.check.simulate import etcd_like, hard_invalid
from faultlab.history import Op, read_jsonl, write_jsonl
from faultlab.history import jsonl as jsonl_module


def _time(fn: Any, *args: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


def check_plain(history: Sequence[Op], model: Model[Any], budget: Budget | None = None
                ) -> CheckResult:
    """``history`` checked by the plain Wing–Gong–Lowe search (memo of exact configurations,
    as Porcupine's): ``model`` without its prunings and step table, and the search without
    dominated configurations or greedy reads."""
    saved = linear.SUBSUME, linear.GREEDY_READS
    linear.SUBSUME = linear.GREEDY_READS = False
    try:
        return check_linearizable(history, dataclasses.replace(
            model, blind=None, by_value=False, table=None), budget)
    finally:
        linear.SUBSUME, linear.GREEDY_READS = saved


def bench_parse(quick: bool) -> None:
    rng = random.Random(14)
    count = 20 if quick else 103
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        total = 0
        for i in range(count):
            n = rng.randint(100, 700)
            history = etcd_like(rng, n, clients=rng.randint(5, 10), partition_crash=0.1)
            path = Path(tmp, f"etcd_{i:03d}.jsonl")
            write_jsonl(history, path)
            paths.append(path)
            total += n
        print(f"(a) {count} etcd-like histories, {total:,} operations")
        for attempt in range(3):
            slow, _ = _time(lambda: [jsonl_module.read_jsonl_strict(p) for p in paths])
            fast, histories = _time(lambda: [read_jsonl(p) for p in paths])
            check, results = _time(lambda hs=histories: [
                check_linearizable(h, MODELS["cas-register"]) for h in hs])
            base, plain_results = _time(lambda hs=histories: [
                check_plain(h, MODELS["cas-register"]) for h in hs])
            verdicts = {r.verdict.value for r in results}
            assert [r.verdict for r in results] == [r.verdict for r in plain_results]
            print(f"  run {attempt + 1}: parse {fast:.3f} s (strict reference reader "
                  f"{slow:.3f} s: {slow / fast:.1f}x faster), check {check:.3f} s (plain "
                  f"search {base:.3f} s: {base / check:.1f}x faster), total "
                  f"{fast + check:.3f} s, verdicts {sorted(verdicts)}", flush=True)


def bench_hard(quick: bool) -> None:
    model = MODELS["cas-register"]
    limit = 30 if quick else 90
    for seed in (1, 2, 3):
        history = hard_invalid(seed, 400)
        fast, result = _time(check_linearizable, history, model, Budget(time_s=60))
        slow, base = _time(check_plain, history, model, Budget(time_s=limit))
        ratio = (f"{slow / fast:,.1f}x faster" if base.verdict is result.verdict
                 else f"> {slow / fast:,.1f}x (plain: {base.reason[:40]}...)")
        print(f"(b) 400 ops seed {seed}: {result.verdict.value} in {fast:.2f} s "
              f"({result.stats['configurations']:,} configurations); plain search "
              f"{base.verdict.value} in {slow:.2f} s ({base.stats['configurations']:,}): "
              f"{ratio}", flush=True)
    if quick:
        return
    for seed in (2, 3, 4, 5, 6):
        history = hard_invalid(seed, 800)
        fast, result = _time(check_linearizable, history, model, Budget(time_s=60))
        print(f"(b) 800 ops seed {seed}: {result.verdict.value} in {fast:.2f} s "
              f"({result.stats['configurations']:,} configurations) {result.reason}",
              flush=True)


_GENERATE = """
import random, sys
from faultlab.check.simulate import etcd_like
from faultlab.history import write_jsonl
write_jsonl(etcd_like(random.Random(6), int(sys.argv[2]), clients=10, keys=1000), sys.argv[1])
"""
_CHECK = """
import sys, time
from faultlab.history import read_jsonl
from faultlab.check import MODELS, check_linearizable
t0, c0 = time.perf_counter(), time.process_time()
history = read_jsonl(sys.argv[1])
t1, c1 = time.perf_counter(), time.process_time()
result = check_linearizable(history, MODELS["kv"])
t2, c2 = time.perf_counter(), time.process_time()
peak = next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(result.verdict.value, t1 - t0, t2 - t1, c1 - c0, c2 - c1, int(peak) // 1024)
"""
# What any reader must allocate: the same number of operations, each with its source.
_FLOOR = """
import gc, sys, time
from faultlab.history import History, Op, Outcome, Source
gc.disable()
t0, c0 = time.perf_counter(), time.process_time()
ops = [Op(i, i % 10, "read", None, 10**12 + 1000 * i, 10**12 + 1000 * i + 5, Outcome.OK, "k",
          None, Source(sys.argv[1], i + 1)) for i in range(int(sys.argv[2]))]
history = History(tuple(ops))
t1, c1 = time.perf_counter(), time.process_time()
peak = next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(t1 - t0, c1 - c0, int(peak) // 1024)
"""


def bench_million(quick: bool) -> None:
    n = 100_000 if quick else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "million.jsonl")
        subprocess.run([sys.executable, "-c", _GENERATE, str(path), str(n)], check=True)
        size = path.stat().st_size
        base = subprocess.run([sys.executable, "-c", "import faultlab.check; print(next("
                               "line.split()[1] for line in open('/proc/self/status') if "
                               "line.startswith('VmHWM')))"], check=True, capture_output=True,
                              text=True).stdout.strip()
        floor = subprocess.run([sys.executable, "-c", _FLOOR, str(path), str(n)], check=True,
                               capture_output=True, text=True).stdout.split()
        build, build_cpu, build_peak = float(floor[0]), float(floor[1]), int(floor[2])
        print(f"(c) baseline: {n:,} operations with their sources built in memory (what any "
              f"reader of this data model allocates): {build:.2f} s ({build_cpu:.2f} s CPU), "
              f"peak RSS {build_peak} MiB (the import alone {int(base) // 1024} MiB)",
              flush=True)
        for attempt in range(2):
            out = subprocess.run([sys.executable, "-c", _CHECK, str(path)], check=True,
                                 capture_output=True, text=True, env=os.environ).stdout
            verdict, *times, peak = out.split()
            parse, check, parse_cpu, check_cpu = map(float, times)
            print(f"(c) {n:,} ops key-value JSONL ({size / 2**20:.0f} MiB), run {attempt + 1}: "
                  f"{verdict}, read {parse:.2f} s + checked {check:.2f} s = "
                  f"{parse + check:.2f} s (CPU {parse_cpu:.2f} + {check_cpu:.2f} = "
                  f"{parse_cpu + check_cpu:.2f} s; reading {parse_cpu / build_cpu:.1f}x the "
                  f"baseline's CPU), peak RSS {peak} MiB ({int(peak) / build_peak:.2f}x the "
                  "baseline's)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller inputs")
    parser.add_argument("--only", choices=("parse", "hard", "million"))
    args = parser.parse_args()
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if args.only in (None, "parse"):
        bench_parse(args.quick)
    if args.only in (None, "hard"):
        bench_hard(args.quick)
    if args.only in (None, "million"):
        bench_million(args.quick)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"peak RSS of this process: {rss / 1024:.0f} MiB (at start {rss0 / 1024:.0f} MiB)")


if __name__ == "__main__":
    main()
