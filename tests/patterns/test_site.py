"""The static site: self-contained pages, every pattern linked from the index, and read in
headless Chromium (screenshots in /tmp/faultlab-patterns-site)."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest

from faultlab.patterns.catalogue import catalogue
from faultlab.patterns.site import markdown_sections, write_site
from faultlab.report.browser import find_chromium, open_page

ARTIFACTS = Path("/tmp/faultlab-patterns-site")
DOCS = Path(__file__).parents[2] / "docs" / "patterns.md"
MARKER = "<!-- generated from patterns/data by `faultlab patterns markdown`; do not edit -->\n"

PROBE = """JSON.stringify({
  cards: Array.from(document.querySelectorAll('a.card')).map(a => a.dataset.pattern),
  families: Array.from(document.querySelectorAll('section[data-family]')).map(
    s => s.dataset.family),
  rules: Array.from(document.querySelectorAll('tr[data-rule]')).map(r => r.dataset.rule),
  resources: performance.getEntriesByType('resource').map(e => e.name),
  width: document.documentElement.scrollWidth, text: document.body.innerText})"""


def _refs(html: str) -> list[str]:
    refs = re.findall(r"""\b(?:src|href|action)\s*=\s*["']([^"']+)""", html, re.I)
    return [r for r in refs if not re.fullmatch(r"[a-z0-9-]+\.html", r)] + re.findall(
        r"url\(|@import|<link\b|<script\b|<iframe\b", html, re.I)


def test_site_is_self_contained_and_links_every_page(tmp_path: Path) -> None:
    index = write_site(catalogue(), tmp_path)
    pages = sorted(p.stem for p in tmp_path.glob("*.html") if p.name != "index.html")
    assert pages == sorted(e.name for e in catalogue())
    for page in tmp_path.glob("*.html"):
        html = page.read_text(encoding="utf-8")
        assert _refs(html) == [], page.name
        for target in re.findall(r'href="([a-z0-9-]+)\.html"', html):
            assert (tmp_path / f"{target}.html").exists(), (page.name, target)
    assert all(f'href="{name}.html"' in index.read_text(encoding="utf-8") for name in pages)


@pytest.mark.skipif(find_chromium() is None, reason="needs Chromium")
def test_site_reads_in_a_browser(tmp_path: Path) -> None:
    write_site(catalogue(), tmp_path)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for name, width in (("index", 1280), ("circuit-breaker", 1280), ("timeouts", 420)):
        load = asyncio.run(open_page(tmp_path / f"{name}.html", evaluate=PROBE,
                                     screenshot=True, width=width))
        assert load.errors == [] and load.screenshot is not None
        (ARTIFACTS / f"{name}-{width}.png").write_bytes(load.screenshot)
        assert isinstance(load.value, str)
        page = json.loads(load.value)
        assert page["resources"] == [] and page["width"] <= width
        if name == "index":
            assert len(page["cards"]) == len(catalogue())
            assert page["families"] == ["reliability", "deployment", "foundational",
                                        "observability"]
        else:
            entry = next(e for e in catalogue() if e.name == name)
            assert page["rules"] == entry.rule_ids()
            for text in ("When not to use", "Oracle", entry.references[0]):
                assert text in page["text"]


def test_docs_pattern_sections_are_current() -> None:
    doc = DOCS.read_text(encoding="utf-8")
    assert MARKER in doc, "docs/patterns.md lost its marker"
    assert doc.split(MARKER, 1)[1] == markdown_sections(catalogue()), (
        "regenerate: faultlab patterns markdown, after the marker of docs/patterns.md")
