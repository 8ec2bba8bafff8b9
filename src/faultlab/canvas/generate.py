"""From a canvas's findings to experiments that check them in the running system.

Each generator is registered for the rule ids it answers (a new rule's experiment is one
more registration). It turns one finding into at most one experiment: a fault on the part
the finding is about, the journey's SLOs as the hypothesis, and a comment that says what
the verdict proves. Experiments are plain experiment files (they validate and run as they
are), ranked by the finding's weight (traffic x criticality), and need the canvas to map
its parts to the running system (``target:`` of nodes and dependencies, a journey's
``request:``, ``system:``); a finding whose parts are not mapped is skipped, with the reason.

What a verdict means depends on the finding: for a single point of failure the hypothesis
"the journey holds while X is down" is expected to be VIOLATED (the finding is confirmed);
for a soft dependency with a fallback it is expected to HOLD (the fallback works).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from faultlab.canvas.findings import Finding, Severity
from faultlab.canvas.model import Canvas, Dependency, Journey
from faultlab.experiment.targets import Target
from faultlab.units import format_duration

__all__ = ["GENERATORS", "Generated", "Skipped", "generate", "journey_experiment",
           "write_experiments"]

#: how long each generated fault stays, and the steady state before it
FAULT_SECONDS = 10.0
BEFORE_SECONDS = 3.0


@dataclass(frozen=True)
class Generated:
    name: str  # file stem
    finding: Finding
    expect: str  # "violated" (the finding is confirmed) or "held" (the pattern works)
    proves: str  # one sentence: what the verdict shows
    experiment: dict[str, Any]


@dataclass(frozen=True)
class Skipped:
    finding: Finding
    reason: str


@dataclass
class _Plan:
    canvas: Canvas
    out: list[Generated | Skipped] = field(default_factory=list)
    names: set[str] = field(default_factory=set)


Generator = Callable[[Canvas, Finding], Generated | Skipped | None]
GENERATORS: dict[str, Generator] = {}


def generator(*rules: str) -> Callable[[Generator], Generator]:
    def register(fn: Generator) -> Generator:
        for rule in rules:
            GENERATORS[rule] = fn
        return fn
    return register


def _edge(canvas: Canvas, subject: str) -> Dependency | None:
    caller, sep, callee = subject.partition("->")
    return canvas.dependency(caller.strip(), callee.strip()) if sep else None


def _journey(canvas: Canvas, finding: Finding) -> tuple[str, Journey] | None:
    for name in finding.journeys:
        journey = canvas.journeys.get(name)
        if journey is not None and journey.request is not None:
            return name, journey
    return None


def _into(canvas: Canvas, node: str) -> Dependency | None:
    """A mapped dependency into ``node``: where its unavailability is best simulated (the
    callers see it refuse connections), reverted by the proxy itself."""
    return next((d for d in canvas.dependencies if d.callee == node
                 and d.target is not None and d.target.proxy is not None), None)


def _target_json(target: Target) -> dict[str, Any]:
    return dict(target.model_dump(mode="json", exclude_none=True))


def journey_experiment(canvas: Canvas, name: str, description: str, journey_name: str,
                journey: Journey, targets: dict[str, Target],
                faults: list[dict[str, Any]]) -> dict[str, Any]:
    assert journey.request is not None
    slos: list[dict[str, Any]] = []
    hold: list[str] = []
    window = "2s"
    if journey.slo.availability is not None:
        slos.append({"name": "served", "success_ratio": journey.slo.availability,
                     "window": window})
        hold.append("served")
    if journey.slo.latency is not None:
        slos.append({"name": "fast", "latency": journey.slo.latency.model_dump(
            mode="json", exclude_none=True, exclude_defaults=True), "window": window})
        hold.append("fast")
    http: dict[str, Any] = {"url": journey.request.url, "rate": f"{journey.rps:g}/s",
                            "timeout": format_duration(journey.timeout or 2.0)}
    if journey.request.method != "GET":
        http["method"] = journey.request.method
    if journey.request.expect_status:
        http["expect_status"] = list(journey.request.expect_status)
    exp: dict[str, Any] = {"version": 1, "name": name, "description": description}
    if canvas.system is not None:
        exp["system"] = canvas.system.model_dump(mode="json", exclude_none=True,
                                                 exclude_defaults=True)
    # every mapped call path stays in place (its proxy is part of the running system), and
    # the fault's own target is among them
    paths = {f"{d.caller}-to-{d.callee}": d.target for d in canvas.dependencies
             if d.target is not None and d.target.proxy is not None}
    exp["targets"] = {n: _target_json(t) for n, t in {**paths, **targets}.items()}
    exp["workload"] = {"http": http}
    exp["slos"] = slos
    exp["hypothesis"] = {"before": {"hold": list(hold),
                                    "for": format_duration(BEFORE_SECONDS)},
                         "during": {"hold": list(hold)}}
    exp["faults"] = faults
    return exp


def _down_node(canvas: Canvas, finding: Finding, node: str, expect: str, proves: str,
               stem: str) -> Generated | Skipped:
    found = _journey(canvas, finding)
    if found is None:
        return Skipped(finding, "no journey of it has a request: (the URL users call)")
    journey_name, journey = found
    edge = _into(canvas, node)
    spec = canvas.node(node)
    if edge is not None and edge.target is not None:
        targets = {f"{edge.caller}-to-{node}": edge.target}
        fault = {"kind": "down", "target": f"{edge.caller}-to-{node}",
                 "start": "0s", "duration": format_duration(FAULT_SECONDS)}
        how = f"every connection to {node} is refused (faultlab's proxy on {edge.id})"
    elif spec is not None and spec.target is not None and spec.target.process is not None \
            and spec.target.process.service is not None:
        targets = {node: spec.target}
        fault = {"kind": "restart", "target": node, "start": "0s",
                 "duration": format_duration(FAULT_SECONDS)}
        how = f"{node} is killed and started again {format_duration(FAULT_SECONDS)} later"
    else:
        return Skipped(finding, f"{node} is not mapped: give it a target: (a process "
                       "service) or map a dependency into it to a proxy")
    exp = journey_experiment(canvas, stem, f"{finding.message} ({how})", journey_name, journey,
                      targets, [fault])
    return Generated(stem, finding, expect, proves, exp)


@generator("spof.node")
def _spof(canvas: Canvas, finding: Finding) -> Generated | Skipped:
    node = finding.subject
    journeys = ", ".join(finding.journeys)
    return _down_node(canvas, finding, node, "violated",
                      f"VIOLATED confirms that {node} is a single point of failure of "
                      f"{journeys}; HELD means the system has redundancy the canvas "
                      "does not show", f"spof-{node}")


@generator("fallback.soft")
def _fallback(canvas: Canvas, finding: Finding) -> Generated | Skipped:
    edge = _edge(canvas, finding.subject)
    if edge is None:
        return Skipped(finding, f"no dependency {finding.subject}")
    return _down_node(canvas, finding, edge.callee, "held",
                      f"HELD shows that {edge.caller}'s fallback carries the journey while "
                      f"{edge.callee} is down; VIOLATED means the fallback does not work",
                      f"fallback-{edge.caller}-{edge.callee}")


@generator("timeouts.missing", "timeouts.above-slo", "timeouts.budget")
def _slow(canvas: Canvas, finding: Finding) -> Generated | Skipped:
    edge = _edge(canvas, finding.subject)
    found = _journey(canvas, finding)
    if edge is None or edge.target is None or edge.target.proxy is None:
        return Skipped(finding, f"{finding.subject} is not mapped to a proxy target")
    if found is None:
        return Skipped(finding, "no journey of it has a request: (the URL users call)")
    journey_name, journey = found
    bound = journey.slo.latency.bounds()[0][1] if journey.slo.latency is not None else 1.0
    delay = edge.timeout * 0.9 if (finding.rule == "timeouts.budget" and edge.timeout) \
        else max(2 * bound, 0.5)
    name = f"slow-{edge.caller}-{edge.callee}"
    targets = {f"{edge.caller}-to-{edge.callee}": edge.target}
    fault = {"kind": "latency", "target": f"{edge.caller}-to-{edge.callee}",
             "delay": format_duration(delay), "start": "0s",
             "duration": format_duration(FAULT_SECONDS)}
    exp = journey_experiment(canvas, name, f"{finding.message} ({edge.callee} answers "
                      f"{format_duration(delay)} late)", journey_name, journey, targets,
                      [fault])
    return Generated(name, finding, "violated",
                     f"VIOLATED confirms that a slow {edge.callee} reaches the users of "
                     f"{journey_name}; HELD means a timeout the canvas does not show "
                     "protects them", exp)


@generator("pools.exhaustion")
def _hang(canvas: Canvas, finding: Finding) -> Generated | Skipped | None:
    if finding.severity < Severity.WARNING:
        return None  # no pool to exhaust: the missing timeout's experiment covers it
    edge = _edge(canvas, finding.subject)
    found = _journey(canvas, finding)
    if edge is None or edge.target is None or edge.target.proxy is None:
        return Skipped(finding, f"{finding.subject} is not mapped to a proxy target")
    if found is None:
        return Skipped(finding, "no journey of it has a request: (the URL users call)")
    journey_name, journey = found
    name = f"hang-{edge.caller}-{edge.callee}"
    targets = {f"{edge.caller}-to-{edge.callee}": edge.target}
    # timeout 0: the proxy stops all data and holds the connection until the fault ends
    fault = {"kind": "timeout", "target": f"{edge.caller}-to-{edge.callee}", "after": "0s",
             "start": "0s", "duration": format_duration(FAULT_SECONDS)}
    exp = journey_experiment(canvas, name, f"{finding.message} ({edge.callee} hangs)",
                      journey_name, journey, targets, [fault])
    return Generated(name, finding, "violated",
                     f"VIOLATED confirms that a hung {edge.callee} exhausts {edge.caller}'s "
                     f"pool and fails {journey_name}; HELD means something the canvas does "
                     "not show (a breaker, a shorter timeout) frees the pool", exp)


@generator("retries.amplification")
def _amplified(canvas: Canvas, finding: Finding) -> Generated | Skipped:
    edge = _edge(canvas, finding.subject)
    if edge is None:
        return Skipped(finding, f"no dependency {finding.subject}")
    bound = finding.numbers.get("amplification")
    made = _down_node(canvas, finding, edge.callee, "violated",
                      f"VIOLATED shows the journey fails while {edge.callee} is down, under "
                      f"retries the analysis bounds at {bound}x per request (counting the "
                      "attempts that reach it needs the proxy's per-request observations, "
                      "not yet recorded)",
                      f"retries-{edge.caller}-{edge.callee}")
    return made


def generate(canvas: Canvas, findings: list[Finding]) -> list[Generated | Skipped]:
    """One experiment per finding a generator answers, highest weight first; at most one
    per experiment name (two findings about one part give one experiment)."""
    plan = _Plan(canvas)
    for finding in sorted(findings, key=lambda f: (-f.weight, f.rule, f.subject)):
        fn = GENERATORS.get(finding.rule)
        if fn is None:
            continue
        made = fn(canvas, finding)
        if made is None:
            continue
        if isinstance(made, Generated):
            if made.name in plan.names:
                continue
            plan.names.add(made.name)
        plan.out.append(made)
    return plan.out


def render(item: Generated, canvas_file: str, rank: int) -> str:
    f = item.finding
    head = [f"# Generated by `faultlab canvas generate {canvas_file}` (rank {rank}).",
            f"# Finding {f.rule} on {f.subject}: {f.message}",
            f"# Expect {item.expect.upper()}: {item.proves}.",
            "# Run: faultlab run THIS_FILE"]
    body = yaml.safe_dump(item.experiment, sort_keys=False, allow_unicode=True, width=96,
                          default_flow_style=None)
    return "\n".join(head) + "\n" + body


def write_experiments(canvas: Canvas, findings: list[Finding], out_dir: Path,
                      canvas_file: str) -> list[tuple[Path, Generated] | Skipped]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[tuple[Path, Generated] | Skipped] = []
    rank = 0
    for item in generate(canvas, findings):
        if isinstance(item, Skipped):
            written.append(item)
            continue
        rank += 1
        path = out_dir / f"{rank:02d}-{item.name}.yaml"
        path.write_text(render(item, canvas_file, rank))
        written.append((path, item))
    return written
