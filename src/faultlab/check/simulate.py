"""Histories of simulated correct objects: to test and benchmark checkers (and to calibrate).

Each operation gets a random interval on its process's timeline and a linearization point
inside it; applying the operations to a real (correct) object in the order of those points
gives every result, so the history is linearizable by construction. A crashed operation
(``info``) takes effect at a point anywhere after its invocation, or never, and its process
is replaced by a fresh one (as in Jepsen).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from faultlab.history import Op, Outcome

__all__ = ["OBJECTS", "append", "end_of", "etcd_like", "hard_invalid", "info_writes", "simulate"]

Apply = Callable[[Any, str, Any], tuple[bool, Any, Any]]  # (state, f, arg) -> ok, result, state


@dataclass
class Plan:
    process: int
    f: str
    arg: Any
    key: Any
    invoke: int
    complete: int
    point: int
    crash: bool
    takes_effect: bool


def _register(state: Any, f: str, arg: Any) -> tuple[bool, Any, Any]:
    if f == "read":
        return True, state, state
    if f == "write":
        return True, arg, arg
    expected, new = arg
    return (True, arg, new) if state == expected else (False, arg, state)


def _set(state: Any, f: str, arg: Any) -> tuple[bool, Any, Any]:
    if f == "add":
        return True, arg, state | {arg}
    return True, tuple(sorted(state)), state


def _queue(state: Any, f: str, arg: Any) -> tuple[bool, Any, Any]:
    if f == "enqueue":
        return True, arg, (*state, arg)
    return (True, state[0], state[1:]) if state else (True, None, state)


def _counter(state: Any, f: str, arg: Any) -> tuple[bool, Any, Any]:
    if f == "read":
        return True, state, state
    return True, arg, state + arg


OBJECTS: dict[str, tuple[Any, Apply]] = {
    "cas-register": (None, _register), "set": (frozenset(), _set), "fifo-queue": ((), _queue),
    "counter": (0, _counter),
}


def _choose(kind: str, rng: random.Random, serial: int, values: int) -> tuple[str, Any]:
    if kind == "cas-register":
        f = rng.choice(("read", "write", "cas"))
        if f == "cas":
            return f, (rng.randrange(values), rng.randrange(values))
        return f, rng.randrange(values) if f == "write" else None
    if kind == "set":
        return ("add", serial) if rng.random() < 0.7 else ("read", None)
    if kind == "fifo-queue":
        return ("enqueue", serial) if rng.random() < 0.55 else ("dequeue", None)
    return ("incr", rng.randint(1, 3)) if rng.random() < 0.6 else ("read", None)


def simulate(kind: str, rng: random.Random, *, ops: int = 40, processes: int = 3,
             keys: int = 1, crash: float = 0.05, values: int = 5) -> list[Op]:
    """A linearizable history of a correct ``kind`` object (see OBJECTS) with crashes."""
    init, apply = OBJECTS[kind]
    clocks = [0] * processes
    ids = list(range(processes))
    next_id = processes
    plans: list[Plan] = []
    for serial in range(ops):
        slot = rng.randrange(processes)
        invoke = clocks[slot] + rng.randint(1, 20)
        complete = invoke + rng.randint(1, 40)
        clocks[slot] = complete
        crashed = rng.random() < crash
        point = rng.randint(invoke, complete + (200 if crashed else 0))
        f, arg = _choose(kind, rng, serial, values)
        key = f"k{rng.randrange(keys)}" if keys > 1 else None
        plans.append(Plan(ids[slot], f, arg, key, invoke, complete, point, crashed,
                          not crashed or rng.random() < 0.5))
        if crashed:
            ids[slot], next_id = next_id, next_id + 1
    states: dict[Any, Any] = {}
    results: dict[int, tuple[bool, Any]] = {}
    for i in sorted(range(len(plans)), key=lambda i: (plans[i].point, i)):
        p = plans[i]
        if p.takes_effect:
            ok, result, states[p.key] = apply(states.get(p.key, init), p.f, p.arg)
            results[i] = ok, result
    history = []
    for i, p in enumerate(plans):
        if p.crash:
            value = None if p.f in ("read", "dequeue") else p.arg
            end = None if rng.random() < 0.3 else p.complete
            history.append(Op(i, p.process, p.f, value, p.invoke, end, Outcome.INFO, p.key))
            continue
        ok, result = results[i]
        outcome = Outcome.OK if ok else Outcome.FAIL
        history.append(Op(i, p.process, p.f, result if ok else p.arg, p.invoke, p.complete,
                          outcome, p.key))
    return history


def end_of(history: list[Op]) -> int:
    return max((op.complete_ns or op.invoke_ns for op in history), default=0) + 10


def append(history: list[Op], f: str, value: Any, at: int, key: Any = None,
           process: int = 10_000) -> Op:
    """Append an ok operation by a fresh process, invoked at ``at``, lasting 1 unit."""
    op = Op(len(history), process + len(history), f, value, at, at + 1, Outcome.OK, key)
    history.append(op)
    return op


def info_writes(history: list[Op]) -> set[Any]:
    """Values that crashed writes or cas might still write at any time."""
    out: set[Any] = set()
    for op in history:
        if op.outcome is Outcome.INFO and op.f in ("write", "cas"):
            out.add(op.value[1] if op.f == "cas" and isinstance(op.value, tuple) else op.value)
    return out


# --- histories shaped like Porcupine's etcd suite and Knossos' cas-register fixtures ---------

ETCD_VALUES = 5
HARD_VALUES, HARD_CRASH, HARD_PARTITION_CRASH = 10, 0.03, 0.3


def etcd_like(rng: random.Random, ops: int, clients: int, keys: int = 1,
              crash: float = 0.01, partition_crash: float = 0.4, values: int = ETCD_VALUES
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
    history = etcd_like(rng, ops, clients=10, crash=HARD_CRASH,
                        partition_crash=HARD_PARTITION_CRASH, values=HARD_VALUES)
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
