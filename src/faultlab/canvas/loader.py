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

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path as FsPath

from pydantic import ValidationError

from faultlab.canvas.model import Canvas
from faultlab.canvas.semantic import check, subject_path
from faultlab.experiment.errors import Problem, format_path, problems_from
from faultlab.experiment.loader import (
    MAX_FILE_BYTES,
    _decode,
    _read,
    _Reading,
    _redact,
    _redacted,
    _too_large,
    advice,
)
from faultlab.experiment.yamlpos import Path, Positions, YamlProblem, suggestions

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
    raw = _read(file)
    return load_canvas_text(_decode(str(file), raw), str(file), overrides,
                            sha256=hashlib.sha256(raw).hexdigest())


def load_canvas_text(text: str, source: str = "<canvas>",
                     overrides: Mapping[str, str] | None = None, sha256: str | None = None
                     ) -> LoadedCanvas:
    if len(text) > MAX_FILE_BYTES:
        raise _too_large(source)
    if sha256 is None:
        sha256 = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    secrets: dict[str, str] = {}
    with suggestions():
        try:
            reading = _Reading(text, dict(overrides or {}), secrets)
        except YamlProblem as p:
            raise _redacted([Problem(source, p.line, p.column, format_path(p.path),
                                     p.message, p.hint)], secrets) from None
        problems = reading.unknown_overrides(source) + _too_many(source, reading)
        if problems:
            raise _redacted(problems, secrets)
        try:
            canvas = Canvas.model_validate(reading.data)
        except ValidationError as e:
            raise _redacted(problems_from(e, source, reading.positions, reading.data,
                                          reading.at, Canvas), secrets) from None
        problems = [reading.problem(source, path, msg, hint, key)
                    for path, msg, hint, key in check(canvas)]
        if problems:
            raise _redacted(problems, secrets)
        warnings = [Problem(source, *reading.positions.of(path), format_path(path), msg, hint,
                            warning=True) for path, msg, hint in advice(canvas, reading.data)]
    return LoadedCanvas(canvas, source, sha256, reading.variables, reading.positions,
                        tuple(_redact(w, secrets) for w in warnings))


def _too_many(source: str, reading: _Reading) -> list[Problem]:
    """Collections beyond :data:`LIMITS` (the analyses enumerate zone states and walk
    paths; a canvas is a design, with tens of parts)."""
    data = reading.data
    out: list[Problem] = []
    if not isinstance(data, dict):
        return out
    for path, (most, what) in LIMITS.items():
        value = data.get(path[0])
        if isinstance(value, dict | list) and len(value) > most:
            out.append(Problem(source, *reading.positions.of(path), format_path(path),
                               f"more than {most} {what}", "a canvas describes a design; "
                               "draw one canvas per system"))
    return out

