"""Canvases for the drawing tests: a shop spread over three zones (storefront and inventory in
two, a datastore of three replicas in all three, a soft recommendations call, an unzoned
payments service) and the demo's naive chain with no zones at all."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from faultlab.canvas.findings import Finding, Severity
from faultlab.canvas.model import Canvas

ARTIFACTS = Path("/tmp/faultlab-canvas-draw")

SHOP: dict[str, Any] = {
    "name": "shop",
    "description": "A web shop across three zones",
    "zones": {"a": {"availability": "99.99%"}, "b": {"availability": "99.99%"},
              "c": {"availability": "99.95%"}},
    "services": {
        "storefront": {"instances": 2, "zones": ["a", "b"], "availability": "99.9%"},
        "inventory": {"instances": 4, "zones": ["a", "b"], "availability": "99.5%"},
        "recommendations": {"instances": 1, "zones": ["c"], "availability": "99%"},
        "payments": {"availability": "99.95%"},
    },
    "datastores": {
        "orders-db": {"replicas": 3, "quorum": 2, "zones": ["a", "b", "c"],
                      "availability": "99.9%"},
    },
    "dependencies": [
        {"from": "storefront", "to": "inventory", "timeout": "300ms", "attempts": 3,
         "retry_budget": "10%"},
        {"from": "storefront", "to": "recommendations", "kind": "soft", "fallback": "95%",
         "timeout": "100ms"},
        {"from": "inventory", "to": "orders-db", "timeout": "200ms", "attempts": 2,
         "pool": 20},
        {"from": "storefront", "to": "payments"},
    ],
    "journeys": {
        "browse": {"entry": "storefront", "rps": "120/s",
                   "steps": ["storefront -> inventory", "storefront -> recommendations",
                             "inventory -> orders-db"],
                   "slo": {"availability": "99.9%", "latency": {"p99": "400ms"}}},
        "checkout": {"entry": "storefront", "rps": "8/s",
                     "steps": ["storefront -> inventory", "inventory -> orders-db",
                               "storefront -> payments"],
                     "slo": {"availability": "99.95%"}},
    },
}

NAIVE: dict[str, Any] = {
    "name": "demo-naive",
    "services": {"storefront": {}, "inventory": {}},
    "datastores": {"data": {}},
    "dependencies": [{"from": "storefront", "to": "inventory"},
                     {"from": "inventory", "to": "data"}],
    "journeys": {"page": {"entry": "storefront", "rps": "50/s",
                          "slo": {"availability": "99%"}}},
}


def canvas_of(doc: dict[str, Any]) -> Canvas:
    return Canvas.model_validate(doc)


def shop_findings() -> list[Finding]:
    return [
        Finding("spof.node", Severity.ERROR, "payments",
                "payments is a single point of failure for checkout (1 instance, no zone)",
                {"instances": 1, "availability": 0.9995, "traffic_share": 0.0625},
                "Well-Architected REL10", "run payments in two zones, or make it soft",
                ("checkout",), 8.0),
        Finding("availability.slo-unreachable", Severity.ERROR, "checkout",
                "cannot be met: the critical path allows at most 99.89%",
                {"computed": 0.99891, "slo": 0.9995}, "Nygard, Release It! ch. 4",
                "add a payments instance", ("checkout",), 8.0),
        Finding("retries.amplification", Severity.WARNING, "storefront->inventory",
                "up to 6 attempts reach orders-db for one request (3 × 2)",
                {"worst": 6, "with_budget": 2.2}, "Google SRE book ch. 22",
                "retry at one layer only", ("browse", "checkout"), 128.0),
        Finding("budget.error", Severity.INFO, "browse",
                "error budget 43m12s per 30 days", {"budget_s": 2592.0},
                "Google SRE workbook ch. 2", "", ("browse",), 1.0),
    ]


@pytest.fixture
def shop() -> Canvas:
    return canvas_of(SHOP)


@pytest.fixture
def naive() -> Canvas:
    return canvas_of(NAIVE)
