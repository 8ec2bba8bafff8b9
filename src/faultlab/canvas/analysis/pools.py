"""Pools by Little's law, as pure functions: in flight = λ·W. When a dependency hangs, every
call holds its slot for the whole call (each attempt until its timeout), so a pool of P
slots is exhausted when λ·W > P; without a timeout W is unbounded and any pool fills."""

from __future__ import annotations

import math

__all__ = ["exhausted", "held", "in_flight"]


def held(factor: float, timeout: float | None, deadline: float | None) -> float:
    """How long one call holds a slot when its callee hangs: its attempts (``factor``, at most
    its attempts or 1 + its retry budget) times the timeout, capped by the deadline."""
    bound = factor * timeout if timeout is not None else math.inf
    return min(bound, deadline) if deadline is not None else bound


def in_flight(rate: float, seconds: float) -> float:
    """Little's law: λ·W (0 with no traffic, even for an unbounded W)."""
    return 0.0 if rate == 0 else rate * seconds


def exhausted(in_flight_calls: float, pool: int) -> bool:
    return in_flight_calls > pool
