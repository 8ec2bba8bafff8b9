"""Availability maths, as pure functions of numbers (independent failures unless stated;
U = 1 - A). The figures in the docstrings are the tests' hand-computed ones.

- series (hard dependencies): A = ∏ Aᵢ                    five at 99.99% -> 99.950%
- any one of n: A = 1 - ∏ (1 - Aᵢ)
- k of n (quorum): A = Σ_{i=k..n} C(n,i) aⁱ (1-a)ⁿ⁻ⁱ      2 of 3 at 0.99 -> 0.999702
- soft dependency with a fallback that serves with probability c: A = 1 - (1-A)(1-c)
- zones (correlated failure): condition on which zones are up; an instance in a down zone
  is down, the others fail independently. Three replicas (a = 0.99) in one zone (z = 0.999):
  0.998999; one in each of three zones: 1 - (1 - a·z)³ = 0.9999987.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence

__all__ = ["any_of", "at_least", "beta_factor", "extra_nine", "k_of_n", "nines",
           "node_availability", "node_up", "percent", "series", "soft", "zone_states"]


def series(parts: Iterable[float]) -> float:
    """Every part is needed: A = ∏ Aᵢ."""
    return math.prod(parts)


def any_of(parts: Iterable[float]) -> float:
    """Any one part serves: A = 1 - ∏ (1 - Aᵢ)."""
    return 1.0 - math.prod(1.0 - a for a in parts)


def k_of_n(k: int, n: int, a: float) -> float:
    """At least ``k`` of ``n`` identical, independent parts up (k <= 0: 1; k > n: 0)."""
    return at_least(k, [a] * n)


def at_least(k: int, parts: Sequence[float]) -> float:
    """P(at least ``k`` of independent parts with these availabilities are up), by the
    distribution of the number up (exact, O(n²))."""
    if k <= 0:
        return 1.0
    if k > len(parts):
        return 0.0
    up = [1.0]  # up[i]: P(exactly i up) among the parts so far
    for a in parts:
        up = [(up[i] * (1 - a) if i < len(up) else 0.0) + (up[i - 1] * a if i else 0.0)
              for i in range(len(up) + 1)]
    return math.fsum(up[k:])


def soft(a: float, c: float) -> float:
    """A dependency whose failure a fallback covers with probability ``c``:
    A_eff = 1 - (1 - A)(1 - c); hard is c = 0."""
    return 1.0 - (1.0 - a) * (1.0 - c)


def beta_factor(u: float, beta: float, n: int) -> float:
    """Unavailability of n redundant parts with a common cause (the β-factor model):
    U ≈ β·U + ((1 - β)·U)ⁿ."""
    return beta * u + ((1.0 - beta) * u) ** n


def zone_states(zones: Mapping[str, float]) -> Iterator[tuple[frozenset[str], float]]:
    """Every combination of zones down, with its probability (zones fail independently of
    each other). Zones that are always up (1.0) are never down, so they are not enumerated:
    2^(zones below 1) states, in a fixed order."""
    uncertain = sorted(z for z, a in zones.items() if a < 1.0)
    for downs in itertools.product((False, True), repeat=len(uncertain)):
        p = 1.0
        for zone, down in zip(uncertain, downs, strict=True):
            p *= (1.0 - zones[zone]) if down else zones[zone]
        yield frozenset(z for z, d in zip(uncertain, downs, strict=True) if d), p


def node_up(a: float, needed: int, instance_zones: Sequence[str | None],
            down: frozenset[str]) -> float:
    """P(a node serves | these zones are down): at least ``needed`` of its instances up,
    where an instance in a down zone is down and the others are up with probability a."""
    alive = sum(1 for z in instance_zones if z is None or z not in down)
    return k_of_n(needed, alive, a)


def node_availability(a: float, needed: int, instance_zones: Sequence[str | None],
                      zones: Mapping[str, float]) -> float:
    """A node's availability with its zones: Σ over its zones' states of P(state) · P(up |
    state)."""
    own = {z: zones.get(z, 1.0) for z in instance_zones if z is not None}
    return math.fsum(p * node_up(a, needed, instance_zones, down)
                     for down, p in zone_states(own))


def nines(a: float) -> float:
    """-log10(1 - A): 99.9% -> 3 (inf for 1)."""
    return math.inf if a >= 1.0 else -math.log10(1.0 - a)


def extra_nine(slo: float) -> float:
    """What a critical dependency of a service promising ``slo`` needs (Treynor et al.,
    2017): one nine more, 1 - (1 - slo)/10. 99.9% -> 99.99%."""
    return 1.0 - (1.0 - slo) / 10.0


def percent_against(a: float, slo: float) -> str:
    """``a`` as a percentage with as many digits as it takes to differ from ``slo`` when it
    is below it (99.8996% against 99.9%, not '99.90%' against '99.900%')."""
    text = percent(a)
    if a >= slo or a >= 1.0:
        return text
    first = len(text.rstrip("%").partition(".")[2])  # percent()'s own digits
    for digits in range(first, 11):
        shown, target = f"{a * 100:.{digits}f}", f"{slo * 100:.{digits}f}"
        if shown != target:
            return shown + "%"
    return f"{a * 100:.10f}%"


def percent(a: float) -> str:
    """A ratio as a percentage with enough digits to show its first digit below the nines:
    0.9995 -> '99.950%', 0.9999987 -> '99.99987%', 0.5 -> '50.00%'."""
    if a >= 1.0:
        return "100%"
    digits = min(8, max(2, math.floor(nines(a) + 1e-9)))
    return f"{a * 100:.{digits}f}%"
