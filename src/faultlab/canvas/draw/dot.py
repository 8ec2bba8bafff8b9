"""A scene as Graphviz DOT source: zones as clusters, services as rounded boxes, datastores
as cylinders, journeys as entry arrows on the left (``rankdir=LR``), soft calls dashed."""

from __future__ import annotations

import html

from faultlab.canvas.draw.scene import COLORS as C
from faultlab.canvas.draw.scene import Box, Cluster, Edge, Entry, Scene

__all__ = ["to_dot"]

FONT = "Helvetica"


def _q(text: str) -> str:
    """A quoted DOT string; a newline becomes DOT's centred line break."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _attrs(*raw: str, **attrs: str | float) -> str:
    """``[a="x", b=1.5]``; ``raw`` items are already ``key=value`` (HTML-like labels)."""
    return "[" + ", ".join([*raw, *(f"{k}={v if isinstance(v, float) else _q(v)}"
                                    for k, v in attrs.items())]) + "]"


def _html(text: str) -> str:
    return html.escape(text, quote=True)


def _box_label(box: Box) -> str:
    tags = []
    if box.focus:
        tags.append("FAILED")
    elif box.down:
        tags.append("DOWN")
    if box.spof:
        tags.append("SPOF")
    label = (f"<b>{_html(box.node)}</b><br/><font point-size=\"9\" color=\"{C['muted']}\">"
             f"{_html(box.detail)}</font>")
    if tags:
        label += (f"<br/><font point-size=\"9\" color=\"{C['tag']}\"><b>"
                  f"{' · '.join(tags)}</b></font>")
    return f"<{label}>"


def _box(box: Box) -> str:
    fill, line = ((C["datastore"], C["datastore_line"]) if box.datastore
                  else (C["service"], C["service_line"]))
    width = 1.2
    if box.down:
        fill, line, width = C["down"], C["down_line"], 2.0
    if box.focus:
        fill, width = C["focus"], 3.0
    if box.spof:
        line, width = C["spof"], 3.0
    shape, style = ("cylinder", "filled") if box.datastore else ("box", "rounded,filled")
    return f"{_q(box.id)} " + _attrs(f"label={_box_label(box)}", shape=shape, style=style,
                                     fillcolor=fill, color=line, penwidth=width,
                                     tooltip=box.detail)


def _cluster(cluster: Cluster, indent: str) -> list[str]:
    fill, line = ((C["down_zone"], C["down_line"]) if cluster.down
                  else (C["zone"], C["line"]))
    lines = [f"{indent}subgraph {_q('cluster_' + cluster.id)} {{",
             f"{indent}  graph {_attrs(label=cluster.title, style='rounded,dashed', color=line, bgcolor=fill, fontcolor=C['muted'], labeljust='l')};"]  # noqa: E501
    lines += [f"{indent}  {_box(b)};" for b in cluster.boxes]
    lines.append(f"{indent}}}")
    return lines


def _edge(edge: Edge) -> str:
    color = C["down_line"] if edge.down else (C["line"] if edge.soft else C["muted"])
    attrs: dict[str, str | float] = {"color": color, "fontcolor": C["muted"]}
    if edge.soft:
        attrs["style"] = "dashed"
    if edge.down:
        attrs["penwidth"] = 2.2
        attrs["fontcolor"] = C["down_line"]
    if edge.parts:
        attrs["label"] = "\n".join(edge.lines())
    attrs["tooltip"] = edge.dependency
    return f"{_q(edge.tail)} -> {_q(edge.head)} {_attrs(**attrs)}"


def _entry(entry: Entry) -> list[str]:
    fill, line = (C["down"], C["down_line"]) if entry.down else (C["entry"], C["entry_line"])
    lines = [f"{_q(entry.id)} " + _attrs(label=entry.label, shape="cds", style="filled",
                                          fillcolor=fill, color=line, penwidth=1.2)]
    lines += [f"{_q(entry.id)} -> {_q(h)} "
              + _attrs(color=line, penwidth=2.0, arrowhead="normal", tooltip=entry.journey)
              for h in entry.heads]
    return lines


def _same_ranks(scene: Scene) -> list[str]:
    """A node's boxes side by side across the zones (one column in ``rankdir=LR``), so a
    replica no call reaches is not drawn at the far left."""
    groups: dict[str, list[str]] = {}
    for box in scene.boxes():
        groups.setdefault(box.node, []).append(box.id)
    return ["  { rank=same; " + " ".join(_q(i) + ";" for i in ids) + " }"
            for ids in groups.values() if len(ids) > 1]


def to_dot(scene: Scene) -> str:
    out = [f"digraph {_q(scene.name)} {{",
           "  graph " + _attrs(rankdir="LR", fontname=FONT, fontsize=11.0, nodesep=0.3,
                               ranksep=0.7, pad=0.25, newrank="true", compound="true") + ";",
           "  node " + _attrs(fontname=FONT, fontsize=11.0, fontcolor=C["text"],
                              margin="0.15,0.06") + ";",
           "  edge " + _attrs(fontname=FONT, fontsize=9.0, arrowsize=0.7) + ";"]
    for cluster in scene.clusters:
        out += _cluster(cluster, "  ")
    out += [f"  {_box(b)};" for b in scene.loose]
    for entry in scene.entries:
        out += [f"  {line};" for line in _entry(entry)]
    if scene.entries:
        out.append("  { rank=source; " + " ".join(_q(e.id) + ";" for e in scene.entries)
                   + " }")
    out += _same_ranks(scene)
    out += [f"  {_edge(e)};" for e in scene.edges]
    out.append("}")
    return "\n".join(out) + "\n"
