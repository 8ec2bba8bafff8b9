"""`faultlab patterns verify` planning: places, conditions, experiments that validate, and
the checks that do not apply (with why). Running them is tests/patterns/test_verify_demo.py."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from faultlab.canvas.loader import load_canvas, load_canvas_text
from faultlab.demo.from_canvas import canvas_files
from faultlab.experiment import load_experiment
from faultlab.patterns.catalogue import catalogue
from faultlab.patterns.verify import VERIFIERS, places, plan_verification, write_experiments

from .conftest import canvas_of

DEMO_PATTERNS = ["timeouts", "retries-backoff-jitter", "circuit-breaker", "bulkhead",
                 "fallback"]


def _demo(name: str):  # type: ignore[no-untyped-def]
    return load_canvas(canvas_files()[name], {"python": sys.executable}).canvas


def test_every_verifier_names_a_pattern_of_the_catalogue() -> None:
    names = {e.name for e in catalogue()}
    assert set(VERIFIERS) <= names
    assert set(DEMO_PATTERNS) <= set(VERIFIERS)


def test_demo_canvas_has_two_places_and_three_conditions_each(tmp_path: Path) -> None:
    canvas = _demo("demo-resilient")
    found, skipped = places(canvas)
    assert [p.id for p in found] == ["storefront -> inventory", "inventory -> data"]
    assert skipped == []
    plan = plan_verification(canvas, DEMO_PATTERNS)
    assert sorted(plan.experiments) == sorted(
        (place, cond) for place in ("storefront -> inventory", "inventory -> data")
        for cond in ("hang", "outage", "flaky"))
    assert {(c.pattern, c.place.id): c.condition for c in plan.checks} == {
        (p, place): VERIFIERS[p].condition for p in DEMO_PATTERNS
        for place in ("storefront -> inventory", "inventory -> data")}
    paths = write_experiments(plan, tmp_path, "demo-resilient.yaml")
    for (place, condition), path in paths.items():
        exp = load_experiment(path).experiment  # validates as written
        name = place.replace(" -> ", "-to-")
        target = exp.targets[name]
        assert target.proxy is not None and target.proxy.observe
        assert exp.workload is not None
        [fault] = exp.faults
        assert list(fault.target_names) == [name]
        text = yaml.safe_load(path.read_text())
        assert text["workload"]["http"]["traceparent"] is True
        assert path.stem == f"verify-{condition}-{name}"


UNRETRYABLE = """
name: posts
services: {web: {}, api: {}}
dependencies:
  - {from: web, to: api, idempotent: false,
     target: {proxy: {listen: "127.0.0.1:19001", upstream: "127.0.0.1:19002"}}}
journeys:
  page: {entry: web, rps: 20/s, steps: ["web -> api"], slo: {availability: 99%},
         request: {url: "http://127.0.0.1:19000/", method: POST}}
"""


def test_patterns_without_a_verifier_and_unretryable_calls_are_not_applicable() -> None:
    canvas = load_canvas_text(UNRETRYABLE).canvas
    plan = plan_verification(canvas, ["retries-backoff-jitter", "blue-green", "timeouts"])
    by = {c.pattern: c for c in plan.checks}
    assert by["retries-backoff-jitter"].condition is None
    assert "idempotent" in by["retries-backoff-jitter"].reason
    assert by["blue-green"].condition is None
    assert "no automated verification" in by["blue-green"].reason
    assert by["timeouts"].condition == "hang"


def test_unmapped_calls_are_named_with_a_hint() -> None:
    canvas = canvas_of(journeys={"page": {"entry": "web", "rps": "20/s",
                                          "steps": ["web -> api", "api -> db"],
                                          "request": {"url": "http://127.0.0.1:3/"}}})
    plan = plan_verification(canvas)
    assert plan.experiments == {}
    assert any("web -> api" in u and "proxy" in u for u in plan.unmapped)


def test_cli_nothing_to_verify_is_exit_2_with_the_reason(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from faultlab.patterns.cli import app

    file = tmp_path / "c.yaml"
    file.write_text("name: bare\nservices: {web: {}, api: {}}\n"
                    "dependencies: [{from: web, to: api}]\n"
                    "journeys: {page: {entry: web, rps: 5/s, steps: ['web -> api'],\n"
                    "  request: {url: 'http://127.0.0.1:19000/'}}}\n")
    result = CliRunner().invoke(app, ["verify", str(file), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "nothing to verify" in result.output and "web -> api" in result.output
    assert not (tmp_path / "out").exists()  # nothing half done
    result = CliRunner().invoke(app, ["verify", str(file), "--pattern", "timeuts"])
    assert result.exit_code == 2 and "timeouts" in result.output  # did you mean
