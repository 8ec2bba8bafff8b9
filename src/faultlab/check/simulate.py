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

__all__ = ["OBJECTS", "append", "end_of", "info_writes", "simulate"]

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
