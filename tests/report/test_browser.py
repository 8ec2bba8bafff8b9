"""The report in a real headless Chromium: it renders without console errors, every chart
has data, the verdicts shown are result.json's, zoom works, and file text stays text.
Screenshots are written to test-artifacts/ for people to look at."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest

from faultlab.report import write_report
from faultlab.report.browser import PageLoad, find_chromium, open_page

from .conftest import ARTIFACTS

pytestmark = pytest.mark.skipif(find_chromium() is None, reason="needs Chromium")

PROBE = """JSON.stringify({
  charts: Array.from(document.querySelectorAll('.chart[data-chart]')).map(c => ({
    id: c.dataset.chart, points: Number(c.dataset.points || 0),
    paths: c.querySelectorAll('path.line').length})),
  specs: JSON.parse(document.getElementById('report-data').textContent).charts.length,
  banners: Array.from(document.querySelectorAll('.banner')).map(b => ({
    run: b.dataset.run, status: b.querySelector('.status').dataset.status})),
  clauses: Array.from(document.querySelectorAll('[data-clause]')).map(c => ({
    name: c.dataset.clause, run: c.dataset.run || null, held: c.dataset.held === 'true'})),
  pwned: window.pwned === undefined ? null : window.pwned,
  text: document.body.innerText,
})"""


def _open(path: Path, shot: str, **kw: Any) -> tuple[PageLoad, dict[str, Any]]:
    load = asyncio.run(open_page(path, evaluate=PROBE, screenshot=True, **kw))
    ARTIFACTS.mkdir(exist_ok=True)
    assert load.screenshot is not None and load.screenshot.startswith(b"\x89PNG")
    (ARTIFACTS / shot).write_bytes(load.screenshot)
    assert isinstance(load.value, str)
    return load, json.loads(load.value)


def _check_charts(page: dict[str, Any]) -> None:
    assert page["specs"] == len(page["charts"]) >= 3
    for chart in page["charts"]:
        assert chart["points"] > 0, f"chart {chart['id']} drew nothing"
        if chart["id"] != "timeline":
            assert chart["paths"] > 0


def _result(run_dir: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((run_dir / "result.json").read_text())
    return doc


def test_single_report_renders_with_verdicts_from_result_json(naive_run: Path) -> None:
    html, _ = write_report([naive_run])
    load, page = _open(html, "report-single.png")
    assert load.errors == []
    _check_charts(page)
    doc = _result(naive_run)
    assert [b["status"] for b in page["banners"]] == [doc["status"]]
    assert {c["name"]: c["held"] for c in page["clauses"]} == {
        c["name"]: c["held"] for c in doc["clauses"]}
    assert "VIOLATED" in page["text"] and "during: pages-served" in page["text"]


def test_comparison_shows_each_runs_verdict(naive_run: Path, resilient_run: Path,
                                            tmp_path: Path) -> None:
    html, _ = write_report([naive_run, resilient_run], tmp_path / "cmp")
    load, page = _open(html, "report-comparison.png")
    assert load.errors == []
    _check_charts(page)
    docs = {"naive": _result(naive_run), "resilient": _result(resilient_run)}
    assert {b["run"]: b["status"] for b in page["banners"]} == {
        "naive": "violated", "resilient": "held"}
    for c in page["clauses"]:
        expected = next(x for x in docs[c["run"]]["clauses"] if x["name"] == c["name"])
        assert c["held"] is expected["held"], c
    assert len(page["clauses"]) == sum(len(d["clauses"]) for d in docs.values())


def test_text_from_files_is_shown_as_text_not_run(hostile_run: Path) -> None:
    html, _ = write_report([hostile_run])
    load, page = _open(html, "report-hostile.png")
    assert load.errors == []
    assert page["pwned"] is None
    assert '<img src=x onerror="window.pwned=2">' in page["text"]
    assert [b["status"] for b in page["banners"]] == ["revert_failed"]
    assert "REVERT FAILED" in page["text"]


ZOOM = """(() => {
  const before = Number(document.querySelector('[data-chart="rps"]').dataset.points);
  const ov = document.querySelector('[data-chart="rps"] rect.overlay');
  const r = ov.getBoundingClientRect();
  const at = (type, f) => ov.dispatchEvent(new MouseEvent(type, {bubbles: true,
      clientX: r.left + r.width * f, clientY: r.top + r.height / 2}));
  at('mousemove', 0.52);
  const tip = document.querySelector('[data-chart="rps"] .tip').innerText;
  at('mousedown', 0.25); at('mousemove', 0.5); at('mouseup', 0.5);
  const after = Number(document.querySelector('[data-chart="rps"]').dataset.points);
  const latency = Number(document.querySelector('[data-chart="latency"]').dataset.points);
  const reset = !document.querySelector('.reset-zoom').hidden;
  ov.dispatchEvent(new MouseEvent('dblclick', {bubbles: true}));
  const back = Number(document.querySelector('[data-chart="rps"]').dataset.points);
  return JSON.stringify({before, after, latency, reset, back, tip});
})()"""


def test_hover_shows_values_and_drag_zooms_every_chart(naive_run: Path) -> None:
    html, _ = write_report([naive_run])
    load = asyncio.run(open_page(html, evaluate=ZOOM))
    assert load.errors == []
    assert isinstance(load.value, str)
    z = json.loads(load.value)
    k = int(re.match(r"second (\d+)", z["tip"]).group(1))  # type: ignore[union-attr]
    (fault,) = _result(naive_run)["faults"]
    assert fault["injected_at"] < k < fault["reverted_at"] - 1  # inside the fault window
    second = next(e for e in map(json.loads, (naive_run / "journal.jsonl").read_text()
                                 .splitlines()) if e["event"] == "second" and e["second"] == k)
    assert second["failed"] > 0  # failures show
    assert f"sent: {second['sent']}/s" in z["tip"] and f"failed: {second['failed']}/s" in z["tip"]
    assert z["reset"] and z["after"] < z["before"] and z["latency"] < z["before"]
    assert z["back"] == z["before"]
