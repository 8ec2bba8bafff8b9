"""Errors in experiment files: each is one line with file:line:column, what, and a hint."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ExperimentError", "Problem"]


@dataclass(frozen=True)
class Problem:
    """One mistake in an input file, located precisely."""

    file: str
    line: int  # 1-based
    column: int  # 1-based
    path: str  # e.g. faults[0].delay; empty for the document itself
    message: str
    hint: str = ""

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        hint = f" (hint: {self.hint})" if self.hint else ""
        text = f"{self.file}:{self.line}:{self.column}: {where}{self.message}{hint}"
        # One problem, one line, whatever a key or a file name in the message contains.
        return text.translate(_ONE_LINE)


# Every character str.splitlines() breaks at, spelled as an escape.
_ONE_LINE = {ord(c): ascii(c)[1:-1] for c in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"}


class ExperimentError(Exception):
    """The experiment file is invalid; ``problems`` holds every mistake found, in file order."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.line, p.column, p.message))
        super().__init__("\n".join(str(p) for p in self.problems))
