"""What the importers share: bounded reading of several multi-document YAML files with the
position of every value, located problems and notes, and names a canvas accepts.

An importer reads files written for another tool, so it is lenient where that tool is (an
entity of a kind a canvas has no place for is a note, not an error) and strict where the
input is broken (bad YAML, a reference to nothing): every such problem is collected as one
line ``file:line:col: message (hint: ...)`` and raised together as :class:`ImportFileError`.
No other exception escapes for any input; reading is linear in its size (at most
:data:`MAX_FILE_BYTES` per file, :data:`MAX_DOCUMENTS` documents, the value and depth bounds
of :mod:`faultlab.experiment.yamlpos`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import yaml
from pydantic import ValidationError

from faultlab.canvas.model import Canvas
from faultlab.experiment.errors import ExperimentError, Problem
from faultlab.experiment.loader import MAX_FILE_BYTES

# The experiment loader's bounded reader (regular files only, 1 MiB, UTF-8 located).
from faultlab.experiment.loader import decode_text as decode_bytes
from faultlab.experiment.loader import read_bounded as read_bytes
from faultlab.experiment.yamlpos import (
    MAX_DEPTH,
    MAX_VALUES,
    Budget,
    Converter,
    Path,
    Positions,
    YamlProblem,
)

__all__ = ["MAX_DOCUMENTS", "MAX_FILE_BYTES", "Document", "ImportFileError", "Imported",
           "Note", "Report", "Source", "Text", "canvas_name", "compose_one", "finish",
           "located", "nothing", "read_documents", "read_text", "sources_of", "text_of"]

#: the most YAML documents read from all the files of one import together
MAX_DOCUMENTS = 5000


@dataclass(frozen=True)
class Text:
    """Input given as text rather than as a file path; ``name`` stands for the file."""

    text: str
    name: str = "<text>"


#: a file path, or :class:`Text`
Source = str | os.PathLike[str] | Text


@dataclass(frozen=True)
class Note:
    """Something the input could not say, or that the import decided for it."""

    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return str(Problem(self.file, self.line, self.column, "", f"note: {self.message}"))


class ImportFileError(ExperimentError):
    """The input cannot be imported; ``problems`` holds every mistake, each located."""


class Imported(NamedTuple):
    """A canvas as YAML text (with comments saying where each part came from and what is
    still to be filled in), and the notes of the import."""

    text: str
    notes: tuple[Note, ...]

    def canvas(self) -> Canvas:
        """The canvas the text holds, validated (as written: a text with ``${vars}``, such
        as a merged canvas may be, wants the canvas loader)."""
        return Canvas.model_validate(yaml.safe_load(self.text))


@dataclass(frozen=True)
class Document:
    """One YAML document of an input file, as plain values with their positions."""

    source: str
    data: Any
    positions: Positions

    def at(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        return self.positions.of(path, key=key)

    def where(self, path: Path = ()) -> str:
        line, column = self.at(path)
        return f"{self.source}:{line}:{column}"


@dataclass
class Report:
    """The problems and notes of one import, in the order found."""

    problems: list[Problem] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)

    def problem(self, doc: Document, path: Path, message: str, hint: str = "", *,
                key: bool = False) -> None:
        line, column = doc.at(path, key=key)
        self.problems.append(Problem(doc.source, line, column, _dotted(path), message, hint))

    def note(self, doc: Document | None, path: Path, message: str) -> None:
        if doc is None:
            self.notes.append(Note("<import>", 1, 1, message))
            return
        line, column = doc.at(path)
        self.notes.append(Note(doc.source, line, column, message))

    def check(self) -> None:
        if self.problems:
            raise ImportFileError(self.problems)


def _dotted(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def finish(text: str, report: Report) -> Imported:
    """The import's result, once its text is proven to load as a canvas (a failure here is
    a bug of the importer, reported as a problem rather than as a traceback)."""
    try:
        Canvas.model_validate(yaml.safe_load(text))
    except (ValidationError, yaml.YAMLError) as e:
        first = " ".join(str(e).split())[:300]
        report.problems.append(Problem("<import>", 1, 1, "", "the imported canvas does not "
                                       f"load: {first}", "this is a faultlab bug; report it"))
    report.check()
    # in file order; the notes about the import as a whole last
    notes = sorted(report.notes, key=lambda n: (n.file == "<import>", n.file, n.line, n.column))
    return Imported(text, tuple(notes))


# --- reading ------------------------------------------------------------------------------

def sources_of(sources: Source | Iterable[Source]) -> list[Source]:
    if isinstance(sources, str | os.PathLike | Text):
        return [sources]
    return list(sources)


def nothing(sources: list[Source], what: str, hint: str) -> Problem:
    """The problem of an input without anything to import, at the first file."""
    first = sources[0] if sources else Text("", "<no input>")
    name = first.name if isinstance(first, Text) else os.fspath(first)
    return Problem(name, 1, 1, "", f"no {what} in the input", hint)


def read_documents(sources: list[Source], report: Report) -> list[Document]:
    """Every non-empty YAML document of ``sources``, in order. A file that cannot be read or
    parsed adds its problem to ``report`` and gives no documents."""
    out: list[Document] = []
    budget = Budget()  # aliases expand values: one bound for all the files together
    for source in sources:
        name = source.name if isinstance(source, Text) else os.fspath(source)
        try:
            for value, positions in _documents(read_text(source, name), name, budget):
                if len(out) >= MAX_DOCUMENTS:
                    report.problems.append(Problem(
                        name, *positions.of(()), "", f"more than {MAX_DOCUMENTS} YAML "
                        "documents in all", "import fewer files at a time"))
                    return out
                out.append(Document(name, value, positions))
        except ExperimentError as e:
            report.problems.extend(e.problems)
    return out


def read_text(source: Source, name: str) -> str:
    if isinstance(source, Text):
        if len(source.text) > MAX_FILE_BYTES:
            raise ExperimentError([Problem(name, 1, 1, "", f"the input is larger than "
                                           f"{MAX_FILE_BYTES >> 20} MiB", "split it")])
        return source.text
    return decode_bytes(name, read_bytes(name))


def _documents(text: str, name: str, budget: Budget) -> Iterator[tuple[Any, Positions]]:
    """(value, positions) of each non-empty document; a located ExperimentError for the
    first problem (bad YAML, too many values, too deep, a tag, a duplicate key)."""
    with located(name, text):
        loader = _BoundedLoader(text)  # its reader refuses control characters at once
        try:
            while loader.check_node():
                node = loader.get_node()
                if node is not None and not (isinstance(node, yaml.ScalarNode)
                                             and node.tag.endswith(":null")):
                    converter = Converter({}, {}, budget=budget)
                    yield converter.convert(node, (), substitute=False), converter.positions
        finally:
            loader.dispose()


def compose_one(text: str, name: str) -> tuple[yaml.Node | None, Any]:
    """The node tree of a one-document text and its plain value (without substitutions),
    or a located ExperimentError."""
    with located(name, text):
        loader = _BoundedLoader(text)
        try:
            node = loader.get_single_node()
            return node, (None if node is None else Converter({}, {}).convert(
                node, (), substitute=False))
        finally:
            loader.dispose()


@contextlib.contextmanager
def located(name: str, text: str) -> Iterator[None]:
    """PyYAML's and the converter's exceptions as one located problem."""
    try:
        yield
    except YamlProblem as p:
        raise ExperimentError([Problem(name, p.line, p.column, "", p.message, p.hint)]) from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        problem = " ".join((e.problem or "").split()) or "cannot be read"
        raise ExperimentError([Problem(name, line, column, "", f"invalid YAML: {problem}",
                                       "check indentation, quoting and colons")]) from None
    except yaml.YAMLError as e:  # the reader: a control character, with its position
        where = getattr(e, "position", 0)
        before = text[:where]
        raise ExperimentError([Problem(
            name, before.count("\n") + 1, len(before) - before.rfind("\n"), "",
            "invalid YAML: " + " ".join(str(e).split()).split(":", 1)[0],
            "remove control characters; write them as escapes in a quoted string")]) from None


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's composer, refusing past :data:`MAX_VALUES` nodes in the file and
    :data:`MAX_DEPTH` levels of nesting before it would exhaust memory or the stack."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.nodes = 0
        self.depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        self.nodes += 1
        if self.nodes > MAX_VALUES:
            raise YamlProblem((), event.start_mark.line + 1, event.start_mark.column + 1,
                              f"the input has more than {MAX_VALUES} values",
                              "is it generated? import it in parts")
        if self.depth >= MAX_DEPTH:
            raise YamlProblem((), event.start_mark.line + 1, event.start_mark.column + 1,
                              f"lists and mappings nest more than {MAX_DEPTH} levels deep",
                              "a catalog file nests a few levels; is it generated?")
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


# --- names --------------------------------------------------------------------------------

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,62}")
_BAD_CHARS = re.compile(r"[^A-Za-z0-9_.\-]+")


def canvas_name(text: str) -> str:
    """``text`` as a canvas name (``[A-Za-z0-9][A-Za-z0-9_.-]{0,62}``): itself when it is
    one, else with other characters as ``-`` and, when too long, cut with a short hash (so
    two long names stay two)."""
    if _NAME.fullmatch(text):
        return text
    cleaned = _BAD_CHARS.sub("-", text).lstrip("-_.") or "x"
    if len(cleaned) <= 63:
        return cleaned
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{cleaned[:54]}-{digest}"


def text_of(value: object) -> str | None:
    """A scalar as text (YAML may have read ``1.0`` or ``true``), None for anything else."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return None
