"""The search's prunings against the brute-force reference and the plain search.

The prunings (a crashed op is never placed right before a blind op, crashed ops alike are
placed in invocation order) must change no verdict, and an invalid verdict keeps its
evidence: a prefix that is a legal linearization and an ok operation left unplaced.
"""

from __future__ import annotations

import dataclasses
import random
from typing import Any

import pytest

from faultlab.check import MODELS, Budget, Model, Verdict, check_linearizable, linear
from faultlab.check.models import ANY, SAME
from faultlab.check.simulate import simulate
from faultlab.history import Op, Outcome

from .test_properties import brute_force, nothing_to_check, random_history


def plain(model: Model[Any]) -> Model[Any]:
    return dataclasses.replace(model, blind=None, by_value=False, table=None)


def crash_heavy(rng: random.Random, n: int) -> list[Op]:
    """Small cas-register histories where most ops crashed and values repeat."""
    ops = []
    for i in range(n):
        invoke = rng.randint(0, 20)
        outcome = rng.choices([Outcome.OK, Outcome.INFO, Outcome.FAIL], [5, 4, 1])[0]
        f = rng.choice(["read", "write", "write", "cas"])
        value: Any = ((rng.randrange(2), rng.randrange(2)) if f == "cas"
                      else rng.choice([None, 0, 1]) if f == "read" else rng.randrange(2))
        if outcome is Outcome.INFO and f == "read":
            value = None
        ops.append(Op(i, i, f, value, invoke, invoke + rng.randint(0, 12), outcome))
    return ops


def check_evidence(ops: list[Op], model: Model[Any]) -> None:
    result = check_linearizable(ops, model)
    if result.verdict is not Verdict.INVALID:
        return
    violation = result.violation
    assert violation is not None
    assert violation.must_complete.outcome is Outcome.OK
    assert violation.must_complete not in violation.prefix
    if violation.prefix:
        state = model.init()
        for op in violation.prefix:
            legal, state = model.step(state, op)
            assert legal, op.describe()
        # real time: nothing in the prefix was invoked after an unplaced op completed
        first_end = min(op.complete_ns for op in ops if op.outcome is Outcome.OK and
                        op.complete_ns is not None and op not in violation.prefix)
        assert all(op.invoke_ns <= first_end for op in violation.prefix)
    assert violation.stuck and violation.stuck[0].op == violation.must_complete


KINDS = ["cas-register", "register", "fifo-queue", "set", "counter", "mutex"]


@pytest.fixture(params=[0, linear.JIT_FROM], ids=["jit-always", "jit-default"])
def jit_from(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """The just-in-time rule on every partition, and only from its usual threshold."""
    monkeypatch.setattr(linear, "JIT_FROM", request.param)
    return int(request.param)


@pytest.mark.parametrize("kind", KINDS)
def test_same_verdicts_as_brute_force_and_plain_search(kind: str, jit_from: int) -> None:
    model = MODELS[kind]
    for seed in range(400):
        rng = random.Random(seed)
        ops = (crash_heavy(rng, rng.randint(1, 9)) if kind == "cas-register" and seed % 2
               else random_history(rng, kind if kind != "register" else "cas-register",
                                   rng.randint(1, 8)))
        if kind == "register":
            ops = [op for op in ops if op.f != "cas"]
        want = (Verdict.UNKNOWN if nothing_to_check(ops, model) else
                Verdict.VALID if brute_force(ops, model) else Verdict.INVALID)
        got = check_linearizable(ops, model)
        assert got.verdict is want, f"seed {seed}\n" + "\n".join(op.describe() for op in ops)
        assert check_linearizable(ops, plain(model)).verdict is want
        check_evidence(ops, model)


def test_same_verdicts_as_plain_search_on_larger_histories(jit_from: int) -> None:
    model = MODELS["cas-register"]
    for seed in range(60):
        rng = random.Random(seed)
        ops = simulate("cas-register", rng, ops=40, processes=4, crash=0.3, values=3)
        if seed % 2:  # a stale read at the end, maybe explained by a crashed write
            end = max(op.complete_ns or op.invoke_ns for op in ops) + 10
            ops.append(Op(len(ops), 999, "read", rng.randrange(3), end, end + 1, Outcome.OK))
        fast = check_linearizable(ops, model, Budget(time_s=30))
        slow = check_linearizable(ops, plain(model), Budget(time_s=30))
        assert fast.verdict is slow.verdict, f"seed {seed}"
        check_evidence(ops, model)


@pytest.mark.parametrize("kind", ["cas-register", "register"])
def test_step_table_agrees_with_step(kind: str) -> None:
    model = MODELS[kind]
    assert model.table is not None
    for seed in range(200):
        for op in crash_heavy(random.Random(seed), 6):
            if op.outcome is Outcome.FAIL or (kind == "register" and op.f == "cas"):
                continue
            for state in (None, 0, 1, 2):
                needs, leaves = model.table(op)
                legal, new = model.step(state, op)
                assert legal == (needs is ANY or needs == state), op.describe()
                if legal:
                    assert new == (state if leaves is SAME else leaves), op.describe()
