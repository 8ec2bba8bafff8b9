"""``faultlab patterns verify CANVAS``: each pattern checked in the running system, per place.

A *place* is a call of a journey (``caller -> callee``) whose path runs through faultlab's
proxy (the dependency's ``target: {proxy: ...}``) on a journey with a ``request:``. For every
place, a few experiments are generated from the canvas (ordinary experiment files: the
canvas's system, the journey's load with a W3C traceparent per request, the journey's SLOs,
the place's proxy with ``observe: true``), one per *condition* the callee is put in:

- ``hang``: the callee holds every request (the proxy passes nothing) for the fault;
- ``outage``: every request to the callee is answered 503 by the proxy;
- ``flaky``: 30% of the requests to the callee are answered 503, each drawn on its own.

Each pattern's :class:`Verifier` names the condition its oracle needs and judges the run by
what reached the callee (the proxy's per-request records, :mod:`faultlab.run.observations`)
or by what users felt (the run's own hypothesis clauses). Several patterns share a run: the
hang run serves timeouts and bulkhead, the outage run breaker and fallback.

Verdicts per pattern and place: verified, broken (with the measured evidence), not
applicable (why), inconclusive (not enough evidence, with the counts). A verifier is added
by registration (:func:`verifier`); patterns without one are listed as not verified here.
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from faultlab.canvas.generate import journey_experiment
from faultlab.canvas.model import Canvas, Dependency, Journey
from faultlab.patterns.oracles import (
    Evidence,
    OracleResult,
    Status,
    Window,
    amplification,
    bounded_retries,
    circuit_breaker,
    concurrency_limit,
    timeout,
)
from faultlab.units import format_duration

__all__ = [
    "CONDITIONS",
    "VERIFIERS",
    "Check",
    "Place",
    "Verdict",
    "VerifyPlan",
    "judge",
    "places",
    "plan_verification",
    "verifier",
    "write_experiments",
]

BEFORE = 3.0  # seconds of steady state before the fault (the before window of the oracles)
FAULT = 6.0  # seconds the condition lasts
AFTER = 3.0  # seconds observed after it (a breaker's cool-down and its probe fit in)
FLAKY_SHARE = "30%"  # enough failed first attempts for statistics, too few to trip breakers


class Verdict(enum.StrEnum):
    VERIFIED = "verified"
    BROKEN = "broken"
    NOT_APPLICABLE = "not applicable"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class Place:
    journey: str
    edge: Dependency

    @property
    def id(self) -> str:
        return f"{self.edge.caller} -> {self.edge.callee}"

    @property
    def target(self) -> str:
        return f"{self.edge.caller}-to-{self.edge.callee}"



# --- the conditions: what the callee is put through -----------------------------------------

Condition = Callable[[Place], dict[str, Any]]
CONDITIONS: dict[str, tuple[str, Condition]] = {}


def _condition(name: str, says: str) -> Callable[[Condition], Condition]:
    def register(fn: Condition) -> Condition:
        CONDITIONS[name] = (says, fn)
        return fn
    return register


@_condition("hang", "holds every request (nothing passes) for {fault}")
def _hang(place: Place) -> dict[str, Any]:
    return {"kind": "timeout", "target": place.target, "stream": "upstream", "after": "0s",
            "start": "0s", "duration": format_duration(FAULT)}


@_condition("outage", "answers every request 503 for {fault}")
def _outage(place: Place) -> dict[str, Any]:
    return {"kind": "http_abort", "target": place.target, "status": 503, "start": "0s",
            "duration": format_duration(FAULT)}


@_condition("flaky", "answers " + FLAKY_SHARE + " of the requests 503 for {fault}")
def _flaky(place: Place) -> dict[str, Any]:
    return {"kind": "http_abort", "target": place.target, "status": 503,
            "requests": FLAKY_SHARE, "start": "0s", "duration": format_duration(FAULT)}


# --- what a verifier gets ----------------------------------------------------------------------

@dataclass(frozen=True)
class Observed:
    """One finished run of a condition at a place, as the verifiers read it."""

    place: Place
    journey: Journey
    run_dir: Path
    record: Any  # faultlab.record.RunRecord
    evidence: Evidence | None  # None when the fault never ran


Judge = Callable[[Observed], OracleResult]
Applies = Callable[[Canvas, Place, Journey], str | None]  # a reason it does not apply


@dataclass(frozen=True)
class Verifier:
    pattern: str
    condition: str
    judge: Judge
    applies: Applies
    observed: bool = True  # judges what reached the callee (False: the run's own clauses)


VERIFIERS: dict[str, Verifier] = {}


def _always(canvas: Canvas, place: Place, journey: Journey) -> str | None:
    return None


def verifier(pattern: str, condition: str, applies: Applies = _always, *,
             observed: bool = True) -> Callable[[Judge], Judge]:
    def register(fn: Judge) -> Judge:
        VERIFIERS[pattern] = Verifier(pattern, condition, fn, applies, observed)
        return fn
    return register


def _latency_budget(journey: Journey) -> float | None:
    return journey.slo.latency.bounds()[0][1] if journey.slo.latency is not None else None


def _slack(timeout_s: float) -> float:
    """What a busy machine may add to a timeout before the proxy sees the caller give up: the
    larger of 100 ms and the timeout itself. Far below the condition's 6 s hang, which a
    caller without a timeout waits out."""
    return max(0.1, timeout_s)


@verifier("timeouts", "hang")
def _timeouts(o: Observed) -> OracleResult:
    assert o.evidence is not None
    edge = o.place.edge
    if edge.timeout is not None:
        return timeout(o.evidence, timeout=edge.timeout, slack=_slack(edge.timeout))
    # none stated: what users can wait is the journey's latency bound (or a second)
    budget = _latency_budget(o.journey) or 1.0
    result = timeout(o.evidence, timeout=budget, slack=_slack(budget))
    return replace(result, summary=f"{result.summary} (the canvas states no timeout for "
                   f"this call: judged against {format_duration(budget)}, the journey's "
                   "latency bound)")


def _retryable(canvas: Canvas, place: Place, journey: Journey) -> str | None:
    if not place.edge.idempotent:
        return "the call is not idempotent (idempotent: false): it must not be retried"
    return None


@verifier("retries-backoff-jitter", "flaky", _retryable)
def _retries(o: Observed) -> OracleResult:
    assert o.evidence is not None
    edge = o.place.edge
    result = bounded_retries(o.evidence, max_attempts=max(edge.attempts, 3))
    if result.status is Status.INCONCLUSIVE:
        return _no_retries(o, result)
    return result


def _no_retries(o: Observed, result: OracleResult) -> OracleResult:
    """Failed attempts, none retried: the pattern is absent (broken), not unproven."""
    assert o.evidence is not None
    window = o.evidence.fault
    during = [r for r in o.evidence.requests if window.start <= r.start < window.end]
    traced = [r for r in during if r.trace_id is not None]
    failed = sum(1 for r in traced if r.outcome != "response" or (r.status or 0) >= 500)
    per_request: dict[str, int] = {}
    for r in traced:
        per_request[r.trace_id or ""] = per_request.get(r.trace_id or "", 0) + 1
    if traced and failed >= 10 and max(per_request.values()) == 1:
        return OracleResult(
            "bounded_retries", Status.BROKEN,
            f"no retries: {failed} requests failed at {o.place.edge.callee} and not one "
            f"was tried again ({len(per_request)} requests, one attempt each)",
            {**result.signature, "failed_attempts": failed, "retried_requests": 0},
            [f"no retry reached {o.place.edge.callee}: the caller gives up after one "
             "failed attempt"])
    return result


@verifier("circuit-breaker", "outage")
def _breaker(o: Observed) -> OracleResult:
    assert o.evidence is not None
    b = o.place.edge.breaker
    cool_down = b.cool_down if b is not None else None
    return circuit_breaker(o.evidence, cool_down=cool_down,
                           open_within=max(2.0, 2 * (cool_down or 0.0)))


#: the retry budget a call is held to when its canvas states none (the pattern's usual 10%)
DEFAULT_BUDGET = 0.1


@verifier("retry-budget", "outage", _retryable)
def _retry_budget(o: Observed) -> OracleResult:
    assert o.evidence is not None
    stated = o.place.edge.retry_budget
    result = amplification(o.evidence, max_ratio=1.0 + (stated if stated is not None
                                                         else DEFAULT_BUDGET))
    if stated is None:
        result = replace(result, summary=f"{result.summary} (the canvas states no "
                         f"retry_budget for this call: held to {DEFAULT_BUDGET:.0%})")
    return result


def _little_bound(place: Place, journey: Journey) -> int:
    """The concurrency a bulkhead should allow: the journey's rate times the time it may
    take (its latency objective, else 1 s), twice over for headroom; at least 4."""
    budget = _latency_budget(journey) or 1.0
    return max(4, math.ceil(2 * journey.rps * budget))


@verifier("bulkhead", "hang")
def _bulkhead(o: Observed) -> OracleResult:
    assert o.evidence is not None
    edge = o.place.edge
    limit = edge.pool if edge.pool is not None else _little_bound(o.place, o.journey)
    return concurrency_limit(o.evidence, limit=limit)


@verifier("fallback", "outage", observed=False)
def _fallback(o: Observed) -> OracleResult:
    """The journey's SLOs hold while the callee is down: the run's own during-clauses."""
    during = [c for c in o.record.clauses if c.phase == "during"]
    if not during:
        return OracleResult("journey_slo", Status.INCONCLUSIVE,
                            "the run measured no SLO during the outage", {},
                            ["the run has no during clause (did the fault run?)"])
    signature: dict[str, float | int | str] = {}
    for c in during:
        key = "success_ratio" if c.unit == "ratio" else "latency_s"
        if c.measured is not None:
            signature[f"{c.slo}_{key}"] = round(c.measured, 6)
    failed = [c for c in during if not c.held]
    text = "; ".join(f"{c.slo} {c.objective}: {c.detail}" for c in during)
    if failed:
        return OracleResult("journey_slo", Status.BROKEN,
                            f"the journey failed while {o.place.edge.callee} was down: {text}",
                            signature, [f"{c.slo}: {c.detail}" for c in failed])
    return OracleResult("journey_slo", Status.VERIFIED,
                        f"the journey held while {o.place.edge.callee} was down: {text}",
                        signature, [])


# --- the plan ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Check:
    pattern: str
    place: Place
    condition: str | None  # None: not applicable or not verified here
    reason: str = ""  # why not applicable


@dataclass
class Result:
    check: Check
    verdict: Verdict
    summary: str
    signature: dict[str, float | int | str] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    run_dir: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"pattern": self.check.pattern, "place": self.check.place.id,
                "journey": self.check.place.journey, "condition": self.check.condition,
                "verdict": self.verdict.value, "summary": self.summary,
                "signature": self.signature, "reasons": self.reasons,
                "run_dir": self.run_dir}


@dataclass(frozen=True)
class VerifyPlan:
    canvas: Canvas
    checks: list[Check]
    experiments: dict[tuple[str, str], dict[str, Any]]  # (place id, condition) -> experiment
    unmapped: list[str]  # calls that cannot be verified, with the reason


def places(canvas: Canvas) -> tuple[list[Place], list[str]]:
    """Every call of a journey with a request whose path is mapped to a proxy."""
    out: list[Place] = []
    skipped: list[str] = []
    seen: set[str] = set()
    for name, journey in canvas.journeys.items():
        for step in journey.steps:
            caller, _, callee = step.partition("->")
            edge = canvas.dependency(caller.strip(), callee.strip())
            if edge is None or edge.id in seen:
                continue
            seen.add(edge.id)
            call = f"{edge.caller} -> {edge.callee}"
            if journey.request is None:
                skipped.append(f"{call}: journey {name} has no request: (the URL users "
                               "call)")
            elif edge.target is None or edge.target.proxy is None:
                skipped.append(f"{call}: not mapped to a proxy target (give it target: "
                               "{proxy: {listen, upstream}})")
            else:
                out.append(Place(name, edge))
    return out, skipped


def _experiment(canvas: Canvas, place: Place, condition: str) -> dict[str, Any]:
    journey = canvas.journeys[place.journey]
    says, make = CONDITIONS[condition]
    fault = make(place)
    what = says.format(fault=format_duration(FAULT))
    description = (f"patterns verify: {place.edge.callee} {what} on {place.id}, under the "
                   f"{place.journey} journey's load")
    assert place.edge.target is not None
    exp = journey_experiment(canvas, f"verify-{condition}-{place.target}", description,
                             place.journey, journey, {place.target: place.edge.target},
                             [fault])
    exp["targets"][place.target]["proxy"]["observe"] = True
    exp["workload"]["http"]["traceparent"] = True
    exp["hypothesis"]["before"]["for"] = format_duration(BEFORE)
    exp["hypothesis"]["after"] = {"hold": list(exp["hypothesis"]["during"]["hold"]),
                                  "recover_within": format_duration(AFTER),
                                  "observe": format_duration(AFTER)}
    return exp


def plan_verification(canvas: Canvas, patterns: list[str] | None = None) -> VerifyPlan:
    from faultlab.patterns.catalogue import catalogue

    names = patterns if patterns is not None else [e.name for e in catalogue()]
    found, unmapped = places(canvas)
    checks: list[Check] = []
    experiments: dict[tuple[str, str], dict[str, Any]] = {}
    for pattern in names:
        v = VERIFIERS.get(pattern)
        for place in found:
            if v is None:
                checks.append(Check(pattern, place, None, "no automated verification in "
                                    "faultlab yet (see the pattern's verification text)"))
                continue
            journey = canvas.journeys[place.journey]
            reason = v.applies(canvas, place, journey)
            if reason is not None:
                checks.append(Check(pattern, place, None, reason))
                continue
            checks.append(Check(pattern, place, v.condition))
            key = (place.id, v.condition)
            if key not in experiments:
                experiments[key] = _experiment(canvas, place, v.condition)
    return VerifyPlan(canvas, checks, experiments, unmapped)


def write_experiments(plan: VerifyPlan, out_dir: Path, canvas_file: str
                      ) -> dict[tuple[str, str], Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for (place, condition), exp in plan.experiments.items():
        path = out_dir / f"{exp['name']}.yaml"
        head = (f"# Generated by `faultlab patterns verify {canvas_file}`: the {condition} "
                f"condition on {place}.\n# Run: faultlab run THIS_FILE\n")
        path.write_text(head + yaml.safe_dump(exp, sort_keys=False, allow_unicode=True,
                                              width=96, default_flow_style=None))
        paths[(place, condition)] = path
    return paths


# --- judging a finished run --------------------------------------------------------------------

def _evidence(run_dir: Path, record: Any, place: Place) -> Evidence | None:
    from faultlab.run.observations import read_observations

    fault = next((f for f in record.faults if place.target in f.targets), None)
    if fault is None or fault.injected_at is None:
        return None
    end = fault.reverted_at if fault.reverted_at is not None else fault.injected_at + FAULT
    requests = read_observations(run_dir, place.target)
    # the after window runs to the run's last measured second, whatever reached the callee
    # then (a breaker that never closes again lets nothing through)
    measured = float(record.workload.seconds) if record.workload is not None else end
    last = max([end, measured, *(r.start for r in requests)])
    return Evidence(requests, Window(fault.injected_at, end),
                    before=Window(0.0, fault.injected_at), after=Window(end, last))


def judge(check: Check, canvas: Canvas, run_dir: Path) -> Result:
    """The verdict of one applicable check from its condition's finished run."""
    from faultlab.record import RecordError, RunRecord

    v = VERIFIERS[check.pattern]
    try:
        record = RunRecord.load(run_dir / "result.json")
    except (RecordError, OSError) as e:
        return Result(check, Verdict.INCONCLUSIVE, f"the run left no result: {e}",
                      run_dir=str(run_dir))
    evidence = _evidence(run_dir, record, check.place)
    if evidence is None and v.observed:
        return Result(check, Verdict.INCONCLUSIVE, f"the {check.condition} fault did not run "
                      f"({record.status.value}: {'; '.join(record.reasons[:1])})",
                      run_dir=str(run_dir))
    journey = canvas.journeys[check.place.journey]
    result = v.judge(Observed(check.place, journey, run_dir, record, evidence))
    verdict = {Status.VERIFIED: Verdict.VERIFIED, Status.BROKEN: Verdict.BROKEN,
               Status.INCONCLUSIVE: Verdict.INCONCLUSIVE}[result.status]
    return Result(check, verdict, result.summary, dict(result.signature), list(result.reasons),
                  str(run_dir))


def not_run(check: Check) -> Result:
    if check.condition is None:
        return Result(check, Verdict.NOT_APPLICABLE, check.reason)
    return Result(check, Verdict.INCONCLUSIVE, "its run did not happen (interrupted)")


def results_json(canvas_file: str, results: list[Result], unmapped: list[str]) -> str:
    return json.dumps({"canvas": canvas_file, "results": [r.to_json() for r in results],
                       "unmapped": unmapped}, indent=2) + "\n"
