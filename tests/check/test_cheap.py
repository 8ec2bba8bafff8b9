"""The linear-time checkers on hand-written histories, including info and fail cases."""

from __future__ import annotations

from typing import Any

from faultlab.check import (
    AnomalyKind,
    Verdict,
    check_bank,
    check_counter,
    check_queue,
    check_set,
    check_unique_ids,
)
from faultlab.history import Op, Outcome

OK, FAIL, INFO = Outcome.OK, Outcome.FAIL, Outcome.INFO


def h(*specs: tuple[Any, ...]) -> list[Op]:
    return [Op(i, s[0], s[1], s[2], s[3], s[4], s[5]) for i, s in enumerate(specs)]


def kinds(ops: list[Op], result: Any) -> set[AnomalyKind]:
    return {a.kind for a in result.anomalies}


def test_set_valid_with_info_and_fail() -> None:
    ops = h((0, "add", 1, 0, 10, OK), (1, "add", 2, 0, 10, INFO), (2, "add", 3, 0, 10, FAIL),
            (0, "read", (1, 2), 20, 30, OK), (0, "read", (1,), 5, 8, OK))
    assert check_set(ops).verdict is Verdict.VALID


def test_set_anomalies() -> None:
    ops = h((0, "add", 1, 0, 10, OK), (0, "add", 2, 0, 10, OK), (1, "add", 3, 0, 10, FAIL),
            (1, "read", (2,), 20, 30, OK),  # stale: misses 1, which the final read has
            (1, "read", (1, 1, 3, 9), 40, 50, OK),  # duplicate 1, unexpected 3 and 9
            (2, "read", (1, 3, 9), 60, 70, OK))  # final: lost 2
    result = check_set(ops)
    assert result.verdict is Verdict.INVALID
    by = {a.kind: a for a in result.anomalies}
    assert set(by) == {AnomalyKind.LOST, AnomalyKind.STALE_READ, AnomalyKind.DUPLICATE,
                       AnomalyKind.UNEXPECTED}
    assert [op.index for op in by[AnomalyKind.LOST].ops] == [5, 1]
    assert [op.index for op in by[AnomalyKind.STALE_READ].ops] == [3, 0]
    assert "3, 9" in by[AnomalyKind.UNEXPECTED].message
    assert check_set(h((0, "add", 1, 0, 10, OK))).verdict is Verdict.UNKNOWN


def test_queue() -> None:
    good = h((0, "enqueue", 1, 0, 10, OK), (1, "enqueue", 2, 0, 10, INFO),
             (2, "enqueue", 3, 0, 10, FAIL), (0, "dequeue", 1, 20, 30, OK),
             (0, "dequeue", 2, 31, 40, OK), (0, "dequeue", None, 41, 50, OK))
    assert check_queue(good).verdict is Verdict.VALID
    bad = h((0, "enqueue", 1, 0, 10, OK), (0, "enqueue", 2, 11, 20, OK),
            (2, "enqueue", 3, 0, 10, FAIL), (0, "dequeue", 1, 20, 30, OK),
            (0, "dequeue", 1, 31, 40, OK), (0, "dequeue", 3, 41, 50, OK))
    result = check_queue(bad)
    assert {a.kind for a in result.anomalies} == {AnomalyKind.DUPLICATE, AnomalyKind.UNEXPECTED,
                                                  AnomalyKind.LOST}
    assert check_queue(bad[:2], drained=False).verdict is Verdict.VALID


def test_unique_ids() -> None:
    ops = h((0, "generate", 1, 0, 1, OK), (1, "generate", 1, 0, 1, FAIL),
            (2, "generate", 2, 0, 1, OK))
    assert check_unique_ids(ops).verdict is Verdict.VALID
    dup = check_unique_ids([*ops, Op(3, 3, "generate", 2, 5, 6, OK)])
    assert dup.verdict is Verdict.INVALID and len(dup.anomalies[0].ops) == 2


def test_counter_bounds() -> None:
    ops = h((0, "incr", 1, 0, 10, OK), (1, "incr", 5, 5, 50, INFO), (2, "incr", 7, 0, 1, FAIL),
            (3, "read", 1, 20, 30, OK), (3, "read", 6, 31, 40, OK), (4, "read", 0, 5, 6, OK))
    assert check_counter(ops).verdict is Verdict.VALID
    low = check_counter([*ops, Op(6, 3, "read", 0, 41, 42, OK)])  # the ok incr was lost
    high = check_counter([*ops, Op(6, 3, "read", 7, 41, 42, OK)])  # the failed incr happened
    assert "outside [1, 6]" in low.anomalies[0].message
    assert "outside [1, 6]" in high.anomalies[0].message
    neg = h((0, "add", -2, 0, 10, OK), (1, "read", -2, 20, 30, OK), (1, "read", 0, 31, 40, OK))
    assert "outside [-2, -2]" in check_counter(neg).anomalies[0].message


def test_bank() -> None:
    ops = h((0, "transfer", {"from": "a", "to": "b", "amount": 5}, 0, 10, OK),
            (1, "read", {"a": 10, "b": 10}, 0, 5, OK), (1, "read", {"a": 5, "b": 15}, 20, 30, OK))
    assert check_bank(ops, total=20, accounts={"a", "b"}).verdict is Verdict.VALID
    bad = [*ops, Op(3, 1, "read", {"a": -5, "b": 20}, 40, 50, OK),
           Op(4, 1, "read", {"a": 5, "b": 16}, 60, 70, OK),
           Op(5, 1, "read", {"a": 5, "c": 15}, 80, 90, OK)]
    result = check_bank(bad, accounts={"a", "b"})
    assert [a.kind for a in result.anomalies] == [AnomalyKind.WRONG_TOTAL,
                                                  AnomalyKind.NEGATIVE_BALANCE,
                                                  AnomalyKind.WRONG_TOTAL,
                                                  AnomalyKind.UNEXPECTED]
    assert check_bank(ops).reason == "total 20 taken from the first read #1"
