"""Errors in history files: each problem is one line with file:line:column, what, and a hint."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["HistoryError", "HistoryProblem", "suggest"]

# Every character str.splitlines() breaks at, spelled as an escape: one problem, one line.
_ONE_LINE = {ord(c): ascii(c)[1:-1] for c in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"}


@dataclass(frozen=True)
class HistoryProblem:
    """One mistake in a history file, located precisely (line and column are 1-based)."""

    file: str
    line: int
    column: int
    message: str
    hint: str = ""

    def __str__(self) -> str:
        hint = f" (hint: {self.hint})" if self.hint else ""
        return f"{self.file}:{self.line}:{self.column}: {self.message}{hint}".translate(_ONE_LINE)


class HistoryError(ValueError):
    """The history is invalid; ``problems`` holds the mistakes found (at most a few dozen)."""

    def __init__(self, problems: list[HistoryProblem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.line, p.column))
        super().__init__("\n".join(str(p) for p in self.problems))


def suggest(word: str, choices: Iterable[str]) -> str:
    """``did you mean 'x'?`` for a near miss, else the list of choices."""
    options = sorted(choices)
    close = difflib.get_close_matches(word, options, n=1)
    if close:
        return f"did you mean {close[0]!r}?"
    return "expected one of " + ", ".join(options)
