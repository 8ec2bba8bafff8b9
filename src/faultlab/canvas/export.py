"""The journeys' SLOs of a canvas as OpenSLO v1 documents (``apiVersion: openslo/v1``).

One ``Service`` named after the canvas, and per journey one ``SLO`` per objective:

- availability: a ``ratioMetric`` of good to total requests, ``budgetingMethod:
  Occurrences``, ``target`` the availability;
- latency: a ``thresholdMetric`` with ``op: lte``, ``value`` the bound in milliseconds and
  ``target`` the percentile as a share (p99: 0.99; max: 1, which OpenSLO's ``[0, 1)``
  range does not allow: tools may refuse it);
- ``timeWindow``: the journey's window in OpenSLO's shorthand (``30d``; whole hours or
  minutes where it is no whole number of days; rounded up to a minute otherwise), rolling.

The metric sources are placeholders (``type: Placeholder``, a ``query`` that says what to
count): a canvas knows what is promised, not where it is measured. Annotations
(``faultlab/journey``, ``faultlab/objective``, ``faultlab/percentile``, ``faultlab/entry``,
``faultlab/rps``) carry what OpenSLO has no field for, so that importing the export gives
back the same journeys and objectives (:mod:`faultlab.canvas.importers.openslo`).
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

import yaml

from faultlab.canvas.importers.openslo import ENTRY, JOURNEY, OBJECTIVE, PERCENTILE, RPS
from faultlab.canvas.model import Canvas, Journey
from faultlab.experiment.types import dump_duration
from faultlab.slo.spec import PERCENTILES

__all__ = ["export_openslo", "openslo_name", "window_shorthand"]

_API = "openslo/v1"


def export_openslo(canvas: Canvas) -> str:
    """The OpenSLO documents of ``canvas``'s journeys' SLOs, as multi-document YAML."""
    service = openslo_name(canvas.name)
    docs: list[dict[str, Any]] = [{
        "apiVersion": _API, "kind": "Service",
        "metadata": {"name": service, "displayName": canvas.name},
        "spec": {"description": _cut(canvas.description or f"The system {canvas.name}")}}]
    taken: set[str] = {service}
    for name, journey in canvas.journeys.items():
        for objective in ("availability", "latency"):
            if getattr(journey.slo, objective) is None:
                continue
            slo_name = _unique(openslo_name(f"{name}-{objective}"), taken)
            docs.append(_slo(slo_name, service, name, journey, objective))
    header = (f"# OpenSLO v1 documents exported by faultlab from the canvas '{canvas.name}'.\n"
              "# The metric sources are placeholders: point each at your own metrics.\n")
    body = "---\n".join(yaml.safe_dump(d, sort_keys=False, allow_unicode=False,
                                       width=100) for d in docs)
    return header + body


def _slo(name: str, service: str, journey_name: str, journey: Journey, objective: str
         ) -> dict[str, Any]:
    annotations = {JOURNEY: journey_name, OBJECTIVE: objective, ENTRY: journey.entry,
                   RPS: f"{format(Decimal(repr(journey.rps)), 'f')}/s"}
    spec: dict[str, Any] = {
        "description": _cut(f"{objective} of the journey {journey_name} "
                            f"(entry {journey.entry})"),
        "service": service,
        "indicator": {"metadata": {"name": openslo_name(f"{journey_name}-{objective}-sli")},
                      "spec": _indicator(journey_name, objective)},
        "timeWindow": [{"duration": window_shorthand(journey.slo.window), "isRolling": True}],
        "budgetingMethod": "Occurrences",
    }
    if objective == "availability":
        spec["objectives"] = [{"displayName": f"{journey_name} succeeds",
                               "target": journey.slo.availability}]
    else:
        assert journey.slo.latency is not None
        percentile, bound = journey.slo.latency.bounds()[0]
        annotations[PERCENTILE] = percentile
        spec["objectives"] = [{"displayName": f"{journey_name} {percentile} at most "
                               f"{dump_duration(bound)}", "op": "lte",
                               "value": _ms(bound), "target": PERCENTILES[percentile] / 100}]
    return {"apiVersion": _API, "kind": "SLO",
            "metadata": {"name": name, "displayName": f"{journey_name} {objective}",
                         "annotations": annotations},
            "spec": spec}


def _indicator(journey: str, objective: str) -> dict[str, Any]:
    def source(what: str) -> dict[str, Any]:
        return {"metricSource": {"type": "Placeholder",
                                 "spec": {"query": f"TODO: {what} of journey {journey}"}}}

    if objective == "availability":
        return {"ratioMetric": {"counter": True, "good": source("successful requests"),
                                "total": source("all requests")}}
    return {"thresholdMetric": source("request latency in milliseconds")}


def _ms(seconds: float) -> int | float:
    ms = Decimal(repr(seconds)) * 1000  # in decimal: 0.3 s is 300 ms, not 300.00000000000006
    return int(ms) if ms == ms.to_integral_value() else float(ms)


def window_shorthand(seconds: float) -> str:
    """A window in OpenSLO's shorthand: days, hours or minutes, whichever is exact (rounded
    up to a whole minute when none is: the shorthand has no seconds)."""
    for unit, size in (("d", 86400), ("h", 3600)):
        if seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{max(1, math.ceil(seconds / 60))}m"


_NOT_DNS = re.compile(r"[^a-z0-9-]+")


def openslo_name(text: str) -> str:
    """``text`` as an OpenSLO name (RFC 1123: lower case letters, digits and ``-``, at most
    63, alphanumeric at both ends)."""
    name = _NOT_DNS.sub("-", text.lower()).strip("-")[:63].strip("-")
    return name or "x"


def _unique(name: str, taken: set[str]) -> str:
    out, counter = name, 2
    while out in taken:
        suffix = f"-{counter}"
        out, counter = name[:63 - len(suffix)].rstrip("-") + suffix, counter + 1
    taken.add(out)
    return out


def _cut(text: str) -> str:
    return text if len(text) <= 1050 else text[:1049] + "…"
