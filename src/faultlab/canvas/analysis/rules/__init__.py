"""The rules of ``faultlab canvas analyze``, registered here and only here: a new rule is a
function ``check(rule, ctx) -> findings`` in its family's module and one line below."""

from __future__ import annotations

from faultlab.canvas.analysis.rules import (
    availability,
    budget,
    fallback,
    pools,
    retries,
    spof,
    timeouts,
)
from faultlab.canvas.analysis.rules.base import Check, Rule
from faultlab.canvas.findings import Severity

__all__ = ["RULES", "Check", "Rule", "rule"]

_TREYNOR = ("Treynor, Dahlin, Rau, Beyer, \"The Calculus of Service Availability\", ACM "
            "Queue 15(2), 2017")
_RETRIES = ("Well-Architected REL05-BP03 (limit retries); Google SRE, \"Handling Overload\" "
            "(retry budgets); Brooker, \"Fixing retries with token buckets\" (2022)")
_TIMEOUTS = ("Well-Architected REL05-BP05 (client timeouts); Amazon Builders' Library, "
             "\"Timeouts, retries and backoff with jitter\"")
_SPOF = ("requirement-graph dominators; Well-Architected REL10 (fault isolation), "
         "REL05-BP01 (graceful degradation)")

RULES: tuple[Rule, ...] = (
    Rule("availability.slo-unreachable", Severity.ERROR,
         "a journey's availability SLO is above what its parts allow",
         f"series, k-of-n, fallbacks and zones; {_TREYNOR}", availability.slo_unreachable),
    Rule("availability.extra-nine", Severity.WARNING,
         "a critical dependency lacks one nine more than the journey's SLO",
         _TREYNOR, availability.extra_nine_rule),
    Rule("spof.node", Severity.WARNING,
         "losing one instance of a node fails a journey", _SPOF, spof.spof_node),
    Rule("spof.zone", Severity.WARNING,
         "losing one zone fails a journey", _SPOF, spof.spof_zone),
    Rule("blast.node", Severity.INFO,
         "the journeys (and traffic) lost with a node", _SPOF, spof.blast_node),
    Rule("blast.zone", Severity.INFO,
         "the journeys (and traffic) lost with a zone", _SPOF, spof.blast_zone),
    Rule("retries.amplification", Severity.WARNING,
         "a failure is tried more times per request than the threshold", _RETRIES,
         retries.amplification),
    Rule("retries.not-idempotent", Severity.ERROR,
         "a call that is not idempotent is retried", "Amazon Builders' Library, \"Making "
         "retries safe with idempotent APIs\"", retries.not_idempotent),
    Rule("retries.layers", Severity.WARNING,
         "more than one layer retries the same failure", _RETRIES, retries.layers),
    Rule("timeouts.missing", Severity.WARNING,
         "a call has neither a timeout nor a deadline", _TIMEOUTS, timeouts.missing),
    Rule("timeouts.budget", Severity.WARNING,
         "a caller gives up while its callee is still retrying", _TIMEOUTS,
         timeouts.budget),
    Rule("timeouts.above-slo", Severity.WARNING,
         "a journey's worst case is above its latency SLO", _TIMEOUTS, timeouts.above_slo),
    Rule("pools.exhaustion", Severity.WARNING,
         "a hung dependency fills the caller's pool (λ·T > pool)",
         "Little's law; Nygard, Release It! (bulkheads, blocked threads); Well-Architected "
         "REL10-BP04 (bulkheads), REL05-BP04 (fail fast)", pools.exhaustion),
    Rule("fallback.soft", Severity.INFO,
         "a soft call's fallback should carry its journeys while the callee is down",
         "Well-Architected REL05-BP01 (graceful degradation); Nygard, Release It! "
         "(fail fast, fallbacks)", fallback.soft_calls),
    Rule("budget.error", Severity.INFO,
         "a journey's error budget per window", "Google SRE workbook, \"Alerting on SLOs\"",
         budget.error),
)


def rule(rule_id: str) -> Rule:
    return next(r for r in RULES if r.id == rule_id)
