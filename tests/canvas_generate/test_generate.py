"""canvas generate: experiments from findings that validate as they are, say what their
verdict proves, and, run against the demo system, agree with the analysis."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from faultlab.canvas.analysis import analyze
from faultlab.canvas.findings import Finding, Severity
from faultlab.canvas.generate import GENERATORS, Generated, Skipped, generate
from faultlab.canvas.loader import load_canvas, load_canvas_text
from faultlab.demo.from_canvas import canvas_files
from faultlab.experiment import load_experiment

NAIVE, RESILIENT = canvas_files()["demo-naive"], canvas_files()["demo-resilient"]


def faultlab(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "faultlab", *args], capture_output=True,
                          text=True, timeout=timeout)


def test_every_generator_is_for_a_rule_the_analysis_has() -> None:
    from faultlab.canvas.analysis.rules import RULES

    assert set(GENERATORS) <= {r.id for r in RULES}


@pytest.mark.parametrize(("file", "expected"), [
    (NAIVE, {("spof.node", "data", "violated"), ("spof.node", "inventory", "violated"),
             ("spof.node", "storefront", "violated"),
             ("timeouts.missing", "inventory->data", "violated"),
             ("timeouts.missing", "storefront->inventory", "violated")}),
    (RESILIENT, {("fallback.soft", "inventory->data", "held"),
                 ("fallback.soft", "storefront->inventory", "held"),
                 ("spof.node", "storefront", "violated")}),
])
def test_the_demo_canvases_give_the_experiments_their_findings_call_for(
        tmp_path: Path, file: Path, expected: set[tuple[str, str, str]]) -> None:
    out = faultlab("canvas", "generate", str(file), "-o", str(tmp_path))
    assert out.returncode == 0, out.stderr
    files = sorted(tmp_path.glob("*.yaml"))
    seen = set()
    for path in files:
        text = path.read_text()
        head = [line for line in text.splitlines() if line.startswith("#")]
        assert any(line.startswith("# Expect ") for line in head), head
        loaded = load_experiment(path)  # validates as it is
        exp = loaded.experiment
        assert exp.faults and exp.workload is not None and exp.workload.http is not None
        assert set(exp.hypothesis.during.hold) == {s.name for s in exp.slos}
        # every call path of the demo stays in place, whatever the fault
        assert {"storefront-to-inventory", "inventory-to-data"} <= set(exp.targets)
        finding = next(line for line in head if line.startswith("# Finding "))
        rule, _, rest = finding[len("# Finding "):].partition(" on ")
        subject = rest.split(":")[0]
        expect = "violated" if "Expect VIOLATED" in text else "held"
        seen.add((rule, subject, expect))
    assert seen == expected
    assert [p.name[:3] for p in files] == [f"{i:02d}-" for i in range(1, len(files) + 1)]


def test_unmapped_parts_are_skipped_with_the_reason() -> None:
    loaded = load_canvas_text("""
name: bare
services:
  web: {}
  db: {}
dependencies:
  - {from: web, to: db}
journeys:
  home: {entry: web, rps: 10/s, slo: {availability: 99%}}
""")
    made = generate(loaded.canvas, list(analyze(loaded.canvas).findings))
    assert made and all(isinstance(m, Skipped) for m in made)
    assert any("request:" in m.reason for m in made if isinstance(m, Skipped))


def test_ranked_by_weight_and_one_experiment_per_part() -> None:
    canvas = load_canvas(NAIVE).canvas
    light = Finding("spof.node", Severity.WARNING, "inventory", "m", journeys=("product-page",),
                    weight=1)
    heavy = Finding("spof.node", Severity.WARNING, "data", "m", journeys=("product-page",),
                    weight=9)
    again = Finding("spof.node", Severity.WARNING, "data", "again", journeys=("product-page",),
                    weight=5)
    made = [m for m in generate(canvas, [light, heavy, again]) if isinstance(m, Generated)]
    assert [m.name for m in made] == ["spof-data", "spof-inventory"]
    down = made[0].experiment["faults"][0]
    assert down["kind"] == "down" and down["target"] == "inventory-to-data"
    assert yaml.safe_dump(made[0].experiment)  # plain data


@pytest.mark.slow
@pytest.mark.timeout(900)  # eight experiments, two at a time: minutes on a busy machine
def test_demo_from_canvas_verdicts_agree_with_the_analysis(tmp_path: Path) -> None:
    """The generated experiments run against the demo system: the naive canvas's single
    points of failure and missing timeouts are confirmed (VIOLATED), the resilient canvas's
    fallbacks hold (HELD) — exit 0 only when every verdict is the predicted one."""
    out = faultlab("demo", "--from-canvas", "--runs-dir", str(tmp_path), timeout=900)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count("as predicted") == 8 and "NOT as predicted" not in out.stdout


BAD = """
name: piled
services:
  edge: {instances: 2}
  api: {instances: 2}
  core: {}
dependencies:
  - {from: edge, to: api, attempts: 3, timeout: 1s,
     target: {proxy: {listen: "127.0.0.1:19001", upstream: "127.0.0.1:19002"}}}
  - {from: api, to: core, attempts: 4, timeout: 2s, pool: 5,
     target: {proxy: {listen: "127.0.0.1:19003", upstream: "127.0.0.1:19004"}}}
journeys:
  read: {entry: edge, rps: 100/s, slo: {availability: 99%, latency: {p99: 500ms}},
         request: {url: "http://127.0.0.1:19000/"}}
"""


def test_a_hung_pool_and_amplified_retries_get_their_experiments() -> None:
    canvas = load_canvas_text(BAD).canvas
    findings = list(analyze(canvas).findings)
    rules = {f.rule for f in findings}
    assert {"pools.exhaustion", "retries.amplification"} <= rules
    made = {m.finding.rule: m for m in generate(canvas, findings) if isinstance(m, Generated)}
    hang = made["pools.exhaustion"].experiment["faults"][0]
    assert (hang["kind"], hang["target"], hang["after"]) == ("timeout", "api-to-core", "0s")
    down = made["retries.amplification"].experiment["faults"][0]
    assert (down["kind"], down["target"]) == ("down", "api-to-core")
    for m in made.values():
        text = yaml.safe_dump(m.experiment)
        from faultlab.experiment.loader import load_experiment_text

        load_experiment_text(text)  # validates as it is


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_demo_from_canvas_interrupted_stops_everything_it_started(tmp_path: Path) -> None:
    """SIGINT while both canvases' first runs are going: each reverts and stops its services
    and proxy server, no further run starts, exit 3."""
    import json
    import signal
    import time

    proc = subprocess.Popen([sys.executable, "-m", "faultlab", "demo", "--from-canvas",
                             "--runs-dir", str(tmp_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 240
        while len([j for j in tmp_path.glob("*/journal.jsonl")
                   if "fault_injected" in j.read_text()]) < 2:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "the first faults were never injected"
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 3, out
    journals = list(tmp_path.glob("*/journal.jsonl"))
    assert len(journals) == 2  # no run started after the signal
    for journal in journals:
        events = [json.loads(line)["event"] for line in journal.read_text().splitlines()]
        assert "teardown" in events and events.count("fault_injected") == events.count(
            "fault_reverted")
        teardown = [json.loads(line) for line in journal.read_text().splitlines()
                    if json.loads(line)["event"] == "teardown"][-1]
        assert teardown["still_running"] == [] and teardown["active"] == []
