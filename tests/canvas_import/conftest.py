"""Helpers of the importer tests: the sample files, and the checks every import's output
and every import's error must pass."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from faultlab.canvas.importers import Imported, ImportFileError, Text
from faultlab.canvas.loader import load_canvas
from faultlab.canvas.model import Canvas

DATA = Path(__file__).parent / "data"
YAML_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


def loads_as_canvas(imported: Imported, tmp_path: Path) -> Canvas:
    """The imported text through the loader a canvas file goes through (its cross-checks
    included: every dependency's ends and every journey's entry exist)."""
    file = tmp_path / "canvas.yaml"
    file.write_text(imported.text, encoding="utf-8")
    canvas = load_canvas(file).canvas
    if "${" not in imported.text:  # Imported.canvas() substitutes no vars
        assert canvas == imported.canvas()
    return canvas


def check_problems(error: ImportFileError, sources: dict[str, str]) -> None:
    """Each problem is one line ``file:line:col: ...`` inside the file it names."""
    assert error.problems, "an ImportFileError without problems"
    for problem in error.problems:
        rendered = str(problem)
        assert len(rendered.splitlines()) == 1, rendered
        assert rendered.startswith(f"{problem.file}:{problem.line}:{problem.column}: ")
        assert problem.file in sources, rendered
        last_line = len(YAML_LINE_BREAK.split(sources[problem.file])) + 1
        assert 1 <= problem.line <= last_line, rendered
        assert problem.column >= 1 and problem.message, rendered


def import_error(importer: Callable[[Text], Imported], text: str, name: str) -> ImportFileError:
    """The error ``importer`` raises for ``text``, checked to be located in it."""
    with pytest.raises(ImportFileError) as caught:
        importer(Text(text, name))
    check_problems(caught.value, {name: text})
    return caught.value
