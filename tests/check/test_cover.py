"""Covering (``COVER``) and the search by levels (``LEVELS``) pinned down by mutants.

Wrong variants of the covering rule were tried by hand (in a scratch copy of
:mod:`faultlab.check.linear`, never committed) against the brute-force reference:

(a) no one-to-one matching, (b) matching by value ignored, (c) the "A's last op was not
crashed" condition dropped, (d) cas matched by crashed cas or completed writes, (e)
dominance in the wrong direction. The literal histories below are the shrunk ones on which a
mutant's verdict differs from brute force; the real checker must agree with brute force on
them with covering and levels on, and each alone, the just-in-time rule always or from its
threshold. The property test is the targeted generator the search used: one register, two or
three values, many crashed writes and crashed cas leaving the same value, ok reads that force
an order.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faultlab.check import MODELS, Verdict, check_linearizable, linear
from faultlab.history import Op, Outcome

from .test_properties import brute_force, nothing_to_check

MODEL = MODELS["cas-register"]
OK, INFO = Outcome.OK, Outcome.INFO

# (LEVELS, COVER, DEPTH_FIRST): both (the default: depth first, then by levels), both by
# levels at once, levels alone, covering alone (depth first only)
SEARCHES = {"both": (True, True, linear.DEPTH_FIRST), "both-by-levels": (True, True, 0),
            "levels": (True, False, 0), "cover": (False, True, 0)}


def history(*rows: tuple[str, Any, int, int, Outcome]) -> list[Op]:
    return [Op(i, i, f, value, invoke, complete, outcome)
            for i, (f, value, invoke, complete, outcome) in enumerate(rows)]


def reference(ops: list[Op]) -> Verdict:
    return (Verdict.UNKNOWN if nothing_to_check(ops, MODEL) else
            Verdict.VALID if brute_force(ops, MODEL) else Verdict.INVALID)


@pytest.fixture(params=list(SEARCHES.values()), ids=list(SEARCHES))
def search(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    levels, cover, depth_first = request.param
    monkeypatch.setattr(linear, "SUBSUME", True)
    monkeypatch.setattr(linear, "LEVELS", levels)
    monkeypatch.setattr(linear, "COVER", cover)
    monkeypatch.setattr(linear, "DEPTH_FIRST", depth_first)


@pytest.fixture(params=[0, linear.JIT_FROM], ids=["jit-always", "jit-default"])
def jit(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(linear, "JIT_FROM", request.param)


KILLERS = {
    # (e) dominance in the wrong direction (the configuration entered later, with crashed
    # write 0 placed, taken to cover the one entered before with the crashed cas [0, 0]
    # placed instead): valid by read 0, write 1, read 1 — the mutant drops the configuration
    # it needs and says invalid (default search, just-in-time rule from its threshold).
    "wrong-direction": (history(("read", 0, 12, 16, OK), ("write", 1, 13, 20, INFO),
                                ("write", 0, 13, 18, INFO), ("cas", (0, 0), 18, 25, INFO),
                                ("read", 1, 19, 26, OK)), Verdict.VALID),
}


@pytest.mark.parametrize("name", list(KILLERS))
def test_histories_that_kill_wrong_covering_rules(name: str, search: None, jit: None) -> None:
    ops, want = KILLERS[name]
    assert reference(ops) is want
    assert check_linearizable(ops, MODEL).verdict is want


def crashed_writes_and_cas(rng: random.Random, n: int, values: int) -> list[Op]:
    """One register; crashed writes of one value and crashed cas leaving mostly that value
    (so one may cover another), ok reads, writes and cas that force an order."""
    rows: list[tuple[str, Any, int, int, Outcome]] = []
    for _ in range(n):
        invoke = rng.randint(0, 16)
        if rng.random() < 0.55:
            f = rng.choice(["write", "cas", "cas"])
            value: Any = (1 if f == "write" else
                          (rng.randrange(values), 1 if rng.random() < 0.8 else
                           rng.randrange(values)))
            outcome = INFO
        else:
            f = rng.choice(["read", "read", "write", "cas"])
            value = ((rng.randrange(values), rng.randrange(values)) if f == "cas"
                     else rng.randrange(values))
            outcome = OK
        rows.append((f, value, invoke, invoke + rng.randint(0, 6), outcome))
    rows.sort(key=lambda row: row[2])
    return history(*rows)


@settings(max_examples=150, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(3, 9), values=st.integers(2, 3),
       searched=st.sampled_from(list(SEARCHES.values())), jit_always=st.booleans())
def test_crashed_writes_and_cas_agree_with_brute_force(
        seed: int, n: int, values: int, searched: tuple[bool, bool, int], jit_always: bool
) -> None:
    ops = crashed_writes_and_cas(random.Random(seed), n, values)
    want = reference(ops)
    saved = (linear.SUBSUME, linear.LEVELS, linear.COVER, linear.DEPTH_FIRST, linear.JIT_FROM)
    linear.SUBSUME = True
    linear.LEVELS, linear.COVER, linear.DEPTH_FIRST = searched
    linear.JIT_FROM = 0 if jit_always else saved[4]
    try:
        assert check_linearizable(ops, MODEL).verdict is want
    finally:
        (linear.SUBSUME, linear.LEVELS, linear.COVER, linear.DEPTH_FIRST,
         linear.JIT_FROM) = saved
