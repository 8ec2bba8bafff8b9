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

__all__ = ["OBJECTIVES", "PERCENTILES", "AbortCondition", "Budget", "BurnRate",
           "LatencyObjective", "Slo"]

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


class Budget(Strict):
    """The SLO as production states it: its objective holds over ``period`` (e.g. 99.9% of
    requests over 30 days), so the requests it may fail are its error budget. A run then says
    how much of that budget it consumed, as if its traffic were the period's."""

    period: Duration = Field(description="The SLO's compliance period, e.g. 30d or 28d.")
    max_spend: Ratio | None = Field(default=None, description="The share of the period's "
                                    "error budget this experiment may consume, e.g. 2%; more "
                                    "violates the hypothesis.")

    @field_validator("period")
    @classmethod
    def _period(cls, v: float) -> float:
        if v < 60:
            raise ValueError("an error budget's period is a production window (e.g. 30d, "
                             "28d, 7d), at least 1m")
        return v


class Slo(Strict):
    name: Name
    workload: Name | None = Field(default=None, description="The workload it measures; "
                                  "default: the only measured workload.")
    latency: LatencyObjective | None = None
    success_ratio: Ratio | None = None
    window: Duration = 5.0
    budget: Budget | None = Field(default=None, description="The production period the "
                                  "objective holds over, so that the run can say how much of "
                                  "its error budget it consumed.")

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
        if self.budget is not None and self.allowed_bad() <= 0:
            raise ValueError("an objective of 100% (or a latency max) allows no failure, so "
                             "it has no error budget: write e.g. 99.9% or p99")
        return self

    def allowed_bad(self) -> float:
        """The share of requests the objective lets fail: its error budget, as a ratio."""
        if self.success_ratio is not None:
            return 1.0 - float(self.success_ratio)
        assert self.latency is not None
        key, _ = self.latency.bounds()[0]
        return 1.0 - PERCENTILES[key] / 100.0

    @property
    def kind(self) -> str:
        """The SLO kind: the name of the one objective key that is set."""
        return next(k for k in OBJECTIVES if getattr(self, k) is not None)

    @property
    def objective(self) -> Any:
        """The objective's spec (its SLO kind's ``spec`` type)."""
        return getattr(self, self.kind)


class BurnRate(Strict):
    """Multiwindow, multi-burn-rate (the SRE workbook's "Alerting on SLOs"): fire when the
    SLO's error budget burns faster than ``above`` times its sustainable rate over both the
    ``long`` window and the ``short`` one (the short window makes it stop firing soon after
    the burn stops). Burn rate = the window's bad share / the share the objective allows."""

    slo: Name = Field(description="The SLO whose budget burns.")
    above: float = Field(gt=0, description="The burn rate that fires, e.g. 14.4 (2% of a "
                         "30-day budget in one hour).")
    long: Duration = Field(description="The long window, e.g. 10s in an experiment (1h in "
                           "production).")
    short: Duration | None = Field(default=None, description="The short window; default "
                                   "long / 12 (5m against 1h), at least 1s.")

    @model_validator(mode="after")
    def _windows(self) -> BurnRate:
        if self.long < 1:
            raise ValueError("a burn-rate window must be at least 1s; statistics are per "
                             "second")
        if self.short is not None and not 1 <= self.short <= self.long:
            raise ValueError("the short window must be at least 1s and at most the long one")
        return self

    @property
    def short_window(self) -> float:
        return self.short if self.short is not None else max(1.0, self.long / 12)


class AbortCondition(Strict):
    """End the run early, reverting everything, when the condition holds for ``for`` on any
    measured workload (a ``burn_rate``: over its own windows, on its SLO's workload)."""

    success_ratio_below: Ratio | None = None
    p99_above: Duration | None = None
    burn_rate: BurnRate | None = None
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
        given = [self.success_ratio_below, self.p99_above, self.burn_rate]
        if sum(x is not None for x in given) != 1:
            raise ValueError("an abort condition is exactly one of success_ratio_below, "
                             "p99_above, burn_rate")
        if self.burn_rate is not None and "duration" in self.model_fields_set:
            raise ValueError("a burn_rate has its own windows (long, short): drop for:")
        return self
