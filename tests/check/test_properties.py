"""Property tests of the linearizability checker.

Histories of simulated correct objects (random concurrency, crashes) are always valid;
the same histories with an injected anomaly (stale read, lost write, lost add, duplicate
dequeue) are always invalid; and on small random histories the checker agrees with a
brute-force reference that tries every order.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faultlab.check import MODELS, Budget, Model, Verdict, check_linearizable
from faultlab.check.simulate import append, end_of, info_writes, simulate
from faultlab.history import Op, Outcome

PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SEEDS = st.integers(0, 2**32 - 1)


# --- the brute-force reference ---------------------------------------------------------------

def brute_force(ops: Sequence[Op], model: Model[Any]) -> bool:
    """True iff some order of the ok ops plus some subset of the info ops is legal.

    An op must precede another if it completed before the other was invoked (info ops never
    complete). Failed ops and info reads are left out, as the semantics say.
    """
    kept = [op for op in ops if op.outcome is not Outcome.FAIL
            and not (op.outcome is Outcome.INFO and model.read_only(op))]
    ends = [op.complete_ns if op.outcome is Outcome.OK and op.complete_ns is not None
            else float("inf") for op in kept]

    def extend(state: Any, placed: frozenset[int]) -> bool:
        left = [i for i in range(len(kept)) if i not in placed]
        if all(kept[i].outcome is Outcome.INFO for i in left):
            return True
        for i in left:
            # i can go next only if no unplaced op completed before i was invoked
            if any(ends[j] < kept[i].invoke_ns for j in left if j != i):
                continue
            legal, new = model.step(state, kept[i])
            if legal and extend(new, placed | {i}):
                return True
            if kept[i].outcome is Outcome.INFO and extend(state, placed | {i}):
                return True  # the info op never happens
        return False

    return extend(model.init(), frozenset())


def nothing_to_check(ops: Sequence[Op], model: Model[Any]) -> bool:
    """No op that took effect or may have: the checker must say unknown, not valid."""
    return all(op.outcome is Outcome.FAIL or (op.outcome is Outcome.INFO and model.read_only(op))
               for op in ops)


def random_history(rng: random.Random, kind: str, n: int) -> list[Op]:
    """Arbitrary (mostly invalid) small histories over a tiny value domain."""
    ops = []
    for i in range(n):
        invoke = rng.randint(0, 30)
        complete = invoke + rng.randint(0, 15)
        outcome = rng.choices([Outcome.OK, Outcome.INFO, Outcome.FAIL], [8, 2, 1])[0]
        if kind == "cas-register":
            f = rng.choice(["read", "write", "cas"])
            value: Any = ((rng.randrange(3), rng.randrange(3)) if f == "cas"
                          else rng.choice([None, 0, 1, 2]) if f == "read" else rng.randrange(3))
        elif kind == "fifo-queue":
            f = rng.choice(["enqueue", "dequeue"])
            value = rng.randrange(3) if f == "enqueue" else rng.choice([None, 0, 1, 2])
        elif kind == "set":
            f = rng.choice(["add", "read"])
            value = rng.randrange(3) if f == "add" else tuple(
                v for v in range(3) if rng.random() < 0.5)
        elif kind == "counter":
            f = rng.choice(["incr", "read"])
            value = rng.randint(1, 2) if f == "incr" else rng.randint(0, 4)
        else:
            f = rng.choice(["acquire", "release"])
            value = None
        if outcome is Outcome.INFO and f == "read":
            value = None
        ops.append(Op(i, i, f, value, invoke, None if outcome is Outcome.INFO and
                      rng.random() < 0.5 else complete, outcome))
    return ops


@PROPS
@given(seed=SEEDS, kind=st.sampled_from(["cas-register", "fifo-queue", "set", "counter",
                                         "mutex"]), n=st.integers(1, 8))
def test_agrees_with_brute_force_on_small_histories(seed: int, kind: str, n: int) -> None:
    ops = random_history(random.Random(seed), kind, n)
    model = MODELS[kind]
    expected = brute_force(ops, model)
    got = check_linearizable(ops, model)
    want = (Verdict.UNKNOWN if nothing_to_check(ops, model) else
            Verdict.VALID if expected else Verdict.INVALID)
    assert got.verdict is want, "\n".join(op.describe() for op in ops) + "\n" + got.render()
    assert (want is Verdict.UNKNOWN) == got.reason.startswith("nothing to check")


# --- valid by construction ---------------------------------------------------------------------

@PROPS
@given(seed=SEEDS, kind=st.sampled_from(["cas-register", "set", "fifo-queue", "counter"]),
       processes=st.integers(1, 6), ops=st.integers(1, 80), crash=st.sampled_from([0, .05, .2]))
def test_simulated_correct_objects_are_valid(seed: int, kind: str, processes: int, ops: int,
                                             crash: float) -> None:
    if kind == "fifo-queue":
        # Crashed dequeues of unknown values make queue searches exponential (the orders of
        # the elements still queued multiply); keep the queue histories small.
        ops, processes = min(ops, 40), min(processes, 3)
    history = simulate(kind, random.Random(seed), ops=ops, processes=processes, crash=crash)
    result = check_linearizable(history, MODELS[kind], Budget(time_s=20))
    want = Verdict.UNKNOWN if nothing_to_check(history, MODELS[kind]) else Verdict.VALID
    assert result.verdict is want, result.render()


@PROPS
@given(seed=SEEDS, keys=st.integers(2, 6))
def test_simulated_key_value_store_is_valid(seed: int, keys: int) -> None:
    history = simulate("cas-register", random.Random(seed), ops=120, processes=5, keys=keys,
                       crash=0.05)
    result = check_linearizable(history, MODELS["kv"])
    assert result.verdict is Verdict.VALID, result.render()


# --- invalid by construction ---------------------------------------------------------------

@PROPS
@given(seed=SEEDS, lost=st.booleans(), processes=st.integers(1, 5))
def test_stale_read_or_lost_write_is_found(seed: int, lost: bool, processes: int) -> None:
    rng = random.Random(seed)
    history = simulate("cas-register", rng, ops=60, processes=processes, crash=0.05)
    # After everything, a fresh client writes 99 and then reads an older value (stale read)
    # or the value from before its write (lost write). No crashed op can produce that value.
    older = [op.value for op in history if op.f == "write" and op.outcome is Outcome.OK]
    stale = rng.choice([*older, None]) if not lost else None
    if stale in info_writes(history):
        stale = 1000  # a value never written at all: also a stale read
    at = end_of(history)
    append(history, "write", 99, at)
    append(history, "read", stale, at + 5)
    result = check_linearizable(history, MODELS["cas-register"])
    assert result.verdict is Verdict.INVALID, result.render()
    assert result.violation is not None
    assert result.violation.must_complete.value == stale


@PROPS
@given(seed=SEEDS, processes=st.integers(1, 5))
def test_duplicate_dequeue_is_found(seed: int, processes: int) -> None:
    rng = random.Random(seed)
    history = simulate("fifo-queue", rng, ops=60, processes=processes, crash=0.05)
    taken = [op.value for op in history if op.f == "dequeue" and op.outcome is Outcome.OK
             and op.value is not None]
    value = rng.choice(taken) if taken else 12345
    append(history, "dequeue", value, end_of(history))
    result = check_linearizable(history, MODELS["fifo-queue"])
    assert result.verdict is Verdict.INVALID, result.render()


@PROPS
@given(seed=SEEDS, processes=st.integers(1, 5))
def test_lost_add_is_found(seed: int, processes: int) -> None:
    rng = random.Random(seed)
    history = simulate("set", rng, ops=50, processes=processes, crash=0.05)
    added: list[Any] = [op.value for op in history if op.f == "add" and op.outcome is Outcome.OK]
    everything = {op.value for op in history if op.f == "add" and op.outcome is not
                  Outcome.FAIL}
    drop = rng.choice(added) if added else None
    final: tuple[Any, ...] = tuple(v for v in everything if v != drop)
    if drop is None:
        final = (*final, 99999)  # nothing to lose: read an element never added instead
    append(history, "read", final, end_of(history))
    result = check_linearizable(history, MODELS["set"])
    assert result.verdict is Verdict.INVALID, result.render()
