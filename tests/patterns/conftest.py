"""Canvases for the patterns tests: a small chain built from overrides, the demo's two
canvases, and the resilient one with the breaker the demo really has (budget.py)."""

from __future__ import annotations

import copy
from importlib import resources
from typing import Any

from faultlab.canvas.analysis import analyze
from faultlab.canvas.analysis.rules import ALL_RULES
from faultlab.canvas.findings import Finding
from faultlab.canvas.loader import LoadedCanvas, load_canvas_text
from faultlab.canvas.model import Canvas

BASE: dict[str, Any] = {
    "name": "chain",
    "services": {"web": {"instances": 3}, "api": {"instances": 3}},
    "datastores": {"db": {"replicas": 3}},
    "dependencies": [
        {"from": "web", "to": "api", "timeout": "100ms", "attempts": 2, "backoff": "10ms",
         "jitter": "full", "retry_budget": "10%", "pool": 50,
         "breaker": {"failures": 5, "cool_down": "1s"}},
        {"from": "api", "to": "db", "kind": "soft", "fallback": "90%", "kill_switch": True,
         "timeout": "50ms", "attempts": 2, "backoff": "5ms", "jitter": "full",
         "retry_budget": "10%", "pool": 50, "breaker": {"failures": 5, "cool_down": "1s"}},
    ],
    "journeys": {"page": {"entry": "web", "rps": "20/s",
                          "slo": {"availability": "99%", "latency": {"p99": "500ms"}}}},
}

#: what `breaker:` the resilient demo canvas needs to say what the demo does
#: (faultlab/demo/budget.py: 5 consecutive failures open it, one probe after 1 s)
BREAKER_YAML = "    breaker: {failures: 5, cool_down: 1s, failure_ratio: 50%}\n"


def canvas_of(**changes: Any) -> Canvas:
    """BASE with top-level sections replaced, or ``services__web={...}`` merged into one
    part, ``dep0={...}`` merged into a dependency."""
    data = copy.deepcopy(BASE)
    for key, value in changes.items():
        if key.startswith("dep"):
            data["dependencies"][int(key[3:])].update(value)
        elif "__" in key:
            section, name = key.split("__")
            data[section].setdefault(name, {}).update(value)
        else:
            data[key] = value
    return Canvas.model_validate(data)


def findings(canvas: Canvas, rule: str) -> list[Finding]:
    return [f for f in analyze(canvas, rules=ALL_RULES).findings if f.rule == rule]


def demo_text(variant: str) -> str:
    return (resources.files("faultlab.demo") / "canvas" / f"demo-{variant}.yaml").read_text(
        encoding="utf-8")


def demo(variant: str, breaker: bool = False) -> LoadedCanvas:
    text = demo_text(variant)
    if breaker and "breaker:" not in text:
        text = text.replace("    pool: 64                    # the bulkhead\n",
                            "    pool: 64                    # the bulkhead\n" + BREAKER_YAML)
        text = text.replace("    pool: 64\n", "    pool: 64\n" + BREAKER_YAML)
        assert text.count("breaker:") == 2
    return load_canvas_text(text, f"demo-{variant}.yaml")
