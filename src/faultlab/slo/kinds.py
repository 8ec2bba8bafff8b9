"""SLO kinds as plug-ins: what an objective measures, and how it is judged.

An :class:`SloKind` is the objective's spec type and four functions over it: its ``bound``,
its ``objective`` text ("p99 <= 300ms"), and ``measure``, the figure of one window of
statistics (``None``: the window has no data). ``higher_is_better`` says which way the bound
goes. ``events`` (optional) counts a window's requests against the objective, (bad, total),
for error budgets and burn rates: a kind without it has no budget. Its ``source`` is what
it is measured on: ``workload``, a measured workload's per-second statistics (an
:class:`~faultlab.workload.stats.Aggregate` of the window's seconds). Probes (HTTP, command,
Prometheus: :mod:`faultlab.workload.probe`) are measured workloads too, so every kind judges
them. The evaluator judges every SLO through its kind and names no kind itself.

faultlab's kinds are ``latency`` and ``success_ratio``; a plug-in registers more in the
entry-point group ``faultlab.slos``. Until the SLO model is built from this registry (as the
experiment model is from the workload kinds), a kind's name must be an objective key of
:class:`~faultlab.slo.spec.Slo`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

import msgspec

from faultlab.plugins import PluginError, Registry
from faultlab.slo.spec import OBJECTIVES, PERCENTILES, LatencyObjective, Slo
from faultlab.units import format_duration
from faultlab.workload.stats import Aggregate

__all__ = ["LATENCY", "SLO_KINDS", "SUCCESS_RATIO", "SloKind", "slo_kind"]


class SloKind(msgspec.Struct, frozen=True):
    name: str  # the SLO key that holds its objective
    spec: type[Any]
    unit: Literal["s", "ratio"]
    higher_is_better: bool
    bound: Callable[[Any], float]
    objective: Callable[[Any], str]
    measure: Callable[[Any, Aggregate], float | None]
    source: Literal["workload"] = "workload"
    events: Callable[[Any, Aggregate], tuple[int, int]] | None = None

    def passes(self, spec: Any, value: float) -> bool:
        bound = self.bound(spec)
        return value >= bound if self.higher_is_better else value <= bound

    def worse(self, a: float, b: float) -> bool:
        """Is figure ``a`` worse than ``b``?"""
        return a < b if self.higher_is_better else a > b


def _check(kind: SloKind) -> None:
    if kind.name not in OBJECTIVES:
        raise PluginError(f"SLO kind '{kind.name}': not an objective key of an SLO "
                          f"({', '.join(OBJECTIVES)})")


SLO_KINDS: Registry[SloKind] = Registry("SLO kind", "faultlab.slos", check=_check)


def _figure(value: float) -> float | None:
    return None if math.isnan(value) else value


def _latency_bound(spec: LatencyObjective) -> float:
    return spec.bounds()[0][1]


def _latency_objective(spec: LatencyObjective) -> str:
    key, bound = spec.bounds()[0]
    return f"{key} <= {format_duration(bound)}" + (" (ok requests)" if spec.successful_only
                                                  else "")


def _latency(spec: LatencyObjective, agg: Aggregate) -> float | None:
    if agg.planned == 0:
        return None
    key, _ = spec.bounds()[0]
    return _figure(agg.percentile(PERCENTILES[key], successful_only=spec.successful_only))


def _success_ratio(spec: float, agg: Aggregate) -> float | None:
    return None if agg.planned == 0 else _figure(agg.success_ratio)


def _latency_events(spec: LatencyObjective, agg: Aggregate) -> tuple[int, int]:
    """(requests slower than the bound, requests measured): a bucket of the histogram counts
    as slow when all of it lies above the bound."""
    hist = agg.ok_histogram if spec.successful_only else agg.histogram
    bound_us = spec.bounds()[0][1] * 1e6
    slow = sum(item.count_at_value_iterated_to for item in hist.get_recorded_iterator()
               if hist.get_lowest_equivalent_value(item.value_iterated_to) > bound_us)
    return slow, hist.get_total_count()


def _ratio_events(spec: float, agg: Aggregate) -> tuple[int, int]:
    return agg.planned - agg.ok, agg.planned


LATENCY = SLO_KINDS.register(SloKind(
    "latency", LatencyObjective, "s", False, _latency_bound, _latency_objective, _latency,
    events=_latency_events))
SUCCESS_RATIO = SLO_KINDS.register(SloKind(
    "success_ratio", float, "ratio", True, lambda r: float(r),
    lambda r: f"success ratio >= {r * 100:g}%", _success_ratio, events=_ratio_events))


def slo_kind(slo: Slo) -> SloKind:
    """The kind of ``slo`` (raises KeyError for an objective no kind is registered for)."""
    return SLO_KINDS[slo.kind]
