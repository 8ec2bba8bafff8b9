"""Retry amplification, as pure functions.

With aᵢ attempts per call at layer i, a failure at the bottom is tried ∏ aᵢ times per request
in the worst case: 3 *retries* (4 attempts) per layer over 3 layers is 4³ = 64x, 3 *attempts*
is 3³ = 27x. A retry budget bᵢ (retries at most a share bᵢ of calls, a token bucket) bounds a
layer's factor by 1 + bᵢ: 10% at three layers is 1.1³ = 1.331x.

A layer above a failure retries only if the failure reaches it: a soft dependency whose
fallback always serves (100%) answers its caller, so the layers above it never see the
failure and do not retry. :func:`compounding` says which layers of a path multiply.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["amplification", "compounding", "expected_attempts", "layer_factor"]


def layer_factor(attempts: int, budget: float | None) -> float:
    """Calls a layer sends per call it receives when every attempt fails: its attempts, or
    1 + budget when a retry budget is set (never more than its attempts)."""
    if budget is None:
        return float(attempts)
    return min(float(attempts), 1.0 + budget)


def amplification(factors: Sequence[float]) -> float:
    """The worst-case load at the bottom of layers with these factors: ∏ factors."""
    return math.prod(factors)


def expected_attempts(attempts: int, p: float) -> float:
    """Expected attempts of one call when each fails independently with probability p:
    (1 - pᵃ)/(1 - p) (a when p = 1)."""
    if p >= 1.0:
        return float(attempts)
    return (1.0 - p ** attempts) / (1.0 - p)


def compounding(propagates: Sequence[bool]) -> int:
    """How many layers of a path, counted from the bottom, see a failure at the bottom.

    ``propagates[i]`` says whether the i-th call of the path (top first) passes a failure of
    its callee to its caller (hard, or soft with a fallback that may fail). The bottom call
    always counts; the one above it counts if the bottom call propagates, and so on up to
    the first call that does not."""
    count = 1 if propagates else 0
    for p in reversed(propagates[1:]):
        if not p:
            break
        count += 1
    return count
