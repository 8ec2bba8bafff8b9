"""SLOs and abort conditions as an experiment file states them (``slos:``, ``abort:``).

An SLO is a name, the workload it measures, a window, and exactly one objective: a key named
after a registered SLO kind (:mod:`faultlab.slo.kinds`: ``latency``, ``success_ratio``)
holding that kind's spec. These models check only what one value says about itself; which
workload an SLO names is checked by :mod:`faultlab.experiment.semantic`.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, field_validator, model_validator

from faultlab.experiment.types import Duration, Name, Ratio, Strict

__all__ = ["OBJECTIVES", "PERCENTILES", "AbortCondition", "LatencyObjective", "Slo"]

PERCENTILES: dict[str, float] = {"p50": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0,
                                 "p999": 99.9, "max": 100.0}

#: the keys of an SLO that hold its objective, one per SLO kind
OBJECTIVES = ("latency", "success_ratio")


class LatencyObjective(Strict):
    """Exactly one percentile bound: the latency at that percentile must be at most the bound."""

    p50: Duration | None = None
    p90: Duration | None = None
    p95: Duration | None = None
    p99: Duration | None = None
    p999: Duration | None = None
    max: Duration | None = None
    successful_only: bool = Field(default=False, description="Measure successful requests "
                                  "only, so that fast failures do not look fast.")

    @model_validator(mode="after")
    def _one(self) -> LatencyObjective:
        if len(self.bounds()) != 1:
            raise ValueError("give exactly one of p50, p90, p95, p99, p999, max "
                             "(write another SLO for another percentile)")
        return self

    def bounds(self) -> list[tuple[str, float]]:
        return [(k, v) for k in PERCENTILES if (v := getattr(self, k)) is not None]


class Slo(Strict):
    name: Name
    workload: Name | None = Field(default=None, description="The workload it measures; "
                                  "default: the only measured workload.")
    latency: LatencyObjective | None = None
    success_ratio: Ratio | None = None
    window: Duration = 5.0

    @field_validator("window")
    @classmethod
    def _window(cls, v: float) -> float:
        if v < 1:
            raise ValueError("an SLO window must be at least 1s; statistics are per second")
        return v

    @model_validator(mode="after")
    def _one_kind(self) -> Slo:
        if sum(getattr(self, k) is not None for k in OBJECTIVES) != 1:
            raise ValueError("an SLO is exactly one of latency, success_ratio")
        return self

    @property
    def kind(self) -> str:
        """The SLO kind: the name of the one objective key that is set."""
        return next(k for k in OBJECTIVES if getattr(self, k) is not None)

    @property
    def objective(self) -> Any:
        """The objective's spec (its SLO kind's ``spec`` type)."""
        return getattr(self, self.kind)


class AbortCondition(Strict):
    """End the run early, reverting everything, when the condition holds for ``for`` on any
    measured workload."""

    success_ratio_below: Ratio | None = None
    p99_above: Duration | None = None
    duration: Duration = Field(default=3.0, alias="for")
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("duration")
    @classmethod
    def _for(cls, v: float) -> float:
        if v < 1:
            raise ValueError("an abort condition's 'for' must be at least 1s; "
                             "statistics are per second")
        return v

    @model_validator(mode="after")
    def _one(self) -> AbortCondition:
        if (self.success_ratio_below is None) == (self.p99_above is None):
            raise ValueError("an abort condition is exactly one of success_ratio_below, p99_above")
        return self
