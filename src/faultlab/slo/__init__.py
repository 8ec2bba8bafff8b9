"""Service-level objectives: their specs (:mod:`faultlab.slo.spec`) and their kinds, the
plug-ins that measure and judge them (:mod:`faultlab.slo.kinds`)."""

from faultlab.slo.spec import PERCENTILES, AbortCondition, LatencyObjective, Slo

__all__ = ["PERCENTILES", "AbortCondition", "LatencyObjective", "Slo"]
