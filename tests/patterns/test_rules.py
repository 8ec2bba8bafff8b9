"""Every rule of the patterns library on a canvas built to trigger it and one built to pass
it (the passing canvas is the same with the one thing fixed)."""

from __future__ import annotations

from typing import Any

import pytest

from faultlab.canvas.analysis.rules import PATTERN_RULES
from faultlab.canvas.findings import Severity

from .conftest import canvas_of, findings

TELEMETRY = {"golden_signals": True, "tracing": True, "structured_logs": True,
             "correlation_ids": True}
ALERTS = [{"burn": 14.4, "long": "1h", "short": "5m"}, {"burn": 6, "long": "6h",
                                                         "short": "30m"}]
SLO = {"availability": "99.9%", "latency": {"p99": "500ms"}}

#: rule id -> (subject found, the changes that trigger it, the changes that pass it)
CASES: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "patterns.breaker.missing": ("web->api", {"dep0": {"breaker": None}}, {}),
    "patterns.retries.missing": ("web->api", {"dep0": {"attempts": 1, "backoff": []}}, {}),
    "patterns.retries.no-backoff": ("web->api", {"dep0": {"backoff": []}}, {}),
    "patterns.retries.no-budget": ("web->api", {"dep0": {"retry_budget": None}}, {}),
    "patterns.fallback.missing": ("web->api", {}, {"dep0": {"kind": "soft"}}),
    "patterns.levers.missing": ("web->api", {"dep0": {"kind": "soft"}},
                                {"dep0": {"kind": "soft", "kill_switch": True}}),
    "patterns.health.readiness": ("api", {"services__api": {"health": "liveness"}},
                                  {"services__api": {"health": "readiness"}}),
    "patterns.stateless.state": ("api", {"services__api": {"stateless": False}},
                                 {"services__api": {"stateless": True}}),
    "patterns.overload.unprotected": ("web", {"services__web": {"capacity": "10/s"}},
                                      {"services__web": {"capacity": "10/s",
                                                         "load_shedding": True}}),
    "patterns.rate-limit.above-capacity": (
        "page", {"services__web": {"capacity": "10/s"},
                 "journeys": {"page": {"entry": "web", "rps": "20/s", "rate_limit": "40/s"}}},
        {"services__web": {"capacity": "10/s"},
         "journeys": {"page": {"entry": "web", "rps": "20/s", "rate_limit": "25/s"}}}),
    "patterns.queue.unbounded": ("api", {"services__api": {"queue": "unbounded"}},
                                 {"services__api": {"queue": 100, "capacity": "1000/s"}}),
    "patterns.static-stability.zone-capacity": (
        "api", {"services__api": {"zones": ["a", "b", "c"], "capacity": "9/s"}},
        {"services__api": {"zones": ["a", "b", "c"], "capacity": "10/s",
                           "instances": 3}}),
    "patterns.cells.shared-dependency": ("web->api", {"services__web": {"cells": 4}},
                                         {"services__web": {"cells": 4},
                                          "services__api": {"cells": 4},
                                          "datastores__db": {"cells": 4}}),
    "patterns.quorum.shape": ("db", {"datastores": {"db": {"replicas": 4, "quorum": 2}}},
                              {"datastores": {"db": {"replicas": 5}}}),
    "patterns.deploy.no-rollback": ("api", {"services__api": {"deploy": {
        "strategy": "canary", "canary_share": "5%"}}}, {"services__api": {"deploy": {
            "strategy": "canary", "canary_share": "5%", "rollback": "auto"}}}),
    "patterns.deploy.capacity": ("api", {"services__api": {"deploy": {
        "strategy": "rolling", "max_surge": 0, "max_unavailable": 3, "rollback": "auto"}}},
        {"services__api": {"deploy": {"strategy": "rolling", "max_surge": 1,
                                      "rollback": "auto"}}}),
    "patterns.telemetry.golden-signals": (
        "api", {"services__api": {"telemetry": {**TELEMETRY, "golden_signals": False}}},
        {"services__api": {"telemetry": TELEMETRY}}),
    "patterns.telemetry.tracing": (
        "web->api", {"services__web": {"telemetry": TELEMETRY},
                     "services__api": {"telemetry": {**TELEMETRY, "tracing": False}}},
        {"services__web": {"telemetry": TELEMETRY}, "services__api": {"telemetry": TELEMETRY}}),
    "patterns.telemetry.logs": (
        "api", {"services__api": {"telemetry": {**TELEMETRY, "correlation_ids": False}}},
        {"services__api": {"telemetry": TELEMETRY}}),
    "patterns.slo.burn-rate": (
        "page", {"journeys": {"page": {"entry": "web", "rps": "20/s",
                                       "slo": {**SLO, "alerts": []}}}},
        {"journeys": {"page": {"entry": "web", "rps": "20/s",
                               "slo": {**SLO, "alerts": ALERTS}}}}),
}


def test_every_patterns_rule_has_a_case() -> None:
    assert sorted(CASES) == sorted(r.id for r in PATTERN_RULES)


@pytest.mark.parametrize("rule", sorted(CASES))
def test_rule_triggers_and_passes(rule: str) -> None:
    subject, trigger, passing = CASES[rule]
    found = findings(canvas_of(**trigger), rule)
    assert [f.subject for f in found] == [subject]
    assert found[0].message and found[0].fix and found[0].reference
    assert findings(canvas_of(**passing), rule) == []


def test_base_canvas_has_one_patterns_finding() -> None:
    """The base passes every patterns rule but one: its first call is hard (the trigger of
    patterns.fallback.missing)."""
    from faultlab.canvas.analysis import analyze
    from faultlab.canvas.analysis.rules import ALL_RULES

    assert [(f.rule, f.subject) for f in analyze(canvas_of(), rules=ALL_RULES).findings
            if f.rule.startswith("patterns.")] == [("patterns.fallback.missing", "web->api")]


@pytest.mark.parametrize(("changes", "why"), [
    ({"dep0": {"timeout": None}}, "no timeout"),
])
def test_breaker_without_timeout_is_misused(changes: dict[str, Any], why: str) -> None:
    found = findings(canvas_of(**changes), "patterns.breaker.missing")
    assert [f.subject for f in found] == ["web->api"] and "never opens" in found[0].message


def test_overload_is_an_error_when_already_above_capacity() -> None:
    (f,) = findings(canvas_of(services__web={"capacity": "5/s"}),
                    "patterns.overload.unprotected")
    assert f.severity == Severity.ERROR and f.numbers == {"capacity": 15.0, "offered": 20.0}


def test_quorum_of_half_is_split_brain_and_even_majority_is_info() -> None:
    (split,) = findings(canvas_of(datastores={"db": {"replicas": 4, "quorum": 2}}),
                        "patterns.quorum.shape")
    (even,) = findings(canvas_of(datastores={"db": {"replicas": 4}}),
                       "patterns.quorum.shape")
    assert (split.severity, even.severity) == (Severity.ERROR, Severity.INFO)


def test_burn_rate_windows_that_outlast_the_budget() -> None:
    slo = {**SLO, "window": "720h", "alerts": [{"burn": 1000, "long": "1h", "short": "5m"},
                                               {"burn": 2, "long": "1h", "short": "1h"}]}
    found = findings(canvas_of(journeys={"page": {"entry": "web", "rps": "20/s",
                                                  "slo": slo}}), "patterns.slo.burn-rate")
    assert ["before the" in f.message for f in found] == [True, False]


def test_queue_longer_than_the_latency_slo() -> None:
    (f,) = findings(canvas_of(services__api={"queue": 1000, "capacity": "100/s"}),
                    "patterns.queue.unbounded")
    assert f.numbers["wait"] == 10.0 and "above page's latency SLO" in f.message
