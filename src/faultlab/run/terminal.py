"""Where a run's progress lines and summary tables go: a terminal, or a log.

The run writes lines in rich's markup (``[bold red]VIOLATED[/]``) and tables as a title,
column names and rows. On a terminal (:class:`RichOut`) rich draws them, in colour and boxes.
Into a pipe or a file (:class:`PlainOut`: CI logs, ``| tee``, tests) they are plain text:
the markup dropped exactly as rich would drop it (tests/run/test_terminal.py compares the
two on generated text), tables as aligned columns, no colour codes, no box drawing, no
wrapping. A run that writes to a log does not import rich at all (a trivial `faultlab run`
took 268 -> 241 ms of CPU, benchmarks/startup_ab.py; issue 14's budget is 250 ms).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["Out", "PlainOut", "RichOut", "for_stdout", "strip_markup"]


class Out(Protocol):
    """What a run prints through."""

    def print(self, text: str, *, markup: bool = True) -> None:
        """One line; ``text`` is rich markup unless ``markup`` is False."""

    def table(self, title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        """A table; every cell is rich markup."""


# A tag as rich reads one: '[' then a letter, '#', '/' or '@', up to the first ']' with no
# '[' on the way; the backslashes before it escape it when there is an odd number of them.
_TAG = re.compile(r"(\\*)\[([a-z#/@][^\[]*?)\]")


def strip_markup(text: str) -> str:
    """``text`` as rich would print it without styles (emoji codes are left alone): tags
    dropped, an escaped tag printed as written, ``\\[`` outside a tag printed as ``[``."""
    out: list[str] = []
    at = 0
    for m in _TAG.finditer(text):
        out.append(text[at:m.start()].replace("\\[", "["))
        slashes = len(m.group(1))
        out.append("\\" * (slashes // 2))
        if slashes % 2:
            out.append(m.group(0)[slashes:])
        at = m.end()
    out.append(text[at:].replace("\\[", "["))
    return "".join(out)


class PlainOut:
    """Plain text to a stream (a pipe, a file, a log)."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream

    def _write(self, text: str) -> None:
        stream = self.stream or sys.stdout  # sys.stdout as it is now (tests swap it)
        stream.write(text + "\n")
        stream.flush()

    def print(self, text: str, *, markup: bool = True) -> None:
        self._write(strip_markup(text) if markup else text)

    def table(self, title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        cells = [list(columns), *([strip_markup(c) for c in row] for row in rows)]
        widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
        lines = [title] + ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))
                           .rstrip() for row in cells]
        self._write("\n".join(lines))


class RichOut:
    """rich on a terminal: styles, colour, boxed tables."""

    def __init__(self, console: Console | None = None) -> None:
        if console is None:
            from rich.console import Console

            console = Console(highlight=False)
        self.console = console

    def print(self, text: str, *, markup: bool = True) -> None:
        self.console.print(text, markup=markup, highlight=False)

    def table(self, title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        from rich.table import Table

        table = Table(title=title, title_justify="left")
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*row)
        self.console.print(table)


def for_stdout() -> Out:
    """rich when standard output is a terminal, plain text otherwise."""
    return RichOut() if sys.stdout.isatty() else PlainOut()
