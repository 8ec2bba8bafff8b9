"""docs/canvas.md is right: its canvases load, and the worked example finds what it says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from faultlab.canvas.analysis import analyze
from faultlab.canvas.analysis.rules import RULES
from faultlab.canvas.loader import load_canvas_text

DOC = (Path(__file__).parents[2] / "docs" / "canvas.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```yaml\n(.*?)```", DOC, re.S)


def test_every_rule_is_documented() -> None:
    headings = re.findall(r"^### (.+)$", DOC, re.M)
    for rule in RULES:
        heading = next((h for h in headings if rule.id in h.split(" (")[0].split(", ")), None)
        assert heading is not None, rule.id
        assert f"({rule.severity}" in heading, rule.id


def test_the_complete_example_loads() -> None:
    c = load_canvas_text(BLOCKS[0], "complete.yaml").canvas
    assert c.dependencies[2].deadline == 1.0 and c.datastores["db"].needed == 2


def test_the_worked_example() -> None:
    result = analyze(load_canvas_text(BLOCKS[1], "worked.yaml").canvas)
    found = {(f.rule, f.subject) for f in result.findings}
    assert found == {
        ("availability.slo-unreachable", "checkout"), ("availability.extra-nine", "cart"),
        ("availability.extra-nine", "db"), ("spof.node", "cart"), ("spof.zone", "eu-1a"),
        ("retries.layers", "cart->db"), ("timeouts.budget", "web->cart"),
        ("timeouts.above-slo", "checkout"), ("pools.exhaustion", "cart->db"),
        ("pools.exhaustion", "web->cart"), ("pools.exhaustion", "web->recs"),
        ("budget.error", "checkout"), ("blast.node", "web"), ("blast.node", "cart"),
        ("blast.node", "db"), ("blast.node", "recs"), ("blast.zone", "eu-1a"),
        ("fallback.soft", "web->recs")}
    j = result.journeys["checkout"]
    assert j.availability == pytest.approx(0.997996, abs=1e-6)
    assert result.calls["cart->db"].amplification == 6
    assert result.calls["cart->db"].in_flight == pytest.approx(48)
    assert j.worst_case == pytest.approx(0.65)
    assert j.error_budget == pytest.approx((1296, 51_840))
