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
    checking them against the plain search;
(b) hard invalid cas-register histories (10 clients, 10 values, a stale read that the
    pre-passes do not catch, after 30–75 crashed operations) of 400 operations: the search
    with its prunings (just-in-time placement of crashed operations, symmetry of crashed
    operations alike, step table) against the plain Wing–Gong–Lowe search; then 800
    operations within 60 s;
(c) a 1e6-operation key-value JSON Lines history (1,000 keys) read and checked in a child
    process: time and peak RSS (VmHWM).
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
from pathlib import Path
from typing import Any

from faultlab.check import MODELS, Budget, Model, check_linearizable
from faultlab.history import Op, Outcome, read_jsonl, write_jsonl
from faultlab.history import jsonl as jsonl_module

VALUES = 5
HARD_VALUES, CRASH, PARTITION_CRASH = 10, 0.03, 0.3


def etcd_like(rng: random.Random, ops: int, clients: int, keys: int = 1,
              crash: float = 0.01, partition_crash: float = 0.4, values: int = VALUES
              ) -> list[Op]:
    """A linearizable history of a correct register (per key), with partitions.

    Each operation gets an interval on its client's timeline and a linearization point in
    it; outside partitions 1% of operations crash, inside about 40% do (they take effect at
    a point after their invocation, or never, and their client gets a fresh process id).
    """
    clock = [0] * clients
    ids = list(range(clients))
    fresh = clients
    plans: list[tuple[int, str, Any, Any, int, int, int, bool, bool]] = []
    for _ in range(ops):
        slot = rng.randrange(clients)
        invoke = clock[slot] + rng.randint(100_000, 2_000_000)
        complete = invoke + rng.randint(200_000, 5_000_000)
        clock[slot] = complete
        partitioned = (invoke // 20_000_000) % 4 == 3  # a quarter of the time
        crashed = rng.random() < (partition_crash if partitioned else crash)
        point = rng.randint(invoke, complete + (50_000_000 if crashed else 0))
        f = rng.choice(("read", "read", "write", "cas"))
        arg: Any = (rng.randrange(values), rng.randrange(values)) if f == "cas" else (
            rng.randrange(values) if f == "write" else None)
        key = None if keys == 1 else f"k{rng.randrange(keys)}"
        plans.append((ids[slot], f, arg, key, invoke, complete, point, crashed,
                      not crashed or rng.random() < 0.5))
        if crashed:
            ids[slot], fresh = fresh, fresh + 1
    state: dict[Any, Any] = {}
    results: dict[int, tuple[bool, Any]] = {}
    for i in sorted(range(len(plans)), key=lambda i: (plans[i][6], i)):
        _, f, arg, key, _, _, _, _, effect = plans[i]
        if not effect:
            continue
        now = state.get(key)
        if f == "read":
            results[i] = True, now
        elif f == "write":
            results[i], state[key] = (True, arg), arg
        elif now == arg[0]:
            results[i], state[key] = (True, arg), arg[1]
        else:
            results[i] = False, arg
    history = []
    for i, (process, f, arg, key, invoke, complete, _, crashed, _) in enumerate(plans):
        if crashed:
            history.append(Op(i, process, f, arg, invoke, complete, Outcome.INFO, key))
        else:
            ok, value = results[i]
            history.append(Op(i, process, f, value, invoke, complete,
                              Outcome.OK if ok else Outcome.FAIL, key))
    return history


def hard_invalid(seed: int, ops: int) -> list[Op]:
    """An etcd-like history with one stale read about two thirds of the way through.

    The read returns a value that an ok write wrote earlier (so "a read of a value nobody
    wrote" does not catch it), after a later ok write overwrote it, with no crashed operation
    able to write it again; every crashed write before it still has to be tried.
    """
    rng = random.Random(seed)
    history = etcd_like(rng, ops, clients=10, crash=CRASH, partition_crash=PARTITION_CRASH,
                        values=HARD_VALUES)
    by_time = sorted(history, key=lambda op: op.invoke_ns)
    for op in by_time[2 * len(by_time) // 3:]:
        at = op.invoke_ns
        for v in range(HARD_VALUES):
            writers = [w for w in history if w.outcome is not Outcome.FAIL and w.invoke_ns <= at
                       + 1_000_000 and _writes(w) == v]
            if not writers or any(w.outcome is Outcome.INFO for w in writers):
                continue
            done = max(w.complete_ns or 0 for w in writers)
            if any(w.outcome is Outcome.OK and w.f == "write" and w.invoke_ns > done
                   and (w.complete_ns or at) < at for w in history):
                read = Op(len(history), 10_000, "read", v, at, at + 1_000_000, Outcome.OK)
                return [*history, read]
    raise ValueError(f"no place for a stale read in seed {seed}")


def _writes(op: Op) -> Any:
    if op.f == "write":
        return op.value
    return op.value[1] if op.f == "cas" else None  # type: ignore[index]


def _time(fn: Any, *args: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


def plain(model: Model[Any]) -> Model[Any]:
    """``model`` without the search's prunings and step table: the plain Wing–Gong–Lowe
    search."""
    return dataclasses.replace(model, blind=None, by_value=False, table=None)


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
                check_linearizable(h, plain(MODELS["cas-register"])) for h in hs])
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
        slow, base = _time(check_linearizable, history, plain(model), Budget(time_s=limit))
        ratio = (f"{slow / fast:,.1f}x faster" if base.verdict is result.verdict
                 else f"> {slow / fast:,.1f}x (plain: {base.reason[:40]}...)")
        print(f"(b) 400 ops seed {seed}: {result.verdict.value} in {fast:.2f} s "
              f"({result.stats['configurations']:,} configurations); plain search "
              f"{base.verdict.value} in {slow:.2f} s ({base.stats['configurations']:,}): "
              f"{ratio}", flush=True)
    if quick:
        return
    for seed in (2, 3):
        history = hard_invalid(seed, 800)
        fast, result = _time(check_linearizable, history, model, Budget(time_s=60))
        print(f"(b) 800 ops seed {seed}: {result.verdict.value} in {fast:.2f} s "
              f"({result.stats['configurations']:,} configurations) {result.reason}",
              flush=True)


_GENERATE = """
import random, sys
sys.path.insert(0, sys.argv[2])
from check_etcd_shape import etcd_like
from faultlab.history import write_jsonl
write_jsonl(etcd_like(random.Random(6), int(sys.argv[3]), clients=10, keys=1000), sys.argv[1])
"""
_CHECK = """
import sys, time
from faultlab.check import check_file
from faultlab.history import read_jsonl
from faultlab.check import MODELS, check_linearizable
t0 = time.perf_counter()
history = read_jsonl(sys.argv[1])
t1 = time.perf_counter()
result = check_linearizable(history, MODELS["kv"])
t2 = time.perf_counter()
peak = next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(result.verdict.value, f"{t1 - t0:.2f}", f"{t2 - t1:.2f}", int(peak) // 1024)
"""


def bench_million(quick: bool) -> None:
    n = 100_000 if quick else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "million.jsonl")
        here = str(Path(__file__).parent)
        subprocess.run([sys.executable, "-c", _GENERATE, str(path), here, str(n)], check=True)
        size = path.stat().st_size
        base = subprocess.run([sys.executable, "-c", "import faultlab.check; print(next("
                               "line.split()[1] for line in open('/proc/self/status') if "
                               "line.startswith('VmHWM')))"], check=True, capture_output=True,
                              text=True).stdout.strip()
        for attempt in range(2):
            out = subprocess.run([sys.executable, "-c", _CHECK, str(path)], check=True,
                                 capture_output=True, text=True, env=os.environ).stdout
            verdict, parse, check, peak = out.split()
            print(f"(c) {n:,} ops key-value JSONL ({size / 2**20:.0f} MiB), run {attempt + 1}: "
                  f"{verdict}, read {parse} s + checked {check} s = "
                  f"{float(parse) + float(check):.2f} s, peak RSS {peak} MiB (the import "
                  f"alone {int(base) // 1024} MiB)", flush=True)


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
