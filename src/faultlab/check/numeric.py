"""Linear-time checkers for counters and banks (sorting aside: O(n log n)).

Counter (``incr``/``add`` with a delta, default 1; ``read`` → number), per key: each ok read
must lie within the bounds the increments allow. With deltas d:

- lower = initial + Σ d over ok increments with d > 0 completed before the read was invoked
  + Σ d over non-failed increments with d < 0 invoked before the read completed;
- upper = initial + Σ d over non-failed increments with d > 0 invoked before the read
  completed + Σ d over ok increments with d < 0 completed before the read was invoked.

(Operations whose intervals touch count as concurrent.) ``info`` increments may or may not
have happened, so they only widen the bounds.

Bank (``transfer``; ``read`` → {account: balance}): every ok read's balances sum to
``total`` (when not given: the first ok read's sum, said in ``reason``), no balance is
negative (unless ``negative_ok``), no read lacks a balance or lists an account not in
``accounts`` (when given).

Input contract (a :class:`ModelError` at the operation's file position when broken): every
client operation's ``f`` is one the checker reads; counter deltas and ok reads are numbers
(not booleans); an ok bank read is a map of account to balance. A history with no operation
the checker reads is :attr:`Verdict.UNKNOWN` ("nothing to check").
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from faultlab.check.collections import fmt, prepare
from faultlab.check.result import AnomalyKind, CheckResult, ModelError
from faultlab.history import Op, Outcome
from faultlab.history.values import Flag, render

__all__ = ["check_bank", "check_counter"]

_END = 1 << 62


class _Sums:
    """Σ of deltas whose time is < t (strict) or <= t, by binary search on prefix sums."""

    def __init__(self, pairs: Iterable[tuple[int, int]]) -> None:
        ordered = sorted(pairs)
        self.times = [t for t, _ in ordered]
        self.sums = [0, *itertools.accumulate(d for _, d in ordered)]

    def before(self, t: int) -> int:
        return self.sums[bisect.bisect_left(self.times, t)]

    def until(self, t: int) -> int:
        return self.sums[bisect.bisect_right(self.times, t)]


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, (bool, Flag))


def check_counter(ops: Iterable[Op], *, initial: int = 0, read: str = "read",
                  increments: Collection[str] = ("incr", "add")) -> CheckResult:
    """Reads outside [lower, upper] bounds from the increments (see module doc)."""
    groups, found = prepare("counter", ops, {read, *increments})
    for group in groups.values():
        for op in group:
            if op.outcome is Outcome.FAIL:
                continue
            if op.f == read and op.outcome is Outcome.OK and not _number(op.value):
                raise ModelError(f"a counter read returns a number, found {render(op.value)}",
                                 op, "is this the history of a counter?")
            if op.f != read and op.value is not None and not _number(op.value):
                raise ModelError(f"a counter's {op.f} takes a number (or null for 1), found "
                                 f"{render(op.value)}", op, "is this the history of a counter?")
    for key, group in groups.items():
        incs = [op for op in group if op.f in increments and op.outcome is not Outcome.FAIL]

        def delta(op: Op) -> int:
            return 1 if op.value is None else op.value  # type: ignore[return-value]

        ok_done = [(op.complete_ns, delta(op)) for op in incs
                   if op.outcome is Outcome.OK and op.complete_ns is not None]
        tried = [(op.invoke_ns, delta(op)) for op in incs]
        must_up = _Sums((t, d) for t, d in ok_done if d > 0)
        must_down = _Sums((t, d) for t, d in ok_done if d < 0)
        may_up = _Sums((t, d) for t, d in tried if d > 0)
        may_down = _Sums((t, d) for t, d in tried if d < 0)
        reads = [op for op in group if op.f == read and op.outcome is Outcome.OK]
        if not reads and incs and not found.unknown:
            found.unknown = "the counter was never read"
        for r in reads:
            end = r.complete_ns if r.complete_ns is not None else _END
            lower = initial + must_up.before(r.invoke_ns) + may_down.until(end)
            upper = initial + may_up.until(end) + must_down.before(r.invoke_ns)
            if not lower <= r.value <= upper:  # type: ignore[operator]
                found.add(AnomalyKind.OUT_OF_BOUNDS, key, f"read #{r.index} returned "
                          f"{render(r.value)}, outside [{lower}, {upper}]", [r])
    return found.result()


def check_bank(ops: Iterable[Op], *, total: int | None = None,
               accounts: Collection[Any] | None = None, negative_ok: bool = False,
               read: str = "read") -> CheckResult:
    """Bank reads: the total is preserved, no negative or missing balances (see module doc)."""
    groups, found = prepare("bank", ops, {read, "transfer"})
    for group in groups.values():
        for op in group:
            if op.f == read and op.outcome is Outcome.OK and not isinstance(op.value, Mapping):
                raise ModelError(f"a bank read returns a map of account to balance, found "
                                 f"{render(op.value)}", op, "is this the history of a bank?")
    inferred = ""
    for key, group in groups.items():
        reads = sorted((op for op in group if op.f == read and op.outcome is Outcome.OK),
                       key=lambda op: (op.invoke_ns, op.index))
        expected = total
        for r in reads:
            balances: Mapping[Any, Any] = r.value  # type: ignore[assignment]
            missing = [a for a, b in balances.items() if not _number(b)]
            extra = [a for a in balances if accounts is not None and a not in accounts]
            absent = [a for a in accounts if a not in balances] if accounts is not None else []
            if missing or extra or absent:
                parts = [f"{what} {fmt(items)}" for what, items in (
                    ("accounts without a balance", missing + absent),
                    ("unknown accounts", extra)) if items]
                found.add(AnomalyKind.UNEXPECTED, key, f"read #{r.index}: " + "; ".join(parts),
                          [r])
                continue
            sum_: Any = sum(b for b in balances.values() if _number(b))
            if expected is None:
                expected = sum_
                inferred = f"total {sum_} taken from the first read #{r.index}"
            if sum_ != expected:
                found.add(AnomalyKind.WRONG_TOTAL, key, f"read #{r.index} sums to {sum_}, "
                          f"not {expected}", [r])
            negative = {a: b for a, b in balances.items() if b < 0}
            if negative and not negative_ok:
                found.add(AnomalyKind.NEGATIVE_BALANCE, key, f"read #{r.index} has negative "
                          f"balances {render(negative)}", [r])
        if not reads and not found.unknown:
            found.unknown = "the accounts were never read"
    result = found.result()
    if inferred and not result.reason:
        return CheckResult(result.checker, result.verdict, result.ops_checked, result.anomalies,
                           None, inferred, result.elapsed_s, result.stats)
    return result
