"""OpenSLO documents as journeys' SLOs: import, merge into a canvas, located problems."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from faultlab.canvas.importers import ImportFileError, Text, import_openslo, merge_openslo
from faultlab.canvas.importers.openslo import LatencyUnit

from .conftest import DATA, import_error, loads_as_canvas

CHECKOUT = DATA / "checkout-slos.yaml"


def slo(name: str, objective: str, *, service: str = "web", metric: str = "ratioMetric",
        window: str = "28d", extra: str = "") -> str:
    return (f"apiVersion: openslo/v1\nkind: SLO\nmetadata:\n  name: {name}\n{extra}spec:\n"
            f"  service: {service}\n  indicator:\n    spec:\n      {metric}: {{}}\n"
            f"  timeWindow: [{{duration: {window}, isRolling: true}}]\n"
            f"  budgetingMethod: Occurrences\n  objectives:\n    - {objective}\n")


def one_journey_slo(text: str, unit: LatencyUnit = "ms") -> dict[str, object]:
    canvas = import_openslo(Text(text), latency_unit=unit).canvas()
    (journey,) = canvas.journeys.values()
    return journey.slo.model_dump(exclude_none=True)


def imported_error(text: str, name: str = "slos.yaml") -> ImportFileError:
    return import_error(import_openslo, text, name)


def test_checkout_slos_import_as_journeys(tmp_path: Path) -> None:
    imported = import_openslo(CHECKOUT)
    canvas = loads_as_canvas(imported, tmp_path)
    checkout, search = canvas.journeys["checkout"], canvas.journeys["search"]
    assert checkout.slo.availability == 0.999  # targetPercent 99.9, exactly
    assert checkout.slo.latency is not None and checkout.slo.latency.bounds() == [("p99", 0.3)]
    assert checkout.slo.window == 28 * 86400
    assert search.slo.availability == 0.995 and search.slo.window == 7 * 86400
    assert "# TODO: entry and rps — OpenSLO does not say" in imported.text
    assert any("rps 1/s are placeholders" in str(n) for n in imported.notes)


@pytest.mark.parametrize(("objective", "unit", "expect"), [
    ("{op: lte, value: 300, target: 0.99}", "ms", {"p99": 0.3}),
    ("{op: lt, value: 0.25, target: 0.95}", "s", {"p95": 0.25}),
    ("{op: lte, value: 1.5s, targetPercent: 50}", "ms", {"p50": 1.5}),
    ("{op: lte, value: 80, target: 0.999}", "ms", {"p999": 0.08}),
    ("{op: lte, value: 2000, target: 1}", "ms", {"max": 2.0}),
])
def test_a_threshold_objective_is_a_latency_bound(objective: str, unit: LatencyUnit,
                                                  expect: dict[str, float]) -> None:
    got = one_journey_slo(slo("lat", objective, metric="thresholdMetric"), unit)
    assert got["latency"] == {**expect, "successful_only": False}


def test_a_target_between_percentiles_is_the_next_stricter_with_a_note() -> None:
    imported = import_openslo(Text(slo("lat", "{op: lte, value: 100, target: 0.975}",
                                       metric="thresholdMetric")))
    (journey,) = imported.canvas().journeys.values()
    assert journey.slo.latency is not None and journey.slo.latency.p99 == 0.1
    assert any("taken as p99, the next stricter" in str(n) for n in imported.notes)


@pytest.mark.parametrize(("window", "seconds"), [
    ("28d", 28 * 86400), ("30d", 30 * 86400), ("1w", 7 * 86400), ("24h", 86400),
    ("90m", 5400), ("1M", 30 * 86400), ("1Q", 90 * 86400), ("1Y", 365 * 86400)])
def test_windows(window: str, seconds: int) -> None:
    assert one_journey_slo(slo("a", "{target: 0.99}", window=window))["window"] == seconds


def test_slos_of_one_service_that_do_not_fit_one_journey_are_a_journey_each() -> None:
    text = slo("a1", "{target: 0.99}") + "---\n" + slo("a2", "{target: 0.999}", window="7d")
    imported = import_openslo(Text(text))
    assert set(imported.canvas().journeys) == {"a1", "a2"}
    assert any("do not fit one journey" in str(n) for n in imported.notes)


def test_the_strictest_of_several_ratio_objectives() -> None:
    text = slo("a", "{target: 0.99}").replace("    - {target: 0.99}\n",
                                              "    - {target: 0.99}\n    - {target: 0.995}\n")
    assert one_journey_slo(text)["availability"] == 0.995


@pytest.mark.parametrize(("text", "says"), [
    (slo("a", "{target: 0.99}").replace("openslo/v1", "openslo/v1alpha"), "is not openslo/v1"),
    (slo("a", "{target: 0.99}").replace("kind: SLO", "kind: SLOO"), "did you mean 'SLO'"),
    (slo("a", "{target: 0.99, targetPercent: 99}"), "give target or targetPercent"),
    (slo("a", "{target: 1.5}"), "target 1.5 is not a number above 0 and at most 1"),
    (slo("a", "{target: 0.99}", window="4 weeks"), "not OpenSLO's shorthand"),
    (slo("a", "{target: 0.99}", window="2Y"), "longer than the canvas's longest"),
    (slo("a", "{op: lte, value: fast, target: 0.99}", metric="thresholdMetric"),
     "value 'fast' is not a latency"),
    (slo("a", "{target: 0.99}", metric="rawMetric"), "neither ratioMetric nor thresholdMetric"),
    (slo("a", "{target: 0.99}").replace("  indicator:\n    spec:\n      ratioMetric: {}\n",
                                        "  indicatorRef: nope\n"), "no SLI named 'nope'"),
    ("apiVersion: openslo/v1\nkind: Service\nmetadata: {name: web}\n", "no OpenSLO SLO"),
])
def test_problems(text: str, says: str) -> None:
    assert says in str(imported_error(text))


CANVAS = """\
# the shop, by hand
version: 1
name: shop
services:
  web: {}
  checkout: {instances: 2}  # two
journeys:
  checkout:
    entry: web   # users come here
    rps: ${rps}
    slo:
      latency: {p90: 1s}
      window: 720h
  # browsing is most of the traffic
  browse:
    entry: web
    rps: 50/s  # fifty
  search: {entry: web, rps: 1/s}
vars:
  rps: 5/s
"""


def test_merge_sets_the_slos_of_matching_journeys_and_keeps_the_rest_of_the_text(
        tmp_path: Path) -> None:
    browse = slo("browse-latency", "{op: lte, value: 250, target: 0.95}", service="browse",
                 metric="thresholdMetric")
    merged = merge_openslo(Text(CANVAS, "canvas.yaml"), [CHECKOUT, Text(browse, "b.yaml")])
    canvas = loads_as_canvas(merged, tmp_path)
    checkout = canvas.journeys["checkout"].slo
    assert checkout.availability == 0.999 and checkout.window == 28 * 86400
    assert checkout.latency is not None and checkout.latency.bounds() == [("p99", 0.3)]
    browse_slo = canvas.journeys["browse"].slo
    assert browse_slo.latency is not None and browse_slo.latency.p95 == 0.25
    assert canvas.journeys["search"].slo.availability == 0.995
    for kept in ("# the shop, by hand", "# users come here", "rps: ${rps}", "# fifty",
                 "# browsing is most of the traffic", "checkout: {instances: 2}  # two"):
        assert kept in merged.text


def test_merge_notes_slos_of_no_journey_of_the_canvas() -> None:
    other = slo("pay", "{target: 0.99}", service="payments")
    merged = merge_openslo(Text(CANVAS, "canvas.yaml"), Text(other))
    assert merged.text == CANVAS
    assert any("the canvas has no journey 'payments'" in str(n) for n in merged.notes)


def test_merge_into_a_canvas_without_journeys_is_a_located_problem() -> None:
    with pytest.raises(ImportFileError, match=r"canvas\.yaml:1:1: .*no journeys"):
        merge_openslo(Text("version: 1\nname: x\n", "canvas.yaml"), CHECKOUT)


def test_merge_of_a_journey_whose_last_value_is_a_block_scalar() -> None:
    canvas = ("name: x\nservices: {web: {}}\njourneys:\n  search:\n    entry: web\n"
              "    rps: 1/s\n    steps: []\n    timeout: |-\n      1s\nzones: {}\n")
    merged = merge_openslo(Text(canvas, "c.yaml"), CHECKOUT)
    assert yaml.safe_load(merged.text)["journeys"]["search"]["slo"] == {
        "availability": 0.995, "window": "168h"}
