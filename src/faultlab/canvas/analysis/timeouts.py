"""Timeout budgets, as pure functions.

A call with a attempts of timeout t and backoffs bⱼ between them lasts, in the worst case
(its callee hangs), a·t + Σ bⱼ, or its overall deadline if that is shorter; without a
timeout or deadline it lasts as long as the callee hangs (unbounded, ``inf``). A service's
worst case is the sum of its calls' (they are made one after another). A caller whose
per-attempt timeout T is shorter than its callee's worst case gives up while the callee is
still working (wasted work): T = 1 s over a callee making 3 attempts of 400 ms with backoffs
of 100 + 200 ms (1.5 s) is a violation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["call_worst_case", "gives_up_early", "serial"]


def call_worst_case(attempts: int, timeout: float | None, waits: Sequence[float],
                    deadline: float | None = None) -> float:
    """a·t + Σ waits, capped by the deadline; inf with neither timeout nor deadline."""
    bound = attempts * timeout + math.fsum(waits) if timeout is not None else math.inf
    return min(bound, deadline) if deadline is not None else bound


def serial(calls: Sequence[float]) -> float:
    """Calls made one after another: the sum of their worst cases."""
    return math.fsum(calls) if all(math.isfinite(c) for c in calls) else math.inf


def gives_up_early(caller_timeout: float, callee_worst: float) -> bool:
    """The caller stops waiting while a finite callee is still working."""
    return math.isfinite(callee_worst) and callee_worst > caller_timeout * (1 + 1e-12)
