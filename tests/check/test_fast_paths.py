"""The search's prunings against the brute-force reference and the plain search.

The prunings (a crashed op is never placed right before a blind op, crashed ops alike are
placed in invocation order, a legal read is placed at once, a configuration dominated by
one entered before is skipped) must change no verdict, alone or together, and an invalid
verdict keeps its evidence: a prefix that is a legal linearization and an ok operation left
unplaced. The plain search (exact memo, no prunings, no step table) is the reference on
histories too large for brute force.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import random
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faultlab.check import MODELS, Budget, Model, Verdict, check_linearizable, linear
from faultlab.check.models import ANY, SAME
from faultlab.check.result import CheckResult, ModelError
from faultlab.check.simulate import etcd_like, hard_invalid, simulate
from faultlab.history import Op, Outcome

from .test_properties import brute_force, nothing_to_check, random_history

UNBOUNDED = Budget(time_s=math.inf, memory_bytes=1 << 40)


@contextlib.contextmanager
def searching(*, subsume: bool, greedy_reads: bool, levels: bool = True, cover: bool = True,
              depth_first: int = linear.DEPTH_FIRST) -> Iterator[None]:
    saved = (linear.SUBSUME, linear.GREEDY_READS, linear.LEVELS, linear.COVER,
             linear.DEPTH_FIRST)
    (linear.SUBSUME, linear.GREEDY_READS, linear.LEVELS, linear.COVER,
     linear.DEPTH_FIRST) = subsume, greedy_reads, levels, cover, depth_first
    try:
        yield
    finally:
        (linear.SUBSUME, linear.GREEDY_READS, linear.LEVELS, linear.COVER,
         linear.DEPTH_FIRST) = saved


def plain(model: Model[Any]) -> Model[Any]:
    return dataclasses.replace(model, blind=None, by_value=False, table=None)


def check_plain(ops: Sequence[Op], model: Model[Any], budget: Budget | None = None
                ) -> CheckResult:
    """The plain Wing–Gong–Lowe search: no pruning of the model or of the search."""
    with searching(subsume=False, greedy_reads=False):
        return check_linearizable(ops, plain(model), budget)


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


# (dominance, greedy reads, levels, covering, depth-first configurations per op before
# levels): levels and covering only act with dominance; "all" is the default, the others go
# by levels at once (a depth-first attempt would decide these small histories alone)
PRUNINGS = {"all": (True, True, True, True, linear.DEPTH_FIRST),
            "all-by-levels": (True, True, True, True, 0),
            "dominance+greedy": (True, True, False, False, 0),
            "dominance+greedy+levels": (True, True, True, False, 0),
            "dominance+greedy+cover": (True, True, False, True, 0),
            "dominance+levels+cover": (True, False, True, True, 0),
            "dominance": (True, False, False, False, 0), "greedy": (False, True, True, True, 0),
            "neither": (False, False, True, True, 0)}


@pytest.fixture(params=list(PRUNINGS.values()), ids=list(PRUNINGS))
def prunings(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Dominated configurations skipped or not (and, when they are, by levels or not, by
    covering or not), greedy reads or not."""
    for name, value in zip(("SUBSUME", "GREEDY_READS", "LEVELS", "COVER", "DEPTH_FIRST"),
                           request.param, strict=True):
        monkeypatch.setattr(linear, name, value)


@pytest.mark.parametrize("kind", KINDS)
def test_same_verdicts_as_brute_force_and_plain_search(kind: str, jit_from: int,
                                                       prunings: None) -> None:
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
        assert check_plain(ops, model).verdict is want
        check_evidence(ops, model)


def test_same_verdicts_as_plain_search_on_larger_histories(jit_from: int, prunings: None
                                                           ) -> None:
    model = MODELS["cas-register"]
    for seed in range(60):
        rng = random.Random(seed)
        ops = simulate("cas-register", rng, ops=40, processes=4, crash=0.3, values=3)
        if seed % 2:  # a stale read at the end, maybe explained by a crashed write
            end = max(op.complete_ns or op.invoke_ns for op in ops) + 10
            ops.append(Op(len(ops), 999, "read", rng.randrange(3), end, end + 1, Outcome.OK))
        fast = check_linearizable(ops, model, Budget(time_s=30))
        slow = check_plain(ops, model, Budget(time_s=30))
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


def with_stale_read(rng: random.Random, ops: list[Op], values: int) -> list[Op]:
    """``ops`` and, after everything, a read by a fresh client of a random value: invalid
    unless some crashed write may write it late (or it is the last value)."""
    end = max(op.complete_ns or op.invoke_ns for op in ops) + 10
    return [*ops, Op(len(ops), 99_999, "read", rng.randrange(values), end, end + 1,
                     Outcome.OK)]


PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(10, 120), clients=st.integers(2, 8),
       partition_crash=st.sampled_from([0.1, 0.4, 0.8]), stale=st.booleans())
def test_etcd_shaped_histories_agree_with_plain_search(seed: int, n: int, clients: int,
                                                       partition_crash: float, stale: bool
                                                       ) -> None:
    """Etcd-shaped histories (partitions, many crashed ops): the same verdict as the plain
    search, valid when nothing was injected, evidence that holds when invalid."""
    rng = random.Random(seed)
    ops = etcd_like(rng, n, clients, partition_crash=partition_crash, values=3)
    if stale:
        ops = with_stale_read(rng, ops, 3)
    model = MODELS["cas-register"]
    fast = check_linearizable(ops, model, UNBOUNDED)
    assert fast.verdict is check_plain(ops, model, UNBOUNDED).verdict
    if not stale:
        assert fast.verdict is Verdict.VALID, fast.render()
    check_evidence(ops, model)


@PROPS
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 10))
def test_crash_heavy_histories_agree_with_brute_force(seed: int, n: int) -> None:
    ops = crash_heavy(random.Random(seed), n)
    model = MODELS["cas-register"]
    want = (Verdict.UNKNOWN if nothing_to_check(ops, model) else
            Verdict.VALID if brute_force(ops, model) else Verdict.INVALID)
    assert check_linearizable(ops, model).verdict is want


def mixed_crashes(rng: random.Random, n: int, values: int) -> list[Op]:
    """One register, crashed writes and crashed cas of every kind leaving the same values
    (so one may cover the other), and ok reads, writes and cas that observe them."""
    ops = []
    for i in range(n):
        invoke = rng.randint(0, 30)
        crashed = rng.random() < 0.5
        f = rng.choice(["write", "cas"] if crashed else ["read", "read", "write", "cas"])
        value: Any = ((rng.randrange(values), rng.randrange(values)) if f == "cas"
                      else rng.randrange(values))
        ops.append(Op(i, i, f, value, invoke, invoke + rng.randint(0, 10),
                      Outcome.INFO if crashed else Outcome.OK))
    return ops


@PROPS
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 10), values=st.integers(2, 3),
       pruning=st.sampled_from(list(PRUNINGS.values())), jit=st.booleans())
def test_crashed_ops_of_different_kinds_agree_with_brute_force(
        seed: int, n: int, values: int, pruning: tuple[bool, bool, bool, bool, int], jit: bool
) -> None:
    """Covering (a placed crashed cas against a placed crashed write leaving the same
    value) and the search by levels, on histories made of such ops: brute force's verdict,
    with every pruning on or off, the just-in-time rule always or from its threshold."""
    ops = mixed_crashes(random.Random(seed), n, values)
    model = MODELS["cas-register"]
    want = (Verdict.UNKNOWN if nothing_to_check(ops, model) else
            Verdict.VALID if brute_force(ops, model) else Verdict.INVALID)
    saved = linear.JIT_FROM
    linear.JIT_FROM = 0 if jit else saved
    try:
        subsume, greedy_reads, levels, cover, depth_first = pruning
        with searching(subsume=subsume, greedy_reads=greedy_reads, levels=levels,
                       cover=cover, depth_first=depth_first):
            assert check_linearizable(ops, model).verdict is want
            check_evidence(ops, model)
    finally:
        linear.JIT_FROM = saved


@PROPS
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(10, 22), values=st.integers(2, 4))
def test_crashed_ops_of_different_kinds_agree_with_plain_search(seed: int, n: int,
                                                                values: int) -> None:
    rng = random.Random(seed)
    ops = with_stale_read(rng, mixed_crashes(rng, n, values), values)
    model = MODELS["cas-register"]
    fast = check_linearizable(ops, model, UNBOUNDED)
    assert fast.verdict is check_plain(ops, model, UNBOUNDED).verdict
    check_evidence(ops, model)


@pytest.mark.timeout(900)
@pytest.mark.parametrize(("ops", "seed"), [(400, 1), (400, 2), (400, 3), (800, 2), (800, 3),
                                           (800, 4), (800, 5), (800, 6)])
def test_hard_invalid_histories_are_invalid_at_the_stale_read(ops: int, seed: int) -> None:
    """The benchmark's hard histories (a stale read two thirds in, after dozens of crashed
    writes; invalid by construction) are decided, and the evidence names the read."""
    history = hard_invalid(seed, ops)
    result = check_linearizable(history, MODELS["cas-register"], UNBOUNDED)
    assert result.verdict is Verdict.INVALID, result.reason
    assert result.violation is not None
    assert result.violation.must_complete == history[-1]
    check_evidence(history, MODELS["cas-register"])


@pytest.mark.parametrize("enabled", [True, False])
def test_the_cycle_collector_is_left_as_it_was(enabled: bool) -> None:
    """The check pauses the cycle collector; it restores it after a verdict and after bad
    input, and leaves it off when the caller had turned it off."""
    import gc

    good = simulate("cas-register", random.Random(1), ops=30)
    bad = [Op(0, 0, "cas", 5, 0, 1, Outcome.OK)]  # a cas value must be [expected, new]
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        assert check_linearizable(good, MODELS["cas-register"]).verdict is Verdict.VALID
        assert gc.isenabled() is enabled
        with pytest.raises(ModelError):
            check_linearizable(bad, MODELS["cas-register"])
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
