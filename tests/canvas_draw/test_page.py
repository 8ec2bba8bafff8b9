"""The canvas page: self-contained (nothing fetched), in real headless Chromium the diagram is
drawn with a size, the journeys and findings tables are there in order, no console error,
and text from the canvas or the findings stays text. Screenshots go to ARTIFACTS."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest

from faultlab.canvas.draw import Highlight, find_dot
from faultlab.canvas.findings import Finding, Severity
from faultlab.canvas.page import build_page, write_page
from faultlab.report.browser import PageLoad, find_chromium, open_page

from .conftest import ARTIFACTS, NAIVE, SHOP, canvas_of, shop_findings

needs_browser = pytest.mark.skipif(find_chromium() is None or find_dot() is None,
                                   reason="needs Chromium and Graphviz dot")

FIGURES = {"browse": {"availability": 0.99912, "error_budget_s": 2592.0},
           "checkout": {"availability": 0.99891}}
BLAST = Highlight.of(spof={"payments"}, blast={"checkout", "storefront->payments"},
                     focus="payments")

PROBE = """JSON.stringify({
  svg: (() => { const s = document.querySelector('.diagram svg');
    if (!s) return null; const r = s.getBoundingClientRect();
    return {w: r.width, h: r.height, nodes: s.querySelectorAll('g.node').length,
            visible: r.width > 0 && getComputedStyle(s).visibility !== 'hidden'}; })(),
  journeys: Array.from(document.querySelectorAll('tr[data-journey]')).map(r => ({
    name: r.dataset.journey, state: r.className, cells: r.cells.length})),
  findings: Array.from(document.querySelectorAll('tr[data-rule]')).map(r => [
    r.dataset.rule, r.dataset.severity]),
  resources: performance.getEntriesByType('resource').map(e => e.name),
  spof: Array.from(document.querySelectorAll('.diagram g.node')).filter(g =>
    g.textContent.includes('SPOF')).map(g => g.querySelector('title').textContent),
  status: document.querySelector('.banner .status').textContent,
  pwned: window.pwned === undefined ? null : window.pwned,
  overflow: document.documentElement.scrollWidth > window.innerWidth,
  text: document.body.innerText,
})"""


def _open(path: Path, shot: str, width: int = 1366) -> tuple[PageLoad, dict[str, Any]]:
    load = asyncio.run(open_page(path, evaluate=PROBE, screenshot=True, width=width))
    assert load.screenshot is not None and load.screenshot.startswith(b"\x89PNG")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / shot).write_bytes(load.screenshot)
    assert isinstance(load.value, str)
    page: dict[str, Any] = json.loads(load.value)
    return load, page


def _static_refs(html: str) -> list[str]:
    """Everything in the HTML that would make a browser fetch something."""
    refs = re.findall(r"""\b(?:src|href|xlink:href|action|poster)\s*=\s*["']?([^"'\s>]+)""",
                      html, re.I)
    refs = [r for r in refs if not r.startswith("#")]
    return refs + re.findall(r"url\(|@import|<link\b|<script\b|<iframe\b", html, re.I)


@needs_browser
def test_page_renders_diagram_and_tables(tmp_path: Path) -> None:
    path = write_page(canvas_of(SHOP), shop_findings(), tmp_path / "out", journeys=FIGURES,
                      highlight=BLAST)
    assert path == tmp_path / "out" / "index.html"
    html = path.read_text(encoding="utf-8")
    assert _static_refs(html) == []
    load, page = _open(path, "canvas-page-shop.png")
    assert load.errors == []
    assert page["resources"] == []  # nothing fetched
    assert page["svg"]["visible"] and page["svg"]["w"] > 600 and page["svg"]["h"] > 150
    assert page["svg"]["nodes"] == 11  # 9 boxes (a node per zone) + 2 journeys
    assert not page["overflow"]
    assert page["journeys"] == [{"name": "browse", "state": "meets", "cells": 9},
                                {"name": "checkout", "state": "misses", "cells": 9}]
    assert page["findings"] == [  # errors first, then by weight
        ["availability.slo-unreachable", "error"], ["spof.node", "error"],
        ["retries.amplification", "warning"], ["budget.error", "info"]]
    assert page["status"] == "2 ERRORS"
    for words in ("99.912% (meets)", "99.89% (misses)", "p99 ≤ 400ms", "30d",
                  "Well-Architected REL10", "retry at one layer only", "worst = 6",
                  "single point of failure", "blast radius"):
        assert words in page["text"]


@needs_browser
def test_page_of_a_canvas_without_zones_or_figures(tmp_path: Path) -> None:
    canvas = canvas_of(NAIVE)
    spof = Finding("spof.node", Severity.ERROR, "data", "data is a single point of failure",
                   {"instances": 1}, "Well-Architected REL10", "replicate data", ("page",))
    path = write_page(canvas, [spof], tmp_path)
    load, page = _open(path, "canvas-page-naive.png")
    assert load.errors == [] and page["resources"] == []
    assert page["svg"]["nodes"] == 4 and page["svg"]["h"] > 30
    assert page["journeys"] == [{"name": "page", "state": "", "cells": 9}]
    # SPOFs default to the spof.* findings' nodes: data's box alone is marked
    assert page["spof"] == ["n_data"]


@needs_browser
def test_text_from_the_canvas_and_findings_stays_text(tmp_path: Path) -> None:
    doc = {**NAIVE, "description": "<script>window.pwned=1</script> naive"}
    bad = Finding("spof.node", Severity.WARNING, "inventory",
                  '<img src=x onerror="window.pwned=2">', {"<b>k</b>": "</td><td>x"},
                  "</table><script>window.pwned=3</script>", "fix & go")
    path = write_page(canvas_of(doc), [bad], tmp_path)
    load, page = _open(path, "canvas-page-hostile.png")
    assert load.errors == [] and page["pwned"] is None and page["resources"] == []
    assert "<script>window.pwned=1</script> naive" in page["text"]
    assert '<img src=x onerror="window.pwned=2">' in page["text"]
    assert page["findings"] == [["spof.node", "warning"]]
    assert page["status"] == "1 WARNING"


@needs_browser
def test_page_of_the_real_analysis_fits_and_marks_a_zone_blast(tmp_path: Path) -> None:
    from faultlab.canvas.analysis import analyze
    from faultlab.canvas.draw import blast_highlight, spof_nodes
    from faultlab.canvas.page import figures_of

    canvas = canvas_of(SHOP)
    analysis = analyze(canvas)
    hl = blast_highlight(analysis.blast_of("c", "zone"), spof_nodes(analysis.findings, canvas))
    path = write_page(canvas, analysis.findings, tmp_path, journeys=figures_of(analysis),
                      highlight=hl)
    load, page = _open(path, "canvas-page-analysis.png")
    assert load.errors == [] and page["resources"] == []
    assert not page["overflow"]  # long figures wrap inside the table
    assert len(page["findings"]) == len(analysis.findings)
    assert page["spof"] == ["n_payments"]
    assert [j["state"] for j in page["journeys"]] == [
        "meets" if j.meets_slo else "misses" for j in analysis.journeys.values()]
    assert 'fill="#fff1e5"' in path.read_text()  # zone c drawn as lost


def test_page_is_deterministic_and_says_when_there_is_nothing_to_find() -> None:
    canvas = canvas_of(SHOP)
    assert build_page(canvas, []) == build_page(canvas, [])
    html = build_page(canvas, [])
    assert "No findings" in html and "NO WEAK POINT" in html


def test_page_without_graphviz_shows_the_dot_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    html = build_page(canvas_of(NAIVE), [])
    assert "apt-get install graphviz" in html and "digraph &quot;demo-naive&quot;" in html
