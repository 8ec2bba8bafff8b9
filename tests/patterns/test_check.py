"""`faultlab patterns check` on the demo's canvases: the naive one lacks timeouts, retries
with backoff, a breaker, bulkheads and fallbacks on both calls; the resilient one (with the
breaker the demo has) has them."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from faultlab.patterns.catalogue import catalogue
from faultlab.patterns.check import Status, Verdict, check_canvas
from faultlab.patterns.cli import app

from .conftest import demo, demo_text

EDGES = ["storefront->inventory", "inventory->data"]
DEMO_PATTERNS = ["timeouts", "retries-backoff-jitter", "circuit-breaker", "bulkhead",
                 "fallback"]


def _verdicts(variant: str, breaker: bool = False) -> dict[str, Verdict]:
    verdicts, _ = check_canvas(demo(variant, breaker), catalogue())
    return {v.entry.name: v for v in verdicts}


def test_naive_lacks_the_demo_patterns_at_both_edges() -> None:
    verdicts = _verdicts("naive")
    for name in DEMO_PATTERNS:
        v = verdicts[name]
        assert v.status == Status.MISSING, name
        assert sorted(v.at(Status.MISSING)) == sorted(EDGES), name
        assert all(p.location.startswith("demo-naive.yaml:") for p in v.places)


def test_resilient_with_its_breaker_has_them() -> None:
    verdicts = _verdicts("resilient", breaker=True)
    for name in DEMO_PATTERNS:
        v = verdicts[name]
        assert v.at(Status.MISSING) == [] and v.at(Status.MISUSED) == [], name
    assert sorted(verdicts["fallback"].at(Status.VERIFY)) == sorted(EDGES)


def test_resilient_as_shipped_says_whether_it_states_its_breaker() -> None:
    v = _verdicts("resilient")["circuit-breaker"]
    stated = "breaker:" in demo_text("resilient")
    assert (v.status == Status.CLEAN) == stated


def _canvas_file(tmp_path: Path, variant: str) -> Path:
    path = tmp_path / f"demo-{variant}.yaml"
    path.write_text(demo_text(variant), encoding="utf-8")
    return path


def test_cli_check_json_and_exit_codes(tmp_path: Path) -> None:
    runner = CliRunner()
    naive = _canvas_file(tmp_path, "naive")
    result = runner.invoke(app, ["check", str(naive), "--json", "--fail-on", "warning"])
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    by = {p["pattern"]: p for p in data["patterns"]}
    assert by["timeouts"]["status"] == "missing"
    assert {p["subject"] for p in by["timeouts"]["places"]} == set(EDGES)
    assert runner.invoke(app, ["check", str(naive), "--fail-on", "never"]).exit_code == 0
    assert runner.invoke(app, ["check", str(naive), "-p", "golden-signals",
                               "--fail-on", "info"]).exit_code == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nservices: {a: {instances: 0}}\n", encoding="utf-8")
    assert runner.invoke(app, ["check", str(bad)]).exit_code == 2


def test_cli_list_show_schema() -> None:
    runner = CliRunner()
    listed = runner.invoke(app, ["list", "--family", "deployment"], env={"COLUMNS": "160"})
    assert listed.exit_code == 0 and "canary-rollback" in listed.output
    assert "timeouts" not in listed.output
    assert runner.invoke(app, ["list", "--family", "nope"]).exit_code == 2
    shown = runner.invoke(app, ["show", "circuit-breaker"], env={"COLUMNS": "160"})
    assert shown.exit_code == 0
    for text in ("When not to use", "patterns.breaker.missing", "Verification", "oracle"):
        assert text in shown.output
    missing = runner.invoke(app, ["show", "circuit-braker"])
    assert missing.exit_code == 2 and "did you mean 'circuit-breaker'" in missing.output
    schema = json.loads(runner.invoke(app, ["schema"]).stdout)
    assert "static_rules" in schema["properties"]
