"""SLOs judged by a real Prometheus: the probe ``prometheus:`` against Debian's prometheus.

One Prometheus (started here on loopback, scraping every second) scrapes the demo's
inventory service (its ``/metrics``) and faultlab's own run endpoint (``--metrics``), at
ports chosen before it starts: Prometheus learns its targets only some seconds after it
starts, so the targets are fixed for the module. The experiments judge the inventory's 5xx
ratio, a PromQL ratio of rates, the way teams state availability SLOs:

- with the data service failing behind faultlab's proxy the naive inventory answers 5xx,
  the ratio rises and the run is violated (exit 1) on measured windows, by the probe's
  query and by an OpenSLO SLO (bad/total counters, a Prometheus DataSource) alike;
- with no fault the same SLOs hold (exit 0), every window judged on data;
- against a Prometheus that was stopped the run reports a probe error (status
  ``probe_error``, exit 4): not a breach, and no fault is injected;
- a query Prometheus rejects stops the run at set-up, naming Prometheus's parse error.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from faultlab.ports import free_ports

from .conftest import run_faultlab

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("prometheus") is None,
                                 reason="prometheus is not installed (make test installs it)")]

RATIO = ('(sum(rate(http_requests_total{code=~"5.."}[4s])) or vector(0))'
         ' / sum(rate(http_requests_total[4s]))')


@dataclass
class Prom:
    url: str
    ports: dict[str, int]  # what it scrapes: inventory, metrics (faultlab's run endpoint)

    def query(self, expr: str) -> Any:
        q = urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(f"{self.url}/api/v1/query?{q}", timeout=5) as r:
            return json.loads(r.read())["data"]["result"]


def start_prometheus(tmp: Path, targets: list[str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_ports(1)[0]
    config = tmp / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s, scrape_timeout: 900ms}\n"
        "scrape_configs:\n  - job_name: test\n"
        f"    static_configs: [{{targets: {json.dumps(targets)}}}]\n")
    proc = subprocess.Popen(
        ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={tmp / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=(tmp / "prometheus.log").open("wb"))
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            raise AssertionError("prometheus did not start: "
                                 + (tmp / "prometheus.log").read_text()[-2000:])
        time.sleep(0.1)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prom]:
    tmp = tmp_path_factory.mktemp("prometheus")
    inventory, metrics = free_ports(2)
    proc, url = start_prometheus(tmp, [f"127.0.0.1:{inventory}", f"127.0.0.1:{metrics}"])
    try:
        p = Prom(url, {"inventory": inventory, "metrics": metrics})
        deadline = time.monotonic() + 60  # until it knows both targets (up is 0 for now)
        while len(p.query("up")) < 2:
            assert time.monotonic() < deadline, "prometheus never listed its targets"
            time.sleep(0.2)
        yield p
    finally:
        stop(proc)


def experiment(tmp: Path, prom_url: str, inventory: int, *, fault: bool,
               query: str = RATIO, openslo: str | None = None) -> Path:
    """The naive inventory behind a proxied data service, judged by Prometheus: by a probe
    of ``query``, and by the SLO of the OpenSLO file ``openslo`` if given."""
    data, proxy = free_ports(2)
    faults = """
faults:
  - {name: data-fails, target: data-link, kind: http_abort, status: 503, start: 0s,
     duration: 6s}
""" if fault else ""
    probe = f"""  errors:
    kind: probe
    every: 1s
    timeout: 2s
    prometheus:
      url: "{prom_url}"
      query: '{query}'
      below: 0.05
"""
    slos = "  - {name: error-ratio, workload: errors, success_ratio: 100%, window: 1s}"
    slo = "error-ratio"
    if openslo is not None:
        slos += f"\n  - {{openslo: {openslo}, window: 1s, range: 4s}}"
        slo += ", inventory-availability"
    path = tmp / "prom.yaml"
    path.write_text(f"""
name: prom-ratio
system:
  services:
    data:
      command: ["${{python}}", -m, faultlab.demo.services, data, --port, "{data}"]
      ready: {{http: "http://127.0.0.1:{data}/health"}}
    inventory:
      command: ["${{python}}", -m, faultlab.demo.services, inventory, --port, "{inventory}",
                --data-url, "http://127.0.0.1:{proxy}", --variant, naive]
      ready: {{http: "http://127.0.0.1:{inventory}/health"}}
targets:
  data-link:
    proxy: {{listen: "127.0.0.1:{proxy}", upstream: "127.0.0.1:{data}"}}
warmup: 5s
workloads:
  load:
    kind: http
    url: "http://127.0.0.1:{inventory}/stock/7"
    rate: 20/s
    timeout: 1s
{probe}slos:
{slos}
hypothesis:
  before: {{hold: [{slo}], for: 3s}}
  during: {{hold: [{slo}]}}
  after: {{hold: [{slo}], recover_within: 8s}}
{faults}""")
    return path


OPENSLO = """
apiVersion: openslo/v1
kind: DataSource
metadata: {{name: test-prometheus}}
spec:
  type: Prometheus
  connectionDetails: {{url: "{url}"}}
---
apiVersion: openslo/v1
kind: SLO
metadata: {{name: inventory-availability}}
spec:
  service: inventory
  indicator:
    metadata: {{name: inventory-5xx}}
    spec:
      ratioMetric:
        counter: true
        bad:
          metricSource:
            metricSourceRef: test-prometheus
            spec: {{query: 'http_requests_total{{code=~"5.."}}'}}
        total:
          metricSource:
            metricSourceRef: test-prometheus
            spec: {{query: http_requests_total}}
  timeWindow: [{{duration: 28d, isRolling: true}}]
  budgetingMethod: Occurrences
  objectives:
    - {{target: 0.95}}
"""


def run(path: Path, run_dir: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
    result = run_faultlab(["run", str(path), "--run-dir", str(run_dir), "--quiet", *extra],
                          timeout=180)
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, json.loads((run_dir / "result.json").read_text()), result.stderr


def clause(doc: dict[str, Any], phase: str, slo: str = "error-ratio") -> dict[str, Any]:
    return next(c for c in doc["clauses"] if c["phase"] == phase and c["slo"] == slo)


@pytest.mark.timeout(300)
def test_a_promql_ratio_and_an_openslo_slo_break_under_the_fault_on_measured_windows(
        prom: Prom, tmp_path: Path) -> None:
    (tmp_path / "slos.yaml").write_text(OPENSLO.format(url=prom.url))
    path = experiment(tmp_path, prom.url, prom.ports["inventory"], fault=True,
                      openslo="slos.yaml")
    code, doc, err = run(path, tmp_path / "run", "--metrics",
                         f"127.0.0.1:{prom.ports['metrics']}")
    assert code == 1, (doc["status"], doc["reasons"], err)
    assert doc["status"] == "violated"
    # the probe's ratio, and the OpenSLO SLO's bad/total counters at 95%, judged alike
    for slo in ("error-ratio", "inventory-availability"):
        before, during = clause(doc, "before", slo), clause(doc, "during", slo)
        assert before["held"] and before["probe_errors"] == 0, before
        assert not during["held"] and during["failed_windows"] > 0, during
        assert during["measured"] < 1.0  # the worst window: polls that saw the 5xx ratio
    probe = doc["workloads"]["openslo-inventory-availability"]["totals"]
    assert probe["planned"] > 0 and probe["probe_errors"] == 0, probe
    # Prometheus scraped the run's own endpoint too: the workload's requests and the fault
    sent = prom.query('max_over_time(faultlab_workload_requests_total{workload="load", '
                      'outcome="ok"}[5m])')
    assert sent and float(sent[0]["value"][1]) > 0, sent
    active = prom.query("max_over_time(faultlab_fault_active[5m])")
    assert active and float(active[0]["value"][1]) == 1.0, active


@pytest.mark.timeout(300)
def test_the_same_slos_hold_without_the_fault(prom: Prom, tmp_path: Path) -> None:
    (tmp_path / "slos.yaml").write_text(OPENSLO.format(url=prom.url))
    path = experiment(tmp_path, prom.url, prom.ports["inventory"], fault=False,
                      openslo="slos.yaml")
    code, doc, err = run(path, tmp_path / "run")
    assert code == 0, (doc["status"], doc["reasons"], err)
    for slo in ("error-ratio", "inventory-availability"):
        before = clause(doc, "before", slo)
        assert before["held"] and before["windows"] >= 3 and before["probe_errors"] == 0
    polls = doc["workloads"]["errors"]["totals"]
    assert polls["ok"] == polls["planned"] > 0 and polls["probe_errors"] == 0, polls


@pytest.mark.timeout(300)
def test_a_stopped_prometheus_is_a_probe_error_not_a_breach(
        prom: Prom, tmp_path: Path) -> None:
    (tmp_path / "gone").mkdir()
    proc, url = start_prometheus(tmp_path / "gone", ["127.0.0.1:1"])
    stop(proc)  # it ran, and was stopped: its port refuses now
    path = experiment(tmp_path, url, free_ports(1)[0], fault=True)
    code, doc, err = run(path, tmp_path / "run")
    assert code == 4, (doc["status"], doc["reasons"], err)
    assert doc["status"] == "probe_error"
    assert any("probe error" in r and "could not be asked" in r for r in doc["reasons"]), doc
    assert not any("violated" in r for r in doc["reasons"]), doc["reasons"]
    before = clause(doc, "before")
    assert not before["held"] and before["failed_windows"] == 0 and before["probe_errors"] > 0
    assert all(f["injected_at"] is None for f in doc["faults"]), doc["faults"]
    polls = doc["workloads"]["errors"]["totals"]
    assert polls["probe_errors"] > 0 and polls["planned"] == 0, polls


@pytest.mark.timeout(300)
def test_a_query_prometheus_rejects_stops_the_run_at_set_up(
        prom: Prom, tmp_path: Path) -> None:
    path = experiment(tmp_path, prom.url, free_ports(1)[0], fault=True,
                      query="sum(rate(http_requests_total[4s])")
    code, doc, err = run(path, tmp_path / "run")
    assert code == 4, (doc["status"], doc["reasons"], err)
    text = " ".join(doc["reasons"])
    assert "rejected the query (bad_data)" in text and "parse error" in text, text
    assert all(f["injected_at"] is None for f in doc["faults"]), doc["faults"]

