"""Covering (``COVER``) and the search by levels (``LEVELS``) pinned down by mutants.

Wrong variants of the covering rule were tried by hand (as local patches of
:mod:`faultlab.check.linear`, never committed) against the brute-force reference:

(a) no one-to-one matching (two crashed cas of a value covered by one crashed write of it),
(b) matching by value ignored (a crashed cas covered by a crashed write of another value),
(c) the "A's last op was not crashed" condition dropped, (d) cas matched by crashed cas (a
crashed cas covering another crashed cas leaving the same value), (e) dominance in the
wrong direction. The literal histories in ``KILLERS`` are ones on which the verdict of (a),
(b), (d) or (e) differs from brute force (each valid; the mutant says invalid in at least one
of ``SEARCHES``, as noted on each); the real checker must agree with brute force on them with
covering and levels on, and each alone, the just-in-time rule always or from its threshold.
(c) changes no verdict: see the comment after ``KILLERS``. The property test is a targeted
generator: one register, two or three values, many crashed writes and crashed cas leaving the same
value, ok reads that force an order (random histories alone, even thousands, kill only (e)).
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
    # (a) no one-to-one matching. The tail (from time 9) is write 0, read 1, write 2, read 1
    # in sequence: it needs two productions of 1, from 0 and from 2 — crashed cas [0, 1] and
    # [2, 1], or the crashed write 1 for one of them. The head (times 2-8) can be done two
    # ways, both ending with every head op done and the register at 2:
    #   B: write 1 (crashed), read 1, cas [1, 2], write 0, read 0, write 2, read 2
    #   A: write 2, cas [2, 1] (crashed), read 1, write 0, read 0, cas [0, 1] (crashed),
    #      cas [1, 2], read 2
    # (read 1 at 2-3 needs a 1 from the initial None or after write 2, which only the write
    # 1 or cas [2, 1] give). The only linearization is B and then both cas in the tail. A is
    # tried first (the ok write 2 is a candidate at the start, and ok ops go before crashed
    # ones) and fails in the tail (one crashed write for two reads of 1); when B comes, a
    # mutant that lets A's two cas be matched by B's single write skips it and says invalid
    # (default search and covering alone, depth first).
    "not-one-to-one": (history(("cas", (0, 1), 0, 1, INFO), ("cas", (2, 1), 0, 1, INFO),
                               ("write", 1, 0, 1, INFO), ("read", 1, 2, 3, OK),
                               ("write", 2, 3, 4, OK), ("write", 0, 4, 6, OK),
                               ("cas", (1, 2), 4, 8, OK), ("read", 0, 4, 5, OK),
                               ("read", 2, 6, 7, OK), ("write", 0, 9, 10, OK),
                               ("read", 1, 11, 12, OK), ("write", 2, 13, 14, OK),
                               ("read", 1, 15, 16, OK)), Verdict.VALID),
    # (b) the value ignored. The last read of 1 comes after a write of 0: it needs the
    # crashed cas [0, 1]. Before, the reads of 2 and of 1 (concurrent, after the ok writes
    # of 2 and 1; the ok write 0 overlaps them) are served either by the ok write 1 and the
    # crashed write 2 (B: how every linearization goes) or by the ok write 2 and the crashed
    # cas [0, 1] after the write 0 (A). After the later write of 0 both hold 0 with the same
    # ops done, A with the cas placed, B with the crashed write of 2. By levels A is entered
    # first and fails (no cas left for the last read); a mutant that lets the crashed write
    # of 2 cover the cas leaving 1 skips B and says invalid (both by levels).
    "value-ignored": (history(("write", 2, 0, 2, OK), ("write", 1, 0, 2, OK),
                              ("write", 0, 0, 5, OK), ("write", 2, 0, 1, INFO),
                              ("cas", (0, 1), 0, 1, INFO), ("read", 2, 3, 4, OK),
                              ("read", 1, 3, 4, OK), ("write", 0, 6, 7, OK),
                              ("read", 1, 8, 9, OK)), Verdict.VALID),
    # (d) cas matched by cas. The ok writes of 2 and 0 overlap and both precede the first
    # read of 1, so after them the register holds 0 or 2, and that read needs cas [0, 1] or
    # [2, 1] accordingly; after the later write of 0 the second read of 1 needs cas [0, 1].
    # So the only linearization is write 0, write 2, cas [2, 1], read 1, write 0, cas [0, 1],
    # read 1. The search tries write 2 first (invoked first): write 2, write 0, cas [0, 1],
    # read 1 is entered and fails. Then write 0, write 2, cas [2, 1], read 1 reaches the same
    # ops done and state with cas [2, 1] placed instead; a mutant that lets the crashed cas
    # [0, 1] cover the crashed cas [2, 1] (both leave 1) skips it and says invalid (default
    # search, covering alone, and by levels with the just-in-time rule from its threshold).
    "cas-by-cas": (history(("write", 2, 0, 2, OK), ("write", 0, 1, 3, OK),
                           ("cas", (0, 1), 1, 10, INFO), ("cas", (2, 1), 1, 10, INFO),
                           ("read", 1, 4, 5, OK), ("write", 0, 6, 7, OK),
                           ("read", 1, 8, 9, OK)), Verdict.VALID),
}

# (c) The "A's last op was not crashed" condition (``seen & flag`` in ``_covers``) dropped
# changes no verdict, so no history can kill it; it is needed by the module doc's proof as
# written, not by the verdict. A flagged A covering B fails the proof only when the
# substituted completion s' of B starts with a blind op (the one thing the flag forbids
# next). Then A's path with its trailing crashed ops deleted, followed by s', is still
# valid (a blind op ignores the state before it; crashed ops may be left out), with fewer
# crashed ops than the linearization through B; brought to normal form (which adds no
# crashed op) it is admissible. So if the soundness argument picks the admissible
# linearization with the fewest crashed ops first (and then the shortest part after its
# last entered prefix), a skip by a flagged A yields a contradiction too, and the search
# still finds a linearization whenever one exists. Checked against brute force: 26,571
# targeted random histories (jit always; crashed writes of 1 and crashed cas mostly leaving
# 1) in which the mutant's flagged covering fired 380 times where the real one did not,
# with no verdict changed.


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
