"""The rules of ``faultlab canvas analyze``, registered here and only here: a new rule is a
function ``check(rule, ctx) -> findings`` in its family's module and one line below."""

from __future__ import annotations

from faultlab.canvas.analysis.rules import (
    availability,
    budget,
    fallback,
    patterns,
    pools,
    retries,
    spof,
    timeouts,
)
from faultlab.canvas.analysis.rules.base import Check, Rule
from faultlab.canvas.findings import Severity

__all__ = ["ALL_RULES", "PATTERN_RULES", "RULES", "Check", "Rule", "rule"]

_TREYNOR = ("Treynor, Dahlin, Rau, Beyer, \"The Calculus of Service Availability\", ACM "
            "Queue 15(2), 2017")
_RETRIES = ("Well-Architected REL05-BP03 (limit retries); Google SRE, \"Handling Overload\" "
            "(retry budgets); Brooker, \"Fixing retries with token buckets\" (2022)")
_TIMEOUTS = ("Well-Architected REL05-BP05 (client timeouts); Amazon Builders' Library, "
             "\"Timeouts, retries and backoff with jitter\"")
_NYGARD = "Nygard, Release It! 2nd ed., ch. 5 Stability Patterns"
_BACKOFF = ("Amazon Builders' Library, \"Timeouts, retries and backoff with jitter\"; "
            "Brooker, \"Exponential Backoff And Jitter\", AWS Architecture Blog (2015)")
_OVERLOAD = ("Well-Architected REL05-BP02 (throttle requests), REL05-BP04 (fail fast and "
             "limit queues); Google SRE book ch. 21 Handling Overload, ch. 22 Addressing "
             "Cascading Failures")
_DEPLOY = ("Google SRE workbook ch. 16 Canarying Releases; Amazon Builders' Library, "
           "\"Automating safe, hands-off deployments\"")
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

#: the patterns library's own rules (docs/patterns.md): run by `faultlab patterns check`
#: with RULES; kept out of RULES, so `canvas analyze` says what docs/canvas.md documents
PATTERN_RULES: tuple[Rule, ...] = (
    Rule("patterns.breaker.missing", Severity.WARNING,
         "a call has no circuit breaker (or one that a hang never opens)",
         f"{_NYGARD}: Circuit Breaker; Fowler, \"CircuitBreaker\" (2014)",
         patterns.breaker_missing),
    Rule("patterns.retries.missing", Severity.INFO,
         "an idempotent call is tried once", f"Well-Architected REL05-BP03; {_BACKOFF}",
         patterns.retries_missing),
    Rule("patterns.retries.no-backoff", Severity.WARNING,
         "a call retries without waiting, or without jitter", _BACKOFF,
         patterns.retries_no_backoff),
    Rule("patterns.retries.no-budget", Severity.INFO,
         "a call retries without a retry budget", _RETRIES, patterns.retries_no_budget),
    Rule("patterns.fallback.missing", Severity.INFO,
         "a hard call whose callee's loss fails a journey", "Well-Architected REL05-BP01 "
         "(graceful degradation); Amazon Builders' Library, \"Avoiding fallback in "
         "distributed systems\"", patterns.fallback_missing),
    Rule("patterns.levers.missing", Severity.INFO,
         "a soft call has no emergency lever to turn it off",
         "Well-Architected REL05-BP07 (emergency levers)", patterns.levers_missing),
    Rule("patterns.health.readiness", Severity.WARNING,
         "a service's health check does not gate traffic on readiness",
         "Amazon Builders' Library, \"Implementing health checks\"; Kubernetes, "
         "\"Configure Liveness, Readiness and Startup Probes\"", patterns.readiness),
    Rule("patterns.stateless.state", Severity.WARNING,
         "a service keeps state in its instances",
         "Well-Architected REL05-BP06 (make systems stateless)", patterns.stateless),
    Rule("patterns.overload.unprotected", Severity.WARNING,
         "a service with a stated capacity neither sheds load nor is rate-limited",
         _OVERLOAD, patterns.overload_unprotected),
    Rule("patterns.rate-limit.above-capacity", Severity.WARNING,
         "the rate limits into a service admit more than it serves", _OVERLOAD,
         patterns.rate_limit_above_capacity),
    Rule("patterns.queue.unbounded", Severity.WARNING,
         "a queue is unbounded, or a full one waits longer than the latency SLO",
         f"{_OVERLOAD}; {_NYGARD}: Create Back Pressure", patterns.queue_unbounded),
    Rule("patterns.static-stability.zone-capacity", Severity.WARNING,
         "losing a zone leaves a service below its offered load",
         "Well-Architected REL11-BP05 (static stability); Amazon Builders' Library, "
         "\"Static stability using Availability Zones\"", patterns.static_stability),
    Rule("patterns.cells.shared-dependency", Severity.WARNING,
         "the cells of a service share one dependency",
         "Well-Architected REL10-BP04 (bulkheads and cells); AWS whitepaper \"Reducing the "
         "Scope of Impact with Cell-Based Architecture\"", patterns.cells_shared),
    Rule("patterns.quorum.shape", Severity.WARNING,
         "a quorum that allows split brain, or an even replica count",
         "Google SRE book ch. 23 Managing Critical State: Distributed Consensus for "
         "Reliability", patterns.quorum_shape),
    Rule("patterns.deploy.no-rollback", Severity.WARNING,
         "a rollout that is rolled back by hand", _DEPLOY, patterns.deploy_rollback),
    Rule("patterns.deploy.capacity", Severity.WARNING,
         "a rollout that stalls, empties the fleet, or a canary too large to judge",
         f"{_DEPLOY}; Kubernetes Deployments (maxSurge, maxUnavailable)",
         patterns.deploy_capacity),
    Rule("patterns.telemetry.golden-signals", Severity.WARNING,
         "a service does not report the four golden signals",
         "Google SRE book ch. 6 Monitoring Distributed Systems", patterns.golden_signals),
    Rule("patterns.telemetry.tracing", Severity.WARNING,
         "a call where trace context stops propagating",
         "W3C Trace Context; Sigelman et al., \"Dapper\" (Google, 2010)", patterns.tracing),
    Rule("patterns.telemetry.logs", Severity.INFO,
         "a service's logs are not structured or lack correlation ids",
         "The Twelve-Factor App, XI Logs; W3C Trace Context (trace ids)", patterns.logs),
    Rule("patterns.slo.burn-rate", Severity.WARNING,
         "an availability SLO without sound multi-window burn-rate alerts",
         "Google SRE workbook ch. 5 Alerting on SLOs", patterns.burn_rate),
)


#: every registered rule: what an entry of the patterns library may name
ALL_RULES: tuple[Rule, ...] = RULES + PATTERN_RULES


def rule(rule_id: str) -> Rule:
    return next(r for r in ALL_RULES if r.id == rule_id)
