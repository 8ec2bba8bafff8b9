"""Properties of the analysis over random canvases: the exact availability equals a brute
force over every instance, zone and fallback outcome; more replicas and softer calls never
lower it; the analysis is deterministic; findings' numbers follow from the model."""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faultlab.canvas.analysis import analyze
from faultlab.canvas.analysis.retries import layer_factor
from faultlab.canvas.analysis.timeouts import call_worst_case
from faultlab.canvas.model import Canvas

SETTINGS = settings(max_examples=60, deadline=None)


@st.composite
def canvases(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(2, 4))
    zones = {f"z{i}": {"availability": draw(st.sampled_from([0.9, 0.99, 1.0]))}
             for i in range(draw(st.integers(0, 2)))}
    services: dict[str, Any] = {}
    datastores: dict[str, Any] = {}
    for i in range(n):
        node: dict[str, Any] = {"availability": draw(st.sampled_from([0.5, 0.9, 0.99]))}
        if zones:
            node["zones"] = draw(st.lists(st.sampled_from(sorted(zones)), unique=True,
                                          max_size=len(zones)))
        if i > 0 and draw(st.booleans()):
            node["replicas"] = draw(st.integers(1, 3))
            datastores[f"s{i}"] = node
        else:
            node["instances"] = draw(st.integers(1, 2))
            services[f"s{i}"] = node
    deps = []
    for i, j in itertools.combinations(range(n), 2):
        if draw(st.booleans()):
            dep: dict[str, Any] = {"from": f"s{i}", "to": f"s{j}",
                                   "attempts": draw(st.integers(1, 3)),
                                   "timeout": draw(st.sampled_from([None, "100ms", "500ms"]))}
            if draw(st.booleans()):
                dep |= {"kind": "soft", "fallback": draw(st.sampled_from([0.5, 1.0]))}
            if draw(st.booleans()):
                dep["retry_budget"] = 0.1
            if f"s{i}" in datastores:
                continue
            deps.append({k: v for k, v in dep.items() if v is not None})
    return {"name": "random", "zones": zones, "services": services,
            "datastores": datastores, "dependencies": deps,
            "journeys": {"j": {"entry": "s0", "rps": "10/s", "slo": {"availability": 0.999}}}}


def brute_force(c: Canvas) -> float:
    """P(the journey succeeds) by enumerating every zone, instance and fallback outcome."""
    nodes = c.nodes()
    calls = c.calls("j")
    zones = sorted(c.zones)
    instances = [(name, i) for name, node in nodes.items() for i in range(node.count)]
    soft = [d for d in calls if d.kind == "soft"]
    total = 0.0
    for zs in itertools.product((True, False), repeat=len(zones)):
        zone_up = dict(zip(zones, zs, strict=True))
        pz = math.prod(c.zones[z].availability if up else 1 - c.zones[z].availability
                       for z, up in zone_up.items())
        for ins in itertools.product((True, False), repeat=len(instances)):
            pi = 1.0
            count: dict[str, int] = dict.fromkeys(nodes, 0)
            for (name, i), up in zip(instances, ins, strict=True):
                node = nodes[name]
                a = node.instance_availability
                pi *= a if up else 1 - a
                zone = node.instance_zones()[i]
                if up and (zone is None or zone_up[zone]):
                    count[name] += 1
            for fbs in itertools.product((True, False), repeat=len(soft)):
                pf = math.prod(d.fallback_success if ok else 1 - d.fallback_success
                               for d, ok in zip(soft, fbs, strict=True))
                fallback = {d.id: ok for d, ok in zip(soft, fbs, strict=True)}
                served: dict[str, bool] = {}

                def serve(x: str, served: dict[str, bool] = served,
                          fallback: dict[str, bool] = fallback,
                          count: dict[str, int] = count) -> bool:
                    if x not in served:
                        served[x] = count[x] >= nodes[x].needed and all(
                            serve(d.callee) or (d.kind == "soft" and fallback[d.id])
                            for d in calls if d.caller == x)
                    return served[x]

                if serve("s0"):
                    total += pz * pi * pf
    return total


@SETTINGS
@given(canvases())
def test_availability_is_exact(data: dict[str, Any]) -> None:
    c = Canvas.model_validate(data)
    j = analyze(c).journeys["j"]
    assert j.exact
    assert j.availability == pytest.approx(brute_force(c), abs=1e-9)


@SETTINGS
@given(canvases(), st.data())
def test_another_instance_never_lowers_availability(data: dict[str, Any],
                                                    draw: st.DataObject) -> None:
    before = analyze(Canvas.model_validate(data)).journeys["j"].availability
    name = draw.draw(st.sampled_from(sorted(data["services"])))
    data["services"][name]["instances"] += 1
    after = analyze(Canvas.model_validate(data)).journeys["j"].availability
    assert after >= before - 1e-12


@SETTINGS
@given(canvases(), st.data())
def test_a_soft_call_never_lowers_availability(data: dict[str, Any],
                                               draw: st.DataObject) -> None:
    hard = [d for d in data["dependencies"] if d.get("kind", "hard") == "hard"]
    if not hard:
        return
    before = analyze(Canvas.model_validate(data)).journeys["j"].availability
    dep = draw.draw(st.sampled_from(hard))
    dep |= {"kind": "soft", "fallback": draw.draw(st.sampled_from([0.01, 0.5, 1.0]))}
    after = analyze(Canvas.model_validate(data)).journeys["j"].availability
    assert after >= before - 1e-12


@SETTINGS
@given(canvases())
def test_the_analysis_is_deterministic(data: dict[str, Any]) -> None:
    c = Canvas.model_validate(data)
    assert analyze(c).to_json() == analyze(Canvas.model_validate(data)).to_json()


@SETTINGS
@given(canvases())
def test_numbers_follow_from_the_model(data: dict[str, Any]) -> None:
    c = Canvas.model_validate(data)
    result = analyze(c, )
    for f in result.findings:
        if f.rule == "retries.amplification":
            path = f.numbers["path"]
            deps = [c.dependency(a, b) for a, b in itertools.pairwise(path)]
            factors = [layer_factor(d.attempts, d.retry_budget) for d in deps if d]
            assert f.numbers["amplification"] == pytest.approx(
                math.prod(factors[len(factors) - len(f.numbers["factors"]):]))
        elif f.rule == "timeouts.budget" and f.subject != "j":
            callee = c.dependency(*f.subject.split("->"))
            assert callee is not None
            worst = math.fsum(call_worst_case(d.attempts, d.timeout, d.waits(), d.deadline)
                              for d in c.calls("j") if d.caller == callee.callee)
            assert f.numbers["callee_worst_case"] == pytest.approx(worst)
        elif f.rule == "availability.slo-unreachable":
            assert f.numbers["availability"] == pytest.approx(brute_force(c), abs=1e-9)
        elif f.rule == "spof.node":
            journey = result.journeys["j"]
            assert f.subject in journey.spofs
            assert c.nodes()[f.subject].count - 1 < c.nodes()[f.subject].needed
