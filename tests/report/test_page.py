"""The page and the summary: self-contained, escaped, led by the verdict, built of sections."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

import faultlab.report
from faultlab import __version__
from faultlab.report import (
    Rendered,
    ReportContext,
    Slot,
    build_report,
    load_run,
    register_section,
    unregister_section,
    write_report,
)

from .story import run_story, story_text


def test_public_api_is_locked() -> None:
    assert sorted(faultlab.report.__all__) == [
        "Rendered", "ReportContext", "ReportError", "RunData", "Section", "Slot",
        "build_report", "load_run", "register_section", "registered_sections",
        "unregister_section", "write_report"]


def test_single_report_goes_into_the_run_directory(naive_run: Path) -> None:
    html_path, md_path = write_report([naive_run])
    assert (html_path, md_path) == (naive_run / "report.html", naive_run / "report.md")
    mdown = md_path.read_text()
    assert mdown.startswith("# data-down: **VIOLATED**")
    assert "during: pages-served" in mdown and "✗ **violated**" in mdown


def test_comparison_needs_an_output_directory(naive_run: Path, resilient_run: Path,
                                              tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="out_dir"):
        write_report([naive_run, resilient_run])
    html_path, md_path = write_report([naive_run, resilient_run], tmp_path / "cmp")
    assert html_path == tmp_path / "cmp" / "report.html"
    mdown = md_path.read_text()
    assert "- **naive**: **VIOLATED**" in mdown and "- **resilient**: **HELD**" in mdown
    assert "| clause | naive | resilient |" in mdown


def test_the_page_is_self_contained(naive_run: Path) -> None:
    html, _ = build_report([load_run(naive_run)])
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "@import" not in html
    assert not re.search(r"url\(\s*['\"]?(https?:|//)", html)
    assert "<script src" not in html and "<link" not in html


def test_the_page_leads_with_the_answer(naive_run: Path) -> None:
    html, mdown = build_report([load_run(naive_run)])
    order = [html.index(f'data-section="{s}"') for s in
             ("verdict", "findings", "charts", "clauses", "faults", "reproduce")]
    assert order == sorted(order)
    assert mdown.index("VIOLATED") < mdown.index("## What failed") < mdown.index("## Reproduce")


def test_text_from_files_is_escaped(hostile_run: Path) -> None:
    html, mdown = build_report([load_run(hostile_run)])
    assert "<script>window.pwned" not in html
    assert "<img src=x" not in html
    assert html.count("</script>") == 2  # the data block and the chart script, nothing else
    assert "&lt;img src=x onerror=&quot;window.pwned=2&quot;&gt;" in html
    data = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html,
                     re.S)
    assert data is not None
    labels = [b["label"] for b in json.loads(data.group(1))["bands"]]
    assert labels[0] == '<img src=x onerror="window.pwned=2"> (story-outage)'
    prose = re.sub(r"`[^`\n]*`", "", re.sub(r"```.*?```", "", mdown, flags=re.S))
    assert "<img" not in prose and "<script" not in prose
    assert "&lt;img src=x" in prose


def test_reproduction_details_are_shown(naive_run: Path) -> None:
    run = load_run(naive_run)
    html, mdown = build_report([run])
    assert run.record is not None and len(run.sha256) == 64
    for text in (run.record.experiment.sha256,
                 "faultlab run data-down.yaml --var variant=naive --seed 42", __version__):
        assert text in html and text in mdown


@dataclass(frozen=True)
class _CheckerSection:
    id: str = "test-checker"
    title: str = "Linearizability"
    slot: Slot = Slot.FINDINGS

    def render(self, ctx: ReportContext) -> Rendered:
        names = ", ".join(r.experiment for r in ctx.runs)
        return Rendered(f'<p class="checker">checked {len(ctx.runs)}: {names}</p>',
                        f"checked {len(ctx.runs)}")


@dataclass(frozen=True)
class _BrokenSection:
    id: str = "test-broken"
    title: str = "Broken plug-in"
    slot: Slot = Slot.DETAILS

    def render(self, ctx: ReportContext) -> Rendered:
        raise RuntimeError("plug-in bug")


def test_a_registered_section_is_placed_by_its_slot(naive_run: Path) -> None:
    register_section(_CheckerSection())
    try:
        html, mdown = build_report([load_run(naive_run)])
    finally:
        unregister_section("test-checker")
    assert '<p class="checker">checked 1: data-down</p>' in html
    assert (html.index('data-section="findings"') < html.index('data-section="test-checker"')
            < html.index('data-section="charts"'))
    assert "## Linearizability\n\nchecked 1" in mdown
    assert "test-checker" not in build_report([load_run(naive_run)])[0]


def test_a_failing_section_does_not_stop_the_report(naive_run: Path) -> None:
    register_section(_BrokenSection())
    try:
        html, _ = build_report([load_run(naive_run)])
    finally:
        unregister_section("test-broken")
    assert "could not be drawn: RuntimeError: plug-in bug" in html
    assert 'data-status="violated"' in html


def test_registering_something_that_is_not_a_section_fails() -> None:
    with pytest.raises(TypeError, match="not a report section"):
        register_section(object())  # type: ignore[arg-type]


def test_a_ten_minute_run_stays_small(tmp_path: Path) -> None:
    faults = ("  - {name: db, kind: story-outage, duration: 180s}\n"
              "  - {name: cache, kind: story-outage, start: 240s, duration: 60s}\n")
    run_dir, _ = run_story(tmp_path / "big", story_text("big", rate=500, before="294s",
                                                        faults=faults, cap=1000, step="100ms"))
    run = load_run(run_dir)
    assert len(run.seconds) >= 600
    html, _ = build_report([run])
    assert len(html.encode()) < 2_000_000
