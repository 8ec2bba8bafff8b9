"""The Prometheus probe's judgement of an answer, and the model's checks.

``judge`` is pure: it is fed the bodies Prometheus's query API answers (their shapes as the
API documents them, and as the real server in tests/integration/test_prometheus.py gives
them) and fuzzed with any JSON. What is not an answer about the system is a probe error,
never a pass or a failure; the runs against a real Prometheus are in the integration test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from faultlab.experiment import ExperimentError, load_experiment_text
from faultlab.workload.probe import ProbeWorkload
from faultlab.workload.promql import PrometheusQuery, judge

BELOW = PrometheusQuery(url="http://127.0.0.1:9090", query="x", below=0.05)


def vector(*values: str) -> dict[str, Any]:
    return {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"instance": f"i{i}"}, "value": [1796147230.788, v]}
        for i, v in enumerate(values)]}}


def test_every_series_must_be_within_the_bounds() -> None:
    assert judge(BELOW, 200, vector("0.01"))[0] == "ok"
    assert judge(BELOW, 200, vector("0.01", "0.2")) == ("failed", "0.2")
    assert judge(BELOW, 200, vector("0.05"))[0] == "failed"  # strict: at the bound fails
    above = PrometheusQuery(url="http://127.0.0.1:9090", query="x", above=1, below=3)
    assert judge(above, 200, vector("2"))[0] == "ok"
    assert judge(above, 200, vector("1"))[0] == "failed"
    scalar = {"status": "success", "data": {"resultType": "scalar",
                                            "result": [1796147230.7, "0.5"]}}
    assert judge(BELOW, 200, scalar) == ("failed", "0.5")


def test_no_data_is_a_probe_error_unless_the_file_says_what_it_means() -> None:
    verdict, seen = judge(BELOW, 200, vector())
    assert verdict == "error" and "no sample" in seen and "no_data" in seen
    assert judge(BELOW, 200, vector("NaN"))[0] == "error"  # 0 / 0: no traffic
    passing = BELOW.model_copy(update={"no_data": "pass"})
    failing = BELOW.model_copy(update={"no_data": "fail"})
    assert judge(passing, 200, vector())[0] == "ok"
    assert judge(failing, 200, vector("NaN"))[0] == "failed"
    assert judge(failing, 200, vector("NaN", "0.01"))[0] == "ok"  # NaN series are skipped


def test_what_is_not_an_answer_is_a_probe_error() -> None:
    bad = {"status": "error", "errorType": "bad_data",
           "error": 'invalid parameter "query": 1:16: parse error: unclosed left parenthesis'}
    verdict, seen = judge(BELOW, 400, bad)
    assert verdict == "invalid" and "rejected the query (bad_data)" in seen
    assert "parse error" in seen
    timeout = {"status": "error", "errorType": "timeout", "error": "query timed out"}
    assert judge(BELOW, 503, timeout)[0] == "error"
    assert judge(BELOW, 502, None) == ("error", "Prometheus answered HTTP 502")
    assert judge(BELOW, 200, None)[0] == "error"  # not JSON
    matrix = {"status": "success", "data": {"resultType": "matrix", "result": []}}
    assert "range vector" in judge(BELOW, 200, matrix)[1]
    string = {"status": "success", "data": {"resultType": "string", "result": [1, "a"]}}
    assert judge(BELOW, 200, string)[0] == "error"
    assert judge(BELOW, 200, vector("not-a-number"))[0] == "error"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                   max_size=4),
    max_leaves=20)


@given(status=st.sampled_from([200, 400, 422, 500, 503]), body=json_values,
       shaped=st.booleans())
def test_any_answer_is_judged_without_raising(status: int, body: Any, shaped: bool) -> None:
    if shaped:  # the right envelope around anything
        body = {"status": "success", "data": {"resultType": "vector", "result": body}}
    verdict, seen = judge(BELOW, status, body)
    assert verdict in ("ok", "failed", "invalid", "error") and isinstance(seen, str)
    if status != 200:
        assert verdict in ("invalid", "error")


BASE = """
name: p
workloads:
  q:
    kind: probe
    prometheus: {prom}
"""


def test_the_model_refuses_a_query_without_a_bound_or_with_an_empty_range() -> None:
    with pytest.raises(ExperimentError, match="compares its result to a bound"):
        load_experiment_text(BASE.format(prom="{url: 'http://127.0.0.1:9090', query: up}"))
    with pytest.raises(ExperimentError, match="no value could pass"):
        load_experiment_text(BASE.format(
            prom="{url: 'http://127.0.0.1:9090', query: up, above: 2, below: 1}"))
    with pytest.raises(ExperimentError, match="a probe asks one thing"):
        load_experiment_text(BASE.format(prom="{url: 'http://127.0.0.1:9090', query: up, "
                                              "below: 1}\n    command: {argv: ['true']}"))
    loaded = load_experiment_text(BASE.format(
        prom="{url: 'http://127.0.0.1:9090/', query: 'sum(rate(x[1m]))', below: 1}"))
    spec = loaded.experiment.workloads["q"]
    assert isinstance(spec, ProbeWorkload) and spec.prometheus is not None
    assert spec.prometheus.endpoint() == "http://127.0.0.1:9090/api/v1/query"


DEAD = """
name: probe-dead
workloads:
  errors:
    kind: probe
    every: 500ms
    prometheus: {{url: "http://127.0.0.1:{port}", query: up, below: 2}}
slos:
  - {{name: ratio, workload: errors, success_ratio: 100%, window: 1s}}
hypothesis:
  before: {{hold: [ratio], for: 2s}}
faults:
  - {{kind: command, inject: ["true"], start: 0s}}
"""


@pytest.mark.timeout(120)
def test_a_run_against_no_prometheus_reports_a_probe_error_everywhere(tmp_path: Path) -> None:
    from faultlab.api import run_experiment
    from faultlab.ports import free_ports
    from faultlab.run.verdict import Status

    exp = tmp_path / "dead.yaml"
    exp.write_text(DEAD.format(port=free_ports(1)[0]))  # nothing listens there
    result = run_experiment(exp, runs_dir=tmp_path / "runs")
    verdict = result.verdict
    assert verdict.status is Status.PROBE_ERROR and int(verdict.exit_code) == 4
    (before,) = verdict.clauses
    assert before.result == "probe error" and "could not be asked" in (before.probe_error or "")
    assert all(r.injected_at is None for r in verdict.faults)
    report = (result.run_dir / "report.html").read_text()
    assert "? probe error" in report and "probe errors (could not ask)" in report
    assert "not judged, not breached" in report
