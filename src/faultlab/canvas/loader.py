"""The only place YAML becomes a :class:`~faultlab.canvas.model.Canvas`.

The experiment loader's discipline, through its own reading: a regular file of at most
:data:`~faultlab.experiment.loader.MAX_FILE_BYTES`, ``vars:`` and ``--var``, bounded values
and nesting; then the model, then the checks across parts (:mod:`.semantic`). Either a
validated canvas comes back (with warnings for values valid but probably not meant, such as
``availability: 0.99%``), or :class:`~faultlab.experiment.errors.ExperimentError` whose every
problem is one line ``file:line:col: path: message (hint: ...)``. No other exception escapes
for any input (tests/canvas/test_fuzz_loader.py). Positions are kept on the result, so what
is said about a canvas later (a finding) can point into the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path as FsPath

from faultlab.canvas.model import Canvas
from faultlab.canvas.semantic import check, subject_path
from faultlab.experiment.errors import Problem
from faultlab.experiment.loader import Document, read_document, read_document_text
from faultlab.experiment.yamlpos import Path, Positions

__all__ = ["LIMITS", "LoadedCanvas", "load_canvas", "load_canvas_text"]

#: most entries of each collection of a canvas (zones are enumerated up and down together:
#: 2^zones states, so they are kept few)
LIMITS: Mapping[Path, tuple[int, str]] = {
    ("zones",): (12, "zones"),
    ("services",): (500, "services"),
    ("datastores",): (500, "datastores"),
    ("dependencies",): (2000, "dependencies"),
    ("journeys",): (200, "journeys"),
}


@dataclass(frozen=True)
class LoadedCanvas:
    canvas: Canvas
    source: str  # file name as given
    sha256: str  # of the file's bytes
    variables: Mapping[str, object]
    positions: Positions | None = None
    warnings: tuple[Problem, ...] = ()

    def locate(self, path: Path) -> str:
        """``file:line:col`` of a value, for located messages after loading."""
        line, col = self.positions.of(path) if self.positions is not None else (1, 1)
        return f"{self.source}:{line}:{col}"

    def locate_subject(self, subject: str) -> str:
        """``file:line:col`` of what a finding is about (a journey, node, zone or edge id)."""
        return self.locate(subject_path(self.canvas, subject))


def load_canvas(file: str | FsPath, overrides: Mapping[str, str] | None = None
                ) -> LoadedCanvas:
    return _loaded(read_document(file, Canvas, overrides, check=_check, precheck=_too_many))


def load_canvas_text(text: str, source: str = "<canvas>",
                     overrides: Mapping[str, str] | None = None, sha256: str | None = None
                     ) -> LoadedCanvas:
    return _loaded(read_document_text(text, source, Canvas, overrides, sha256=sha256,
                                      check=_check, precheck=_too_many))


def _loaded(doc: Document[Canvas]) -> LoadedCanvas:
    return LoadedCanvas(doc.value, doc.source, doc.sha256, doc.variables, doc.positions,
                        doc.warnings)


def _check(canvas: Canvas, data: object, secrets: Mapping[str, str]
           ) -> list[tuple[Path, str, str, bool]]:
    return list(check(canvas))


def _too_many(data: object) -> list[tuple[Path, str, str]]:
    """Collections beyond :data:`LIMITS` (the analyses enumerate zone states and walk
    paths; a canvas is a design, with tens of parts)."""
    out: list[tuple[Path, str, str]] = []
    if not isinstance(data, dict):
        return out
    for path, (most, what) in LIMITS.items():
        value = data.get(path[0])
        if isinstance(value, dict | list) and len(value) > most:
            out.append((path, f"more than {most} {what}", "a canvas describes a design; "
                        "draw one canvas per system"))
    return out
