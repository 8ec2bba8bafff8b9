"""The text formats (DOT, Mermaid, D2): deterministic, and holding what a reader needs: a
cluster per zone with each node's boxes in it, distinct shapes, dashed soft calls with their
labels, entry arrows, and the highlights' styles on exactly the highlighted parts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from faultlab.canvas.draw import FORMATS, DrawError, Highlight, format_for, render, spof_nodes
from faultlab.canvas.draw.scene import build_scene, percent
from faultlab.canvas.model import Canvas
from faultlab.experiment.loader import load_document

from .conftest import NAIVE, SHOP, canvas_of, shop_findings

BLAST = Highlight.of(spof={"payments"}, blast={"checkout", "storefront->payments"},
                     focus="payments")
TEXT = ("dot", "mmd", "d2")


@pytest.mark.parametrize("fmt", TEXT)
def test_same_canvas_same_text(fmt: str) -> None:
    first = render(canvas_of(SHOP), fmt, highlight=BLAST)  # type: ignore[call-overload]
    again = render(canvas_of(SHOP), fmt, highlight=BLAST)  # type: ignore[call-overload]
    assert first == again
    assert render(canvas_of(SHOP), fmt) != first  # type: ignore[call-overload]


def test_yaml_canvas_draws_like_the_same_dict(tmp_path: Path) -> None:
    import yaml

    path = tmp_path / "shop.yaml"
    path.write_text(yaml.safe_dump(SHOP, sort_keys=False))
    assert render(load_document(path, Canvas), "dot") == render(canvas_of(SHOP), "dot")


def _cluster_bodies(dot: str) -> dict[str, str]:
    return dict(re.findall(r'subgraph "cluster_zone_(\w+)" \{(.*?)\n  \}', dot, re.S))


def test_dot_zones_are_clusters_with_a_box_per_node_per_zone(shop: Canvas) -> None:
    dot = render(shop, "dot")
    clusters = _cluster_bodies(dot)
    assert list(clusters) == ["a", "b", "c"]
    assert 'label="zone c · 99.95%"' in clusters["c"]
    for zone in ("a", "b"):
        assert f'"n_storefront_{zone}"' in clusters[zone]
        assert f'"n_inventory_{zone}"' in clusters[zone]
        assert "×2 of 4 · 99.5% each" in clusters[zone]  # inventory: 4 instances over 2
    assert all(f'"n_orders_db_{z}"' in clusters[z] for z in "abc")
    assert "quorum 2/3" in clusters["c"] and 'shape="cylinder"' in clusters["c"]
    assert "recommendations" not in clusters["a"] + clusters["b"]
    # payments has no zone: outside every cluster, and the only box of it
    assert '"n_payments"' not in "".join(clusters.values())
    assert len(re.findall(r'^  "n_payments" \[', dot, re.M)) == 1
    # a node's boxes share a column
    assert '{ rank=same; "n_orders_db_a"; "n_orders_db_b"; "n_orders_db_c"; }' in dot


def _edges(dot: str) -> list[tuple[str, str, str]]:
    return re.findall(r'^  "(\w+)" -> "(\w+)" \[(.*)\];$', dot, re.M)


def test_dot_edges_stay_in_zone_and_soft_ones_are_dashed(shop: Canvas) -> None:
    edges = {(t, h): attrs for t, h, attrs in _edges(render(shop, "dot"))}
    # same zone when the callee is there; across zones to every box where it is not
    assert ("n_storefront_a", "n_inventory_a") in edges
    assert ("n_storefront_a", "n_inventory_b") not in edges
    assert {("n_storefront_a", "n_recommendations_c"),
            ("n_storefront_b", "n_recommendations_c")} <= set(edges)
    soft = [a for (t, h), a in edges.items() if h == "n_recommendations_c"]
    assert all('style="dashed"' in a for a in soft)
    hard = [a for (t, h), a in edges.items() if h.startswith("n_inventory")]
    assert hard and not any("dashed" in a for a in hard)
    # the label once, on the first copy; every figure of the call in it
    labels = [a for a in soft if "label=" in a]
    assert len(labels) == 1 and 'label="soft · fallback 95% · timeout 100ms"' in labels[0]
    inv = edges[("n_storefront_a", "n_inventory_a")]
    assert 'label="timeout 300ms · 3 attempts\\nbudget 10%"' in inv
    assert 'label="no timeout"' in edges[("n_storefront_a", "n_payments")]
    assert "pool 20" in edges[("n_inventory_a", "n_orders_db_a")]


def test_dot_journeys_enter_at_every_box_of_their_entry(shop: Canvas) -> None:
    dot = render(shop, "dot")
    assert '"j_browse" [label="browse · 120/s\\nSLO 99.9% · p99 400ms", shape="cds"' in dot
    heads = {h for t, h, _ in _edges(dot) if t == "j_checkout"}
    assert heads == {"n_storefront_a", "n_storefront_b"}
    assert '{ rank=source; "j_browse"; "j_checkout"; }' in dot


def _node_attrs(dot: str, ident: str) -> str:
    m = re.search(rf'^\s*"{ident}" \[(.*)\];$', dot, re.M)
    assert m, ident
    return m.group(1)


def test_dot_highlights_only_what_is_highlighted(shop: Canvas) -> None:
    dot = render(shop, "dot", highlight=BLAST)
    pay = _node_attrs(dot, "n_payments")
    assert 'color="#cf222e"' in pay and "penwidth=3.0" in pay  # SPOF: red, thick
    assert 'fillcolor="#fb8f44"' in pay and "FAILED · SPOF" in pay  # the failed node
    assert 'fillcolor="#ffd8b5"' in _node_attrs(dot, "j_checkout")  # in the blast radius
    assert 'fillcolor="#dafbe1"' in _node_attrs(dot, "j_browse")  # not in it
    for name in ("n_storefront_a", "n_inventory_b", "n_orders_db_c"):
        assert "#cf222e" not in _node_attrs(dot, name)
        assert "#ffd8b5" not in _node_attrs(dot, name)
    down = {(t, h) for t, h, a in _edges(dot) if "penwidth=2.2" in a}
    assert down == {("n_storefront_a", "n_payments"), ("n_storefront_b", "n_payments")}
    plain = render(shop, "dot")
    assert "#cf222e" not in plain and "#ffd8b5" not in plain and "SPOF" not in plain


def test_a_zone_in_the_blast_radius_is_drawn_so(shop: Canvas) -> None:
    dot = render(shop, "dot", highlight=Highlight.of(blast={"c", "recommendations"},
                                                     focus="c"))
    clusters = _cluster_bodies(dot)
    assert 'bgcolor="#fff1e5"' in clusters["c"]
    assert 'bgcolor="#fff1e5"' not in clusters["a"]
    assert "DOWN" in _node_attrs(dot, "n_recommendations_c")


def test_mermaid_flowchart(shop: Canvas) -> None:
    mmd = render(shop, "mmd", highlight=BLAST)
    lines = mmd.splitlines()
    assert lines[0] == "flowchart LR"
    assert '  subgraph zone_a["zone a · 99.99%"]' in lines
    assert '    n_orders_db_c[("<b>orders-db</b><br/>×1 of 3 · quorum 2/3 · 99.9% each")]' \
        in lines
    assert ('  n_storefront_a -.->|"soft · fallback 95% · timeout 100ms"| '
            "n_recommendations_c") in lines
    assert "  n_storefront_b -.-> n_recommendations_c" in lines
    assert "  j_browse ==> n_storefront_a" in lines
    assert "  class n_payments spof" in lines and "  class n_payments focus" in lines
    # linkStyle indexes: the links in the order written
    links = [ln for ln in lines if re.match(r"  \w+ (-->|-\.->|==>)", ln)]
    down = next(ln for ln in lines if ln.startswith("  linkStyle") and "#bc4c00" in ln)
    idx = [int(i) for i in down.split()[1].split(",")]
    assert {links[i].split()[0] for i in idx} == {"j_checkout", "n_storefront_a",
                                                   "n_storefront_b"}
    assert all("n_payments" in links[i] or "j_checkout" in links[i] for i in idx)
    soft = next(ln for ln in lines if "stroke-dasharray" in ln)
    assert all("-.->" in links[int(i)] for i in soft.split()[1].split(","))


def test_d2_source(shop: Canvas) -> None:
    d2 = render(shop, "d2", highlight=BLAST)
    assert d2.startswith("direction: right\n")
    assert 'zone_a: "zone a · 99.99%" {' in d2
    assert "  n_orders_db_a: \"orders-db\\n×1 of 3 · quorum 2/3 · 99.9% each\" {\n" \
        "    shape: cylinder" in d2
    assert ('zone_a.n_storefront_a -> zone_c.n_recommendations_c: "soft · fallback 95% · '
            'timeout 100ms" {style: {stroke: "#57606a"; stroke-dash: 4}}') in d2
    assert 'zone_b.n_storefront_b -> n_payments: {style: {stroke: "#bc4c00"; ' \
        "stroke-width: 3}}" in d2
    assert "FAILED · SPOF" in d2


def test_no_zones_no_clusters(naive: Canvas) -> None:
    dot = render(naive, "dot")
    assert "subgraph" not in dot and "subgraph" not in render(naive, "mmd")
    assert [(t, h) for t, h, _ in _edges(dot)] == [
        ("j_page", "n_storefront"), ("n_storefront", "n_inventory"), ("n_inventory", "n_data")]
    assert dot.count('label="no timeout"') == 2


def test_ids_are_unique_and_plain_whatever_the_names() -> None:
    doc = {"name": "odd", "services": {"a-b": {}, "a_b": {}, "a.b": {"zones": ["z-1"]}},
           "zones": {"z-1": {}}, "dependencies": [{"from": "a-b", "to": "a_b"}]}
    scene = build_scene(canvas_of(doc))
    ids = [b.id for b in scene.boxes()] + [c.id for c in scene.clusters]
    assert len(set(ids)) == len(ids) and all(re.fullmatch(r"\w+", i) for i in ids)


def test_unknown_node_is_a_clear_error() -> None:
    doc = {"name": "broken", "services": {"a": {}},
           "dependencies": [{"from": "a", "to": "ghost"}]}
    with pytest.raises(ValueError, match="a->ghost: the canvas has no service or datastore"):
        render(canvas_of(doc), "dot")


def test_formats_from_suffixes_and_bad_ones() -> None:
    assert [format_for(Path(f"x.{s}")) for s in ("svg", "PNG", "gv", "mmd", "d2")] == [
        "svg", "png", "dot", "mmd", "d2"]
    with pytest.raises(DrawError, match="cannot tell the format"):
        format_for(Path("x.pdf"))
    with pytest.raises(DrawError, match="unknown format"):
        render(canvas_of(NAIVE), "pdf")  # type: ignore[call-overload]
    assert set(FORMATS) == {"dot", "svg", "png", "mmd", "d2"}


def test_spof_nodes_from_findings(shop: Canvas) -> None:
    assert spof_nodes(shop_findings(), shop) == {"payments"}


@pytest.mark.parametrize(("ratio", "text"), [(0.999, "99.9%"), (0.99987, "99.987%"),
                                             (0.5, "50%"), (1.0, "100%"), (0.9999, "99.99%")])
def test_percent(ratio: float, text: str) -> None:
    assert percent(ratio) == text
