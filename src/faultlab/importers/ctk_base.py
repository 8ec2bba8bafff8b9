"""What the Chaos Toolkit converter's parts share: the options, the result, and the
reporting of problems (bad input), constructs not converted, and notes, each with the
place in the input it is about."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from faultlab.canvas.importers.common import Document, Report
from faultlab.experiment.errors import Problem
from faultlab.importers.ctk_values import Values

__all__ = ["Base", "Conversion", "Options", "Path", "dotted", "seconds", "slug",
           "walk_strings"]

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Options:
    """Choices the Chaos Toolkit file cannot make (times are seconds)."""

    every: float = 1.0  # how often each hypothesis probe is asked
    steady_for: int = 2  # the steady state observed before the method (whole seconds)
    check_for: int = 3  # the hypothesis judged after the method (whole seconds)
    continuous: bool = False  # judge the hypothesis during the whole method
    python: str = "python3"  # the interpreter of python providers and http actions


@dataclass
class Conversion:
    """A converted experiment: its data, its file text, and what was not converted."""

    experiment: dict[str, Any]
    text: str = ""
    #: a construct not converted, each ``path: why`` (a located line in :meth:`lines`)
    unconverted: list[tuple[Path, str]] = field(default_factory=list)
    #: conversions that are not one to one, each ``path: what was done``
    notes: list[tuple[Path, str]] = field(default_factory=list)
    located: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def lines(self, source: str, *, notes: bool = True) -> list[str]:
        out = [self._line(source, p, m) for p, m in self.unconverted]
        if notes:
            out += [self._line(source, p, f"note: {m}") for p, m in self.notes]
        return out

    def _line(self, source: str, path: Path, message: str) -> str:
        line, column = self.located.get(path, (1, 1))
        return str(Problem(source, line, column, dotted(path), message))


def dotted(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def slug(text: str, fallback: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-._")[:56]
    return slug or fallback


def seconds(x: float) -> str:
    return f"{int(x)}s" if float(x).is_integer() else f"{round(x * 1000)}ms"

class Base:
    """The state of one conversion and how it reports."""

    def __init__(self, doc: Document, options: Options) -> None:
        self.doc = doc
        self.data: dict[str, Any] = doc.data
        self.options = options
        self.report = Report()
        self.result = Conversion({})
        self.values = Values()
        self.names: set[str] = set()
        self.workloads: dict[str, Any] = {}
        self.slos: list[dict[str, Any]] = []
        self.faults: list[dict[str, Any]] = []
        self.activities: dict[str, tuple[Path, dict[str, Any]]] = {}
        self.seen: set[Path] = set()  # activities checked (a ref's definition is checked once)

    # --- reporting --------------------------------------------------------------------------

    def problem(self, path: Path, message: str, hint: str) -> None:
        before = len(self.report.problems)
        self.report.problem(self.doc, path, message, hint)
        if self.report.problems[-1] in self.report.problems[:before]:  # a ref checked twice
            self.report.problems.pop()

    def unconverted(self, path: Path, message: str) -> None:
        if (path, message) not in self.result.unconverted:
            self.result.unconverted.append((path, message))
            self.result.located[path] = self.doc.at(path)

    def note(self, path: Path, message: str) -> None:
        if (path, message) not in self.result.notes:
            self.result.notes.append((path, message))
            self.result.located[path] = self.doc.at(path)

    def unique(self, base: str) -> str:
        name, i = base, 2
        while name in self.names:
            name = f"{base[:58]}-{i}"
            i += 1
        self.names.add(name)
        return name

def walk_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from walk_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from walk_strings(v)

