"""Rules of the patterns library (docs/patterns.md) that the other families do not cover:
circuit breakers, retries with backoff and budgets, hard calls without a fallback, readiness,
overload (capacity, shedding, rate limits, queues), static stability, quorum shape, state,
cells, deployments, emergency levers, telemetry and burn-rate alerts.

Those that read an optional part of the canvas (``deploy:``, ``telemetry:``, ``capacity:``,
``alerts:``, ...) say nothing when the canvas leaves it out: absence of a description is not
absence of the pattern. Those that read the call settings every canvas has (``breaker:``,
``attempts:``, ``kind:``) treat the default as what it says: no breaker, one attempt, hard.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from faultlab.canvas.analysis.context import Context
from faultlab.canvas.analysis.rules.base import Rule
from faultlab.canvas.findings import Finding, Severity
from faultlab.units import format_duration

__all__ = ["breaker_missing", "burn_rate", "cells_shared", "deploy_capacity",
           "deploy_rollback", "fallback_missing", "golden_signals", "levers_missing",
           "logs", "overload_unprotected", "queue_unbounded", "quorum_shape",
           "rate_limit_above_capacity", "readiness", "retries_missing", "retries_no_backoff",
           "retries_no_budget", "stateless", "static_stability", "tracing"]


def _journeys_through(ctx: Context, node: str) -> list[str]:
    return [name for name, g in ctx.graphs.items() if node in g.nodes]


def _offered(ctx: Context, node: str) -> float:
    """Requests/s reaching a node in steady state (every journey through it, once)."""
    return math.fsum(ctx.canvas.journeys[j].rps for j in _journeys_through(ctx, node))


# --- calls -------------------------------------------------------------------------------


def breaker_missing(rule: Rule, ctx: Context) -> Iterator[Finding]:
    for d in ctx.canvas.dependencies:
        journeys = ctx.journeys_of(d.id)
        if d.breaker is None:
            yield rule.found(
                ctx, d.id, f"{d.caller} -> {d.callee} has no circuit breaker: while "
                f"{d.callee} fails, every call still goes to it and waits for its failure",
                {"attempts": d.attempts}, "open a breaker after a few consecutive failures "
                "(breaker: {failures: 5, cool_down: 1s}) so calls fail fast, and probe "
                "once per cool-down", journeys)
        elif d.timeout is None and d.deadline is None:
            yield rule.found(
                ctx, d.id, f"{d.caller} -> {d.callee} has a breaker but no timeout: a hung "
                f"{d.callee} never fails a call, so the breaker never opens",
                {"failures": d.breaker.failures}, "give the call a timeout; a timed-out "
                "attempt counts as a failure", journeys)


def retries_missing(rule: Rule, ctx: Context) -> Iterator[Finding]:
    for d in ctx.canvas.dependencies:
        if d.attempts == 1 and d.idempotent:
            yield rule.found(
                ctx, d.id, f"{d.caller} -> {d.callee} is tried once: a transient failure "
                f"(a reset connection, one instance of {d.callee} restarting) fails the call",
                {"attempts": 1}, "retry once or twice with exponential, jittered backoff "
                "(attempts: 3, backoff: [5ms, 10ms], jitter: full) under a retry budget",
                ctx.journeys_of(d.id))


def retries_no_backoff(rule: Rule, ctx: Context) -> Iterator[Finding]:
    for d in ctx.canvas.dependencies:
        if d.attempts < 2:
            continue
        if not any(w > 0 for w in d.waits()):
            yield rule.found(
                ctx, d.id, f"{d.caller} -> {d.callee} retries {d.attempts - 1} time(s) "
                f"without waiting: a struggling {d.callee} gets the retries at once",
                {"attempts": d.attempts, "waits": d.waits()}, "wait between attempts, "
                "growing exponentially with full jitter (backoff: [5ms, 10ms], jitter: "
                "full)", ctx.journeys_of(d.id))
        elif d.jitter == "none":
            yield rule.found(
                ctx, d.id, f"{d.caller} -> {d.callee} backs off without jitter: clients "
                "that failed together retry together, in waves", {"waits": d.waits()},
                "randomise each wait (jitter: full)", ctx.journeys_of(d.id))


def retries_no_budget(rule: Rule, ctx: Context) -> Iterator[Finding]:
    for d in ctx.canvas.dependencies:
        if d.attempts > 1 and d.retry_budget is None:
            yield rule.found(
                ctx, d.id, f"{d.caller} -> {d.callee} retries without a budget: while "
                f"{d.callee} fails, {d.caller} sends it {d.attempts}x its normal load",
                {"attempts": d.attempts}, "cap retries at a share of calls (retry_budget: "
                "10%, a token bucket), so an outage adds at most that much load",
                ctx.journeys_of(d.id))


def fallback_missing(rule: Rule, ctx: Context) -> Iterator[Finding]:
    for d in ctx.canvas.dependencies:
        journeys = [j for j in ctx.journeys_of(d.id) if d.callee in ctx.critical(j)]
        if d.kind == "hard" and journeys:
            yield rule.found(
                ctx, d.id, f"{d.caller} -> {d.callee} is hard with no fallback: when "
                f"{d.callee} fails, {', '.join(journeys)} fail(s) with it", {},
                f"if {d.caller} can answer without {d.callee} (a cache, a default, a page "
                "without that part), make the call soft with its fallback; if it cannot, "
                f"{d.callee} needs redundancy instead", journeys)


def levers_missing(rule: Rule, ctx: Context) -> Iterator[Finding]:
    for d in ctx.canvas.dependencies:
        if d.kind == "soft" and d.kill_switch is not True:
            yield rule.found(
                ctx, d.id, f"{d.caller} -> {d.callee} is soft but no lever turns it off: in "
                f"an incident {d.callee}'s load cannot be shed by switching to the fallback",
                {}, "put the call behind a flag operators can flip at run time "
                "(kill_switch: true), and exercise it", ctx.journeys_of(d.id))


# --- services ----------------------------------------------------------------------------


def readiness(rule: Rule, ctx: Context) -> Iterator[Finding]:
    for name, s in ctx.canvas.services.items():
        if s.health is not None and s.health != "readiness":
            yield rule.found(
                ctx, name, f"{name}'s health check is {s.health}: an instance that is up but "
                "cannot serve (warming, its dependencies lost) still gets traffic",
                {"health": s.health}, "add a readiness check that traffic follows (and keep "
                "liveness shallow, so a dependency's outage does not restart the fleet)",
                _journeys_through(ctx, name))


def stateless(rule: Rule, ctx: Context) -> Iterator[Finding]:
    for name, s in ctx.canvas.services.items():
        if s.stateless is False:
            yield rule.found(
                ctx, name, f"{name} keeps state in its instances: losing one loses it, "
                "requests must stick to an instance, and the analysis's 'any instance "
                "serves' is optimistic", {"instances": s.instances},
                "move the state to a datastore (or a shared cache) so any instance serves",
                _journeys_through(ctx, name))


def overload_unprotected(rule: Rule, ctx: Context) -> Iterator[Finding]:
    for name, s in ctx.canvas.services.items():
        if s.capacity is None or s.load_shedding:
            continue
        entering = [j for j, journey in ctx.canvas.journeys.items() if journey.entry == name]
        if entering and all(ctx.canvas.journeys[j].rate_limit is not None for j in entering):
            continue
        total, offered = s.capacity * s.instances, _offered(ctx, name)
        yield rule.found(
            ctx, name, f"{name} serves {total:g} requests/s ({s.instances} x {s.capacity:g}) "
            f"and neither sheds load nor is rate-limited: beyond it requests queue and every "
            f"one slows (offered today: {offered:g}/s)",
            {"capacity": total, "offered": offered}, "refuse work early above capacity "
            "(load_shedding: true, e.g. 503 on a full queue or a concurrency limit), or limit "
            "the journeys entering it (rate_limit:)", _journeys_through(ctx, name),
            severity=Severity.ERROR if offered > total else None)


def rate_limit_above_capacity(rule: Rule, ctx: Context) -> Iterator[Finding]:
    for name, j in ctx.canvas.journeys.items():
        entry = ctx.canvas.services.get(j.entry)
        if j.rate_limit is None or entry is None or entry.capacity is None:
            continue
        admitted = math.fsum(other.rate_limit or other.rps
                             for other in ctx.canvas.journeys.values()
                             if other.entry == j.entry)
        total = entry.capacity * entry.instances
        if admitted > total:
            yield rule.found(
                ctx, name, f"the rate limits into {j.entry} admit {admitted:g} requests/s, "
                f"above what it serves ({total:g}/s): the limiter lets overload through",
                {"admitted": admitted, "capacity": total}, f"limit below {total:g}/s (with "
                "headroom for one instance lost), or add capacity", [name])


def queue_unbounded(rule: Rule, ctx: Context) -> Iterator[Finding]:
    for name, s in ctx.canvas.services.items():
        if s.queue == "unbounded":
            yield rule.found(
                ctx, name, f"{name}'s queue is unbounded: under overload it grows until "
                "memory runs out, and every request waits behind ones users gave up on", {},
                "bound the queue (queue: N) and refuse when it is full, so callers feel "
                "back pressure", _journeys_through(ctx, name))
            continue
        if s.queue is None or s.capacity is None or s.queue == 0:
            continue
        wait = s.queue / s.capacity
        for j in _journeys_through(ctx, name):
            slo = ctx.canvas.journeys[j].slo.latency
            if slo is None:
                continue
            (percentile, bound), = slo.bounds()
            if wait > bound:
                yield rule.found(
                    ctx, name, f"a full queue at {name} waits {format_duration(wait)} "
                    f"({s.queue} / {s.capacity:g} per s), above {j}'s latency SLO "
                    f"({percentile} {format_duration(bound)}): it holds work nobody wants",
                    {"queue": s.queue, "wait": wait, "slo": bound},
                    f"bound the queue at most {math.floor(bound * s.capacity)} (the SLO x "
                    "capacity), or refuse work that has waited longer than its deadline", [j])


def static_stability(rule: Rule, ctx: Context) -> Iterator[Finding]:
    for name, s in ctx.canvas.services.items():
        zones = s.instance_zones()
        if s.capacity is None or len(set(zones)) < 2:
            continue
        offered = _offered(ctx, name)
        worst = max(set(zones), key=zones.count)
        left = (len(zones) - zones.count(worst)) * s.capacity
        if offered > left:
            yield rule.found(
                ctx, name, f"after losing zone {worst}, {name}'s other instances serve "
                f"{left:g} requests/s, below the {offered:g}/s offered: surviving the zone "
                "needs new instances from the control plane, in the middle of the event",
                {"zone": worst, "left": left, "offered": offered},
                f"run enough instances that any one zone can go ({math.ceil(offered / s.capacity)}"
                " outside the largest zone), provisioned ahead", _journeys_through(ctx, name))


def cells_shared(rule: Rule, ctx: Context) -> Iterator[Finding]:
    for d in ctx.canvas.dependencies:
        caller = ctx.canvas.services.get(d.caller)
        callee = ctx.nodes.get(d.callee)
        if caller is None or callee is None or (caller.cells or 1) < 2:
            continue
        if (callee.cells or 1) < 2:
            yield rule.found(
                ctx, d.id, f"{d.caller} is split into {caller.cells} cells but all of them "
                f"call one {d.callee}: its failure (or a poison request) reaches every cell",
                {"cells": caller.cells}, f"give each cell its own {d.callee} (or shard it "
                "the same way), so a cell's failure stays in the cell",
                ctx.journeys_of(d.id))


def quorum_shape(rule: Rule, ctx: Context) -> Iterator[Finding]:
    for name, store in ctx.canvas.datastores.items():
        n, k = store.replicas, store.needed
        journeys = _journeys_through(ctx, name)
        if n > 1 and 2 * k <= n:
            yield rule.found(
                ctx, name, f"{name} serves with {k} of {n} replicas: two disjoint groups "
                "can both serve during a partition (split brain)", {"replicas": n,
                                                                    "quorum": k},
                f"use a majority quorum ({n // 2 + 1} of {n}) for anything that must agree",
                journeys, severity=Severity.ERROR)
        elif n > 2 and n % 2 == 0 and k == n // 2 + 1:
            yield rule.found(
                ctx, name, f"{name} has {n} replicas with a majority of {k}: it tolerates "
                f"{n - k} lost, no more than {n - 1} replicas would", {"replicas": n,
                                                                       "quorum": k},
                f"run an odd number of replicas ({n - 1} or {n + 1})", journeys,
                severity=Severity.INFO)


# --- deployments and telemetry -----------------------------------------------------------


def deploy_rollback(rule: Rule, ctx: Context) -> Iterator[Finding]:
    for name, s in ctx.canvas.services.items():
        if s.deploy is not None and s.deploy.rollback != "auto":
            yield rule.found(
                ctx, name, f"{name} rolls out by {s.deploy.strategy} but rolls back by hand: "
                "a bad version serves until someone notices and acts",
                {"strategy": s.deploy.strategy}, "roll back automatically on the health and "
                "SLO signals of the new version (rollback: auto)", _journeys_through(ctx, name))


def deploy_capacity(rule: Rule, ctx: Context) -> Iterator[Finding]:
    for name, s in ctx.canvas.services.items():
        d = s.deploy
        if d is None:
            continue
        problem = ""
        if d.strategy == "rolling" and d.max_surge == 0 and d.max_unavailable == 0:
            problem = "max_surge 0 and max_unavailable 0: the rollout can never take a step"
        elif d.strategy == "rolling" and s.instances - d.max_unavailable < 1:
            problem = (f"max_unavailable {d.max_unavailable} of {s.instances} instance(s): "
                       "a step can take every instance out of service")
        elif d.strategy == "canary" and d.canary_share is not None and d.canary_share >= 0.5:
            problem = (f"the canary takes {d.canary_share:.0%} of traffic: a bad version "
                       "reaches most users before it can be judged")
        if problem:
            yield rule.found(
                ctx, name, f"{name}'s {d.strategy} rollout: {problem}",
                {"strategy": d.strategy, "max_surge": d.max_surge,
                 "max_unavailable": d.max_unavailable, "canary_share": d.canary_share},
                "surge above the fleet (max_surge >= 1, max_unavailable 0), or a canary of a "
                "few percent", _journeys_through(ctx, name))


def golden_signals(rule: Rule, ctx: Context) -> Iterator[Finding]:
    for name, s in ctx.canvas.services.items():
        if s.telemetry is not None and not s.telemetry.golden_signals:
            yield rule.found(
                ctx, name, f"{name} does not report latency, traffic, errors and saturation: "
                "its failures are seen only by its callers (or users)", {},
                "export the four golden signals per endpoint (e.g. RED metrics plus "
                "saturation of its pools and queues)", _journeys_through(ctx, name))


def tracing(rule: Rule, ctx: Context) -> Iterator[Finding]:
    for d in ctx.canvas.dependencies:
        caller, callee = ctx.canvas.services.get(d.caller), ctx.canvas.services.get(d.callee)
        if caller is None or callee is None or caller.telemetry is None \
                or callee.telemetry is None:
            continue
        if caller.telemetry.tracing != callee.telemetry.tracing:
            dark = d.callee if caller.telemetry.tracing else d.caller
            yield rule.found(
                ctx, d.id, f"the trace breaks at {d.caller} -> {d.callee}: {dark} does not "
                "propagate trace context, so a slow request's time there is unexplained", {},
                f"propagate W3C trace context in {dark} (an OpenTelemetry SDK, its HTTP "
                "client and server instrumented)", ctx.journeys_of(d.id))


def logs(rule: Rule, ctx: Context) -> Iterator[Finding]:
    for name, s in ctx.canvas.services.items():
        t = s.telemetry
        if t is not None and not (t.structured_logs and t.correlation_ids):
            lacking = [w for w, ok in (("structured", t.structured_logs),
                                       ("correlation ids", t.correlation_ids)) if not ok]
            yield rule.found(
                ctx, name, f"{name}'s logs lack {' and '.join(lacking)}: one request's lines "
                "cannot be found across services", {}, "log fields as JSON with the trace "
                "id on every line", _journeys_through(ctx, name))


def burn_rate(rule: Rule, ctx: Context) -> Iterator[Finding]:
    for name, j in ctx.canvas.journeys.items():
        alerts = j.slo.alerts
        if alerts is None or j.slo.availability is None:
            continue
        if not alerts:
            yield rule.found(
                ctx, name, f"journey {name} has an availability SLO and no alert on it: its "
                "error budget can be spent without anyone paged", {},
                "page on a fast burn (14.4x over 1h and 5m) and ticket a slow one (6x over 6h "
                "and 30m; 1x over 3d and 6h)", [name])
        for a in alerts:
            exhausted = j.slo.window / a.burn
            if a.short >= a.long:
                problem = (f"its short window ({format_duration(a.short)}) is not shorter "
                           f"than its long one ({format_duration(a.long)})")
            elif a.long >= exhausted:
                problem = (f"at {a.burn:g}x the budget is gone in "
                           f"{format_duration(exhausted)}, before the "
                           f"{format_duration(a.long)} window fills")
            else:
                continue
            yield rule.found(
                ctx, name, f"journey {name}'s burn-rate alert at {a.burn:g}x: {problem}",
                {"burn": a.burn, "long": a.long, "short": a.short}, "use a short window of "
                "about 1/12 of the long one, and a long window well inside the time the "
                "burn takes to spend the budget", [name])
