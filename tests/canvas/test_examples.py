"""The demo system's canvases (examples/canvas/, the lead's): what the analysis says of each."""

from __future__ import annotations

import pytest

from faultlab.canvas.analysis import Analysis, analyze
from faultlab.canvas.loader import load_canvas

from .conftest import EXAMPLES


def _analysis(name: str) -> Analysis:
    path = EXAMPLES / name
    if not path.exists():
        pytest.skip(f"{path} is not written yet")
    return analyze(load_canvas(path).canvas)


def test_naive() -> None:
    result = _analysis("demo-naive.yaml")
    page = result.journeys["product-page"]
    assert set(page.spofs) >= {"inventory", "data"}
    rules = {(f.rule, f.subject) for f in result.findings}
    assert ("timeouts.missing", "storefront->inventory") in rules
    assert ("timeouts.missing", "inventory->data") in rules
    assert ("spof.node", "data") in rules


def test_resilient() -> None:
    result = _analysis("demo-resilient.yaml")
    page = result.journeys["product-page"]
    assert "inventory" not in page.spofs and "data" not in page.spofs
    assert result.blast_of("data").failed == () and result.blast_of("data").degraded
    assert not [f for f in result.findings if f.rule.startswith(("timeouts.missing",
                                                                 "timeouts.budget"))]
