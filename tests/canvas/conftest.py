"""Helpers for the canvas tests: canvases from YAML text, analyses, findings by rule."""

from __future__ import annotations

from pathlib import Path

from faultlab.canvas.analysis import Analysis, Options, analyze
from faultlab.canvas.findings import Finding
from faultlab.canvas.loader import load_canvas_text
from faultlab.canvas.model import Canvas

EXAMPLES = Path(__file__).parents[2] / "examples" / "canvas"


def canvas(text: str) -> Canvas:
    return load_canvas_text(text, "test.yaml").canvas


def analysis(text: str, threshold: float = 10.0) -> Analysis:
    return analyze(canvas(text), Options(amplification_threshold=threshold))


def findings(result: Analysis, rule: str) -> list[Finding]:
    return [f for f in result.findings if f.rule == rule]


def only(result: Analysis, rule: str) -> Finding:
    found = findings(result, rule)
    assert len(found) == 1, [f.message for f in found]
    return found[0]
