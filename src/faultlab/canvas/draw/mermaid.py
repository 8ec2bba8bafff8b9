"""A scene as a Mermaid flowchart (text that GitHub and many wikis render): zones as
subgraphs, datastores as cylinders, journeys as stadiums with thick arrows, soft calls as
dotted links; highlights as classes (and SPOF/DOWN in the label, for renderers that drop
styles)."""

from __future__ import annotations

from faultlab.canvas.draw.scene import COLORS as C
from faultlab.canvas.draw.scene import Box, Scene

__all__ = ["to_mermaid"]


def _text(text: str) -> str:
    """A quoted Mermaid label; a newline becomes a line break."""
    return '"' + text.replace('"', "#quot;").replace("\n", "<br/>") + '"'


def _tags(box: Box) -> str:
    tags = (["FAILED"] if box.focus else ["DOWN"] if box.down else []) + (
        ["SPOF"] if box.spof else [])
    return "<br/>" + " · ".join(tags) if tags else ""


def _node(box: Box) -> str:
    label = _text(f"<b>{box.node}</b><br/>{box.detail}{_tags(box)}")
    return f"{box.id}[({label})]" if box.datastore else f"{box.id}[{label}]"


CLASSES = {
    "service": f"fill:{C['service']},stroke:{C['service_line']},color:{C['text']}",
    "datastore": f"fill:{C['datastore']},stroke:{C['datastore_line']},color:{C['text']}",
    "entry": f"fill:{C['entry']},stroke:{C['entry_line']},color:{C['text']}",
    "down": f"fill:{C['down']},stroke:{C['down_line']},stroke-width:2px",
    "focus": f"fill:{C['focus']},stroke:{C['down_line']},stroke-width:3px",
    "spof": f"stroke:{C['spof']},stroke-width:3px",
}


def to_mermaid(scene: Scene) -> str:
    out = ["flowchart LR"]
    for cluster in scene.clusters:
        out.append(f"  subgraph {cluster.id}[{_text(cluster.title)}]")
        out += [f"    {_node(b)}" for b in cluster.boxes]
        out.append("  end")
    out += [f"  {_node(b)}" for b in scene.loose]
    links: list[tuple[str, bool]] = []  # (style class, down) per link, in order
    for entry in scene.entries:
        out.append(f"  {entry.id}([{_text(entry.label)}])")
        for head in entry.heads:
            out.append(f"  {entry.id} ==> {head}")
            links.append(("entry", entry.down))
    for edge in scene.edges:
        arrow = "-.->" if edge.soft else "-->"
        label = "|" + _text("\n".join(edge.lines())) + "|" if edge.parts else ""
        out.append(f"  {edge.tail} {arrow}{label} {edge.head}")
        links.append(("soft" if edge.soft else "hard", edge.down))
    out += [f"  classDef {name} {style}" for name, style in CLASSES.items()]
    boxes = scene.boxes()
    members = {
        "service": [b.id for b in boxes if not b.datastore],
        "datastore": [b.id for b in boxes if b.datastore],
        "entry": [e.id for e in scene.entries if not e.down],
        "down": [b.id for b in boxes if b.down and not b.focus]
        + [e.id for e in scene.entries if e.down],
        "focus": [b.id for b in boxes if b.focus],
        "spof": [b.id for b in boxes if b.spof],
    }
    out += [f"  class {','.join(ids)} {name}" for name, ids in members.items() if ids]
    out += [f"  style {c.id} fill:{C['down_zone']},stroke:{C['down_line']}"
            for c in scene.clusters if c.down]
    for kind, color, extra in (("entry", C["entry_line"], ",stroke-width:2px"),
                               ("soft", C["line"], ",stroke-dasharray:4 3")):
        idx = [str(i) for i, (k, down) in enumerate(links) if k == kind and not down]
        if idx:
            out.append(f"  linkStyle {','.join(idx)} stroke:{color}{extra}")
    down = [str(i) for i, (_, d) in enumerate(links) if d]
    if down:
        out.append(f"  linkStyle {','.join(down)} stroke:{C['down_line']},stroke-width:3px")
    return "\n".join(out) + "\n"
