"""Error budgets and burn rates in a real run: the demo's data service behind faultlab's
proxy, an open-loop load, an outage injected by the proxy (http_abort: every request 503).

The figures are checked against a hand computation from the run's own journal (its
per-second counts), not against constants: which second the burn-rate abort had to fire at,
and how much of the 30-day budget the run consumed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from faultlab.ports import free_ports

from .conftest import journal, run_faultlab

pytestmark = pytest.mark.slow

ALLOWED = 0.001  # 1 - 99.9%
PERIOD = 30 * 86400
ABOVE, LONG, SHORT = 14.4, 4, 1

EXPERIMENT = """
name: burn
system:
  services:
    data:
      command: ["${{python}}", -m, faultlab.demo.services, data, --port, "{data}"]
      ready: {{http: "http://127.0.0.1:{data}/health"}}
targets:
  link:
    proxy: {{listen: "127.0.0.1:{proxy}", upstream: "127.0.0.1:{data}"}}
workload:
  http: {{url: "http://127.0.0.1:{proxy}/item/1", rate: 50/s, timeout: 1s}}
slos:
  - name: avail
    success_ratio: 99.9%
    window: 1s
    budget: {{period: 30d}}
hypothesis:
  before: {{hold: [avail], for: 3s}}
  during: {{hold: [avail]}}
abort:
  - burn_rate: {{slo: avail, above: {above}, long: {long}s, short: {short}s}}
faults:
  - {{name: outage, target: link, kind: http_abort, status: 503, start: 0s, duration: 30s}}
"""


def burn(seconds: dict[int, dict[str, Any]], first: int, end: int) -> float | None:
    picked = [seconds[i] for i in range(first, end) if i in seconds]
    total = sum(s["sent"] + s["dropped"] for s in picked)
    ok = sum(s["ok"] for s in picked)
    return None if total == 0 else (total - ok) / total / ALLOWED


@pytest.mark.timeout(300)
def test_the_burn_rate_abort_fires_when_the_runs_own_seconds_say_and_the_budget_adds_up(
        tmp_path: Path) -> None:
    data, proxy = free_ports(2)
    path = tmp_path / "burn.yaml"
    path.write_text(EXPERIMENT.format(data=data, proxy=proxy, above=ABOVE, long=LONG,
                                      short=SHORT))
    run_dir = tmp_path / "run"
    result = run_faultlab(["run", str(path), "--run-dir", str(run_dir), "--quiet"],
                          timeout=180)
    assert "Traceback" not in result.stderr, result.stderr
    doc = json.loads((run_dir / "result.json").read_text())
    assert doc["status"] == "aborted" and result.returncode == 3, doc["reasons"]
    events = journal(run_dir)
    seconds = {e["second"]: e for e in events if e.get("event") == "second"}
    injected = next(e["t"] for e in events if e.get("event") == "fault_injected")
    abort = next(e for e in events if e.get("event") == "abort")
    # by hand: the first second whose short window lies after the injection and whose
    # short and long windows both burn faster than ABOVE
    expected = next(s for s in sorted(seconds) if s - SHORT + 1 + 0.5 >= injected
                    and (b := burn(seconds, s - SHORT + 1, s + 1)) is not None and b > ABOVE
                    and (b := burn(seconds, s - LONG + 1, s + 1)) is not None and b > ABOVE)
    assert abort["window"] == [expected - LONG + 1, expected + 1], (abort, injected)
    assert "burns its error budget" in abort["reason"]
    assert expected - injected < LONG + 2  # a total outage fires within its first seconds
    # the budget: every second up to the abort's, by hand
    evaluated = [seconds[i] for i in range(expected + 1) if i in seconds]
    total = sum(s["sent"] + s["dropped"] for s in evaluated)
    bad = total - sum(s["ok"] for s in evaluated)
    (budget,) = doc["budgets"]
    assert (budget["bad"], budget["total"], budget["seconds"]) == (bad, total, len(evaluated))
    assert budget["consumed"] == pytest.approx(
        bad / total / ALLOWED * len(evaluated) / PERIOD)
    report = (run_dir / "report.html").read_text()
    assert "Error budget" in report and "of the 30d budget" in report
