"""Journeys' SLOs exported as OpenSLO v1, and imported back to the same objectives."""

from __future__ import annotations

import math
import re
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from faultlab.canvas.export import export_openslo, window_shorthand
from faultlab.canvas.importers import Text, import_openslo
from faultlab.canvas.model import Canvas

from .conftest import DATA

RFC1123 = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


def canvas_of(journeys: dict[str, dict[str, Any]]) -> Canvas:
    return Canvas.model_validate({"name": "Shop_1", "services": {"web": {}},
                                  "journeys": journeys})


def round_trip(canvas: Canvas) -> Canvas:
    return import_openslo(Text(export_openslo(canvas), "exported.yaml")).canvas()


def test_the_export_is_openslo_v1() -> None:
    canvas = canvas_of({"Check_out": {"entry": "web", "rps": "50/s", "slo": {
        "availability": 0.999, "latency": {"p99": "300ms"}, "window": "672h"}}})
    docs = list(yaml.safe_load_all(export_openslo(canvas)))
    assert [d["kind"] for d in docs] == ["Service", "SLO", "SLO"]
    assert all(d["apiVersion"] == "openslo/v1" and RFC1123.fullmatch(d["metadata"]["name"])
               for d in docs)
    service, availability, latency = docs
    assert service["metadata"]["name"] == "shop-1"
    assert availability["spec"]["service"] == latency["spec"]["service"] == "shop-1"
    assert availability["spec"]["objectives"] == [{"displayName": "Check_out succeeds",
                                                   "target": 0.999}]
    assert set(availability["spec"]["indicator"]["spec"]["ratioMetric"]) == {
        "counter", "good", "total"}
    assert latency["spec"]["objectives"][0] | {"displayName": ""} == {
        "displayName": "", "op": "lte", "value": 300, "target": 0.99}
    assert availability["spec"]["timeWindow"] == [{"duration": "28d", "isRolling": True}]
    assert availability["spec"]["budgetingMethod"] == "Occurrences"


def test_the_checkout_slos_survive_import_export_import() -> None:
    first = import_openslo(DATA / "checkout-slos.yaml").canvas()
    again = round_trip(first)
    assert again.journeys == first.journeys


def test_a_journey_without_slos_exports_nothing() -> None:
    canvas = canvas_of({"browse": {"entry": "web", "rps": "1/s"}})
    assert [d["kind"] for d in yaml.safe_load_all(export_openslo(canvas))] == ["Service"]


def test_windows_in_openslo_shorthand() -> None:
    assert [window_shorthand(s) for s in (28 * 86400, 36 * 3600, 90 * 60, 61)] == [
        "28d", "36h", "90m", "2m"]


names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,20}", fullmatch=True)
ratios = st.decimals(min_value="0.5", max_value="1", places=5).filter(lambda d: d > 0)
slos = st.fixed_dictionaries({}, optional={
    "availability": ratios.map(float),
    "latency": st.builds(lambda k, ms: {k: f"{ms}ms"},
                         st.sampled_from(["p50", "p90", "p95", "p99", "p999", "max"]),
                         st.integers(1, 120_000)),
    "window": st.integers(1, 366 * 24 * 60).map(lambda m: f"{m}m"),
})
journeys = st.dictionaries(names, st.builds(
    lambda rps, slo: {"entry": "web", "rps": f"{rps}/s", "slo": slo},
    st.integers(1, 10_000), slos), min_size=1, max_size=5)


@settings(max_examples=150, deadline=None)
@given(journeys)
def test_export_then_import_gives_the_same_objectives(wanted: dict[str, Any]) -> None:
    canvas = canvas_of(wanted)
    if not any(j.slo.availability or j.slo.latency for j in canvas.journeys.values()):
        return
    again = round_trip(canvas)
    with_slos = {n: j for n, j in canvas.journeys.items() if j.slo.availability or j.slo.latency}
    assert set(again.journeys) == set(with_slos)
    for name, journey in with_slos.items():
        back = again.journeys[name]
        assert (back.slo.availability, back.slo.window) == (journey.slo.availability,
                                                            journey.slo.window)
        # "21115ms" reads as 21115 * 0.001 s, which no decimal spelling reads back exactly
        assert (back.slo.latency is None) == (journey.slo.latency is None)
        if back.slo.latency is not None and journey.slo.latency is not None:
            (key, bound), (key_back, bound_back) = (journey.slo.latency.bounds()[0],
                                                    back.slo.latency.bounds()[0])
            assert key_back == key and math.isclose(bound_back, bound, rel_tol=1e-12)
        assert (back.entry, back.rps) == (journey.entry, journey.rps)
