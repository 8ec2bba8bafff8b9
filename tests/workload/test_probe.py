"""The ``probe`` workload: an HTTP check (status, a JSON value) or a command (exit code, a
number it prints) polled on a schedule, each answer a request of its second, judged by the
ordinary SLOs. Real runs: a probe through faultlab's proxy fails while the proxy is down
(VIOLATED) and holds without the fault (HELD); a command probe's printed number is held to
its bounds."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from faultlab.api import run_experiment
from faultlab.experiment import ExperimentError, load_experiment_text
from faultlab.experiment.loader import LoadedExperiment
from faultlab.ports import free_ports
from faultlab.run.verdict import Status
from faultlab.workload.probe import json_value

BASE = """
name: probed
workloads:
  health:
    kind: probe
    every: 200ms
    timeout: 1s
{probe}
"""


def _load(probe: str) -> LoadedExperiment:
    return load_experiment_text(BASE.format(probe=probe))


def test_a_probe_asks_one_thing_and_says_how() -> None:
    with pytest.raises(ExperimentError, match="a probe asks one thing"):
        _load("    # nothing asked")
    with pytest.raises(ExperimentError, match="a probe asks one thing"):
        _load("    http: {url: 'http://127.0.0.1:1/'}\n    command: {argv: ['true']}")
    with pytest.raises(ExperimentError, match="not found on PATH"):
        _load("    command: {argv: [no-such-command-here]}")
    with pytest.raises(ExperimentError, match="equals needs json_path"):
        _load("    http: {url: 'http://127.0.0.1:1/', equals: ok}")
    with pytest.raises(ExperimentError, match="at most ten times a second"):
        load_experiment_text(BASE.format(probe="    http: {url: 'http://127.0.0.1:1/'}")
                             .replace("every: 200ms", "every: 10ms"))


def test_a_probe_dumps_and_reloads_equal() -> None:
    loaded = load_experiment_text(BASE.format(
        probe="    http: {url: 'http://127.0.0.1:1/health', json_path: checks.0.state, "
              "equals: up}"))
    exp = loaded.experiment
    again = load_experiment_text(json.dumps(exp.model_dump(mode="json", by_alias=True)))
    assert again.experiment == exp


def test_json_value_follows_keys_and_indexes() -> None:
    body = {"status": "ok", "checks": [{"state": "up"}, {"state": "down"}], "n": 0}
    assert json_value(body, "status") == (True, "ok")
    assert json_value(body, "checks.1.state") == (True, "down")
    assert json_value(body, "n") == (True, 0)
    assert json_value(body, "checks.2.state") == (False, None)
    assert json_value(body, "status.x") == (False, None)


HTTP_RUN = """
name: probed-http
system:
  services:
    web:
      command: ["{python}", -m, http.server, "{web}", --bind, 127.0.0.1, --directory, "{root}"]
      ready: {{http: "http://127.0.0.1:{web}/status.json", timeout: 15s}}
targets:
  web-link:
    proxy: {{listen: "127.0.0.1:{proxy}", upstream: "127.0.0.1:{web}"}}
workloads:
  health:
    kind: probe
    every: 200ms
    timeout: 1s
    http: {{url: "http://127.0.0.1:{proxy}/status.json", json_path: status, equals: ok}}
slos:
  - {{name: healthy, workload: health, success_ratio: 100%, window: 1s}}
hypothesis:
  before: {{hold: [healthy], for: 2s}}
  during: {{hold: [healthy]}}
faults:
{faults}
"""


@pytest.mark.timeout(300)
@pytest.mark.parametrize("faulted", [False, True])
def test_an_http_probe_judged_by_its_slo(tmp_path: Path, faulted: bool) -> None:
    (tmp_path / "status.json").write_text('{"status": "ok"}')
    web, proxy = free_ports(2)
    faults = ("  - {target: web-link, kind: down, start: 0s, duration: 3s}" if faulted
              else "  - {target: web-link, kind: latency, delay: 1ms, start: 0s, "
                   "duration: 3s}")
    exp = tmp_path / "probe.yaml"
    exp.write_text(HTTP_RUN.format(python=sys.executable, web=web, proxy=proxy,
                                   root=tmp_path, faults=faults))
    result = run_experiment(exp, runs_dir=tmp_path / "runs", report=False)
    during = [c for c in result.verdict.clauses if c.phase == "during"]
    if faulted:  # every poll during the outage fails: the SLO is breached
        assert result.verdict.status is Status.VIOLATED, result.verdict.reasons
        assert during and not during[0].held
    else:
        assert result.verdict.status is Status.HELD, result.verdict.reasons
    totals = result.verdict.workloads["health"]["totals"]
    assert isinstance(totals, dict) and totals["sent"] > 0


COMMAND_RUN = """
name: probed-command
workloads:
  depth:
    kind: probe
    every: 250ms
    command: {{argv: ["{python}", -c, "print(42)"], {bound}}}
slos:
  - {{name: shallow, workload: depth, success_ratio: 100%, window: 1s}}
hypothesis:
  before: {{hold: [shallow], for: 2s}}
faults:
  - {{target: local, kind: command, inject: ["true"], start: 0s}}
"""


@pytest.mark.timeout(300)
@pytest.mark.parametrize(("bound", "status"), [("below: 100", Status.HELD),
                                               ("above: 100", Status.STEADY_STATE_FAILED)])
def test_a_command_probe_holds_its_number_to_bounds(tmp_path: Path, bound: str,
                                                    status: Status) -> None:
    exp = tmp_path / "probe.yaml"
    exp.write_text(COMMAND_RUN.format(python=sys.executable, bound=bound))
    result = run_experiment(exp, runs_dir=tmp_path / "runs", report=False)
    assert result.verdict.status is status, result.verdict.reasons
