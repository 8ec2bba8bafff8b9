"""OpenSLO v1 documents as an experiment's SLOs (``slos: [{openslo: FILE}]``), and back.

The documents are written here in the shapes the OpenSLO specification and its examples use
(an SLO with an inline threshold indicator on a source of ``type: Any`` with no spec, a
ratio over ``good``/``total`` queries budgeted by timeslices, an SLO naming an SLI and a
Prometheus DataSource, ``bad``/``total`` counters). Loading is the experiment loader's, so
every refusal is one located line. A round trip of faultlab's own SLOs through OpenSLO
gives them back equal. The run against a real Prometheus is in
tests/integration/test_prometheus.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faultlab.experiment import ExperimentError, load_experiment
from faultlab.slo.openslo import export_openslo
from faultlab.workload.probe import ProbeWorkload

THRESHOLD_ANY = """
apiVersion: openslo/v1
kind: SLO
metadata: {name: search-slo, displayName: Searching time}
spec:
  description: A search takes under half a second.
  service: web-shop
  indicator:
    metadata: {name: search-latency}
    spec:
      thresholdMetric:
        metricSource:
          type: Any
          spec:
  timeWindow:
    - {duration: 2w, isRolling: true}
  budgetingMethod: Occurrences
  objectives:
    - {displayName: Good experience, op: lt, value: 500, target: 0.99}
"""

RATIO_TIMESLICES = """
apiVersion: openslo/v1
kind: SLO
metadata: {name: main-page}
spec:
  service: web-shop
  indicator:
    metadata: {name: response-code}
    spec:
      ratioMetric:
        good: {metricSource: {type: Any, spec: {query: Any}}}
        total: {metricSource: {type: Any, spec: {query: Any}}}
  timeWindow:
    - {duration: 2w, isRolling: true}
  budgetingMethod: RatioTimeslices
  objectives:
    - {displayName: Good, op: gt, timeSliceWindow: 1m, target: 0.99}
"""

CALENDAR_TWO_OBJECTIVES = """
apiVersion: openslo/v1
kind: SLO
metadata: {name: web-up, displayName: Availability as the contract states it}
spec:
  service: web-availability
  indicator:
    metadata: {name: web-up}
    spec:
      ratioMetric:
        good: {metricSource: {type: Any, spec: {query: Any}}}
        total: {metricSource: {type: Any, spec: {query: Any}}}
  timeWindow:
    - duration: 1w
      isRolling: false
      calendar: {startTime: "2022-01-01 12:00:00", timeZone: America/New_York}
  budgetingMethod: Timeslices
  objectives:
    - {displayName: Internal, op: gt, target: 0.995, timeSliceTarget: 0.99,
       timeSliceWindow: 1m}
    - {displayName: Contract, target: 0.99, timeSliceTarget: 0.99, timeSliceWindow: 1m}
  alertPolicies:
"""

PROMETHEUS = """
apiVersion: openslo/v1
kind: DataSource
metadata: {name: prom}
spec:
  type: Prometheus
  connectionDetails: {url: "http://127.0.0.1:9090"}
---
apiVersion: openslo/v1
kind: SLI
metadata: {name: errors}
spec:
  ratioMetric:
    counter: true
    bad:
      metricSource:
        metricSourceRef: prom
        type: Prometheus
        spec: {query: 'http_requests_total{code=~"5.."}'}
    total:
      metricSource:
        metricSourceRef: prom
        type: Prometheus
        spec: {query: http_requests_total}
---
apiVersion: openslo/v1
kind: SLO
metadata: {name: availability}
spec:
  service: inventory
  indicatorRef: errors
  timeWindow: [{duration: 28d, isRolling: true}]
  budgetingMethod: Occurrences
  objectives:
    - {target: 0.999}
    - {targetPercent: 99}
---
apiVersion: openslo/v1
kind: SLO
metadata: {name: slow}
spec:
  service: inventory
  indicator:
    metadata: {name: p99}
    spec:
      thresholdMetric:
        metricSource:
          metricSourceRef: prom
          spec:
            query: histogram_quantile(0.99, sum by (le) (rate(latency_bucket[30s])))
  objectives:
    - {op: lte, value: 0.3, target: 0.99}
"""

EXPERIMENT = """
name: from-openslo
workload: {{http: {{url: "http://127.0.0.1:1/", rate: 10/s}}}}
slos:
  - {{name: own, workload: http, success_ratio: 95%}}
  - openslo: {files}
{options}
"""


def write(tmp: Path, docs: dict[str, str], options: str = "") -> Path:
    for name, text in docs.items():
        (tmp / name).write_text(text)
    path = tmp / "exp.yaml"
    path.write_text(EXPERIMENT.format(files=json.dumps(list(docs)), options=options))
    return path


def slos_of(path: Path) -> dict[str, dict[str, Any]]:
    exp = load_experiment(path).experiment
    return {s.name: s.model_dump(mode="json", exclude_none=True) for s in exp.slos}


def test_sources_faultlab_cannot_ask_are_judged_on_its_own_load(tmp_path: Path) -> None:
    path = write(tmp_path, {"search.yaml": THRESHOLD_ANY, "main.yaml": RATIO_TIMESLICES})
    loaded = load_experiment(path)
    slos = {s.name: s for s in loaded.experiment.slos}
    assert set(slos) == {"own", "search-slo", "main-page"}
    search, main = slos["search-slo"], slos["main-page"]
    assert search.latency is not None and search.latency.p99 == pytest.approx(0.5)
    assert search.budget is not None and search.budget.period == 14 * 86400
    assert main.success_ratio == pytest.approx(0.99)
    assert main.budget is not None and main.budget.period == 14 * 86400
    assert loaded.experiment.slo_workload(main) == "http"
    # what faultlab judges differently is said, as a warning at the entry
    assert any("RatioTimeslices" in w.message for w in loaded.warnings), loaded.warnings


def test_a_calendar_window_with_two_objectives_is_two_slos_and_says_so(
        tmp_path: Path) -> None:
    path = write(tmp_path, {"web.yaml": CALENDAR_TWO_OBJECTIVES})
    loaded = load_experiment(path)
    slos = {s.name: s for s in loaded.experiment.slos}
    assert slos["web-up"].success_ratio == pytest.approx(0.995)
    assert slos["web-up-2"].success_ratio == pytest.approx(0.99)
    assert all(s.budget is not None and s.budget.period == 7 * 86400
               for n, s in slos.items() if n != "own")
    said = " ".join(w.message for w in loaded.warnings)
    assert "Timeslices" in said and "calendar" in said, said


def test_prometheus_sources_become_probes_that_ask_the_datasource(tmp_path: Path) -> None:
    path = write(tmp_path, {"prom.yaml": PROMETHEUS}, "    window: 3s\n    range: 3s")
    exp = load_experiment(path).experiment
    slos = {s.name: s for s in exp.slos}
    assert set(slos) == {"own", "availability", "availability-2", "slow"}
    probes = {n: w for n, w in exp.all_workloads().items() if isinstance(w, ProbeWorkload)}
    assert set(probes) == {"openslo-availability", "openslo-availability-2", "openslo-slow"}
    first = probes["openslo-availability"].prometheus
    assert first is not None and first.url == "http://127.0.0.1:9090"
    assert first.query == ('((sum(rate(http_requests_total{code=~"5.."}[3s]))) or vector(0))'
                           " / (sum(rate(http_requests_total[3s])))")
    assert first.below == pytest.approx(0.001) and first.above is None
    second = probes["openslo-availability-2"].prometheus
    assert second is not None and second.below == pytest.approx(0.01)
    slow = probes["openslo-slow"].prometheus
    assert slow is not None and slow.query.startswith("histogram_quantile(0.99")
    assert slow.below == pytest.approx(0.3)
    avail = slos["availability"]
    assert avail.success_ratio == 1.0 and exp.slo_workload(avail) == "openslo-availability"
    assert avail.window == 3 and avail.budget is None  # polls are not the users' requests


@pytest.mark.parametrize(("docs", "options", "message"), [
    ({"a.yaml": PROMETHEUS.replace("apiVersion: openslo/v1\nkind: SLI",
                                   "apiVersion: openslo/v2\nkind: SLI")},
     "", "apiVersion 'openslo/v2' is not openslo/v1"),
    ({"a.yaml": THRESHOLD_ANY}, "    measure: prometheus", "no server is known"),
    ({"a.yaml": THRESHOLD_ANY}, "    measure: everywhere", "measure 'everywhere'"),
    ({"a.yaml": THRESHOLD_ANY}, "    colour: red", "unknown key 'colour'"),
    ({"a.yaml": "apiVersion: openslo/v1\nkind: Service\nmetadata: {name: s}\nspec: {}\n"},
     "", "no kind: SLO document"),
    ({"a.yaml": THRESHOLD_ANY.replace("op: lt", "op: gt")}, "", "bounds no latency"),
    ({"a.yaml": "- [unclosed"}, "", "a.yaml"),
])
def test_what_cannot_be_read_is_one_located_line(tmp_path: Path, docs: dict[str, str],
                                                 options: str, message: str) -> None:
    path = write(tmp_path, docs, options)
    with pytest.raises(ExperimentError) as e:
        load_experiment(path)
    text = str(e.value)
    assert message in text, text
    assert f"{path}:" in text  # at the experiment's openslo entry
    assert "Traceback" not in text


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text(EXPERIMENT.format(files='"nowhere.yaml"', options=""))
    with pytest.raises(ExperimentError, match=r"'.*nowhere\.yaml' not found"):
        load_experiment(path)


OWN = """
name: own-slos
workloads:
  load: {kind: http, url: "http://127.0.0.1:1/", rate: 10/s}
  other: {kind: http, url: "http://127.0.0.1:2/", rate: 5/s}
slos:
  - {name: avail, workload: load, success_ratio: 99.9%, window: 3s,
     budget: {period: 30d, max_spend: 2%}}
  - {name: fast, workload: load, latency: {p99: 250ms, successful_only: true}, window: 2s,
     budget: {period: 7d}}
  - {name: tail, workload: other, latency: {p999: 1s}}
  - {name: worst, workload: other, latency: {max: 2s}}
"""


def test_faultlabs_slos_round_trip_through_openslo(tmp_path: Path) -> None:
    (tmp_path / "own.yaml").write_text(OWN)
    original = slos_of(tmp_path / "own.yaml")
    exported = export_openslo(load_experiment(tmp_path / "own.yaml").experiment)
    docs = list(yaml.safe_load_all(exported))
    assert [d["kind"] for d in docs] == ["SLO"] * 4 and all(
        d["apiVersion"] == "openslo/v1" for d in docs)
    assert docs[0]["spec"]["timeWindow"] == [{"duration": "30d", "isRolling": True}]
    good = docs[0]["spec"]["indicator"]["spec"]["ratioMetric"]["good"]
    assert "faultlab_workload_requests_total" in good["metricSource"]["spec"]["query"]
    (tmp_path / "exported.yaml").write_text(exported)
    back = tmp_path / "back.yaml"
    back.write_text(OWN.split("slos:")[0] + "slos:\n  - {openslo: exported.yaml, "
                    "measure: workload}\n")
    assert slos_of(back) == original


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["spec", "indicator", "ratioMetric", "thresholdMetric", "good", "bad",
                         "total", "objectives", "target", "op", "value", "timeWindow",
                         "metricSource", "query", "duration", "counter"]), inner, max_size=4),
    max_leaves=25))
def test_any_openslo_spec_loads_or_is_refused_cleanly(tmp_path: Path, doc: Any) -> None:
    text = yaml.safe_dump({"apiVersion": "openslo/v1", "kind": "SLO",
                           "metadata": {"name": "fuzzed"}, "spec": doc})
    path = write(tmp_path, {"f.yaml": text})
    try:
        load_experiment(path)
        outcome = "loaded"
    except ExperimentError as e:  # refused: located lines, never another exception
        outcome = str(e)
    assert outcome.strip() and "Traceback" not in outcome
