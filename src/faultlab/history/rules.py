"""The rules every history obeys, whatever its format, enforced in one place.

Each reader (JSON Lines, Jepsen EDN, Jepsen text) turns its syntax into operations and hands
them here, so the same mistake gets the same verdict and the same words in every format:

1. *Single-threaded processes.* A process invokes its next operation only after its previous
   one completed: no two operations of one process are open at once (touching is fine: one
   may be invoked at the very instant the previous one completed). An operation that never
   completed is open for ever, so it must be its process's last. :class:`Timeline` checks
   this as operations stream past; for event formats (EDN, text) it also follows the order of
   the events, for JSON Lines (one line per operation, written in completion order) it does
   not depend on the order of the lines.
2. *Completions follow invocations.* An event-format completion needs an invocation of the
   same process before it, and no completion time is before its invocation's.
3. *Times* are integers from 0 to :data:`MAX_TIME_NS` nanoseconds (about 146 years).
4. *Values* are finite numbers, strings, booleans, null, arrays/sets and objects/maps,
   nested at most :data:`MAX_DEPTH` levels.
5. *A history has at least one operation.* An empty one is not vacuously valid: it is what a
   lost or truncated recording looks like (:func:`no_operations`).

Problems are collected in :class:`Problems`, which stops a reader :data:`LOOKAHEAD` lines
after the first problem or at :data:`MAX_PROBLEMS`: a mistake on line 5 of a huge file is
reported after reading about a hundred more lines, never the whole file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from faultlab.history.errors import HistoryError, HistoryProblem
from faultlab.history.model import Op, Process
from faultlab.history.values import render

__all__ = ["LOOKAHEAD", "MAX_DEPTH", "MAX_PROBLEMS", "MAX_TIME_NS", "Problems", "Rule",
           "Timeline", "completion_before_invocation", "no_invocation", "no_operations",
           "two_open"]

MAX_TIME_NS = (1 << 62) - 1
MAX_DEPTH = 200
MAX_PROBLEMS = 20
LOOKAHEAD = 100

_SINGLE = ("a process is single-threaded: it invokes its next operation only after the "
           "previous one completed; give concurrent clients distinct process numbers")


@dataclass(frozen=True)
class Rule:
    """A broken rule: what is wrong, and how to fix it."""

    message: str
    hint: str = ""


def two_open(process: Process, other_line: int,
             times: tuple[int, int, int | None] | None = None) -> Rule:
    """Rule 1: an operation of ``process`` began while the one on ``other_line`` was open;
    ``times`` = (this one's invocation, the other's invocation, its completion or None)."""
    began, earlier = "this one began", f"the one on line {other_line}"
    if times is not None:
        this, invoked, completed = times
        end = "never completed" if completed is None else f"completed at {completed}"
        began = f"this one (invoked at {this}) began"
        earlier += f" (invoked at {invoked}, {end})"
    return Rule(f"process {render(process)} has two operations open at once: {began} before "
                f"{earlier} ended", _SINGLE)


def no_invocation(process: Process) -> Rule:
    """Rule 2: a completion event with no open invocation of its process."""
    return Rule(f"a completion of process {render(process)} with no invocation before it",
                "each completion follows an :invoke of the same process; was the start of "
                "the history cut off?")


def completion_before_invocation(complete: int, invoke: int, line: int | None = None) -> Rule:
    """Rule 2: a completion time before its invocation's."""
    where = "" if line is None else f" on line {line}"
    return Rule(f"completed at {complete}, before its invocation{where} at {invoke}",
                "times are integer nanoseconds from one monotonic clock")


def no_operations(what: str = "") -> Rule:
    """Rule 5: nothing to check; ``what`` says what the reader looked for."""
    return Rule("no operations (was the recording lost?)" + (f": {what}" if what else ""),
                "an empty history proves nothing; check that the workload ran and that this "
                "is the file it wrote")


def _line(op: Op) -> int:
    return op.source.line if op.source is not None else op.index


def _overlap(this: Op, other: Op) -> Rule:
    timed = other.source is None or other.source.timed
    times = (this.invoke_ns, other.invoke_ns, other.complete_ns) if timed else None
    return two_open(this.process, _line(other), times)


def _end(op: Op) -> float:
    return float("inf") if op.complete_ns is None else op.complete_ns


class Timeline:
    """Rule 1 over a stream of operations, in O(1) per operation and O(processes) memory.

    Invariant: ``_last[p]`` is the operation of process ``p`` with the latest invocation seen
    so far. Operations that arrive in invocation order (every event format; JSON Lines from
    the recorder) are checked against it at once: with disjoint intervals sorted by
    invocation, only the previous one can overlap. With ``ordered=False`` (JSON Lines) an
    operation invoked before ``_last[p]`` marks ``p`` as shuffled, and :meth:`finish` checks
    shuffled processes by sorting their operations once.
    """

    def __init__(self, *, ordered: bool) -> None:
        self.ordered = ordered
        self._last: dict[Process, Op] = {}
        self._shuffled: set[Process] = set()

    def add(self, op: Op) -> Rule | None:
        last = self._last.get(op.process)
        if last is None:
            self._last[op.process] = op
            return None
        if not self.ordered and op.invoke_ns < last.invoke_ns:
            self._shuffled.add(op.process)
            return None
        self._last[op.process] = op
        if _end(last) > op.invoke_ns:
            return _overlap(op, last)
        return None

    def finish(self, ops: Iterable[Op]) -> list[tuple[Op, Rule]]:
        """Overlaps among shuffled processes, each with the operation to blame (the later
        line), in line order; empty when every process arrived in order."""
        if not self._shuffled:
            return []
        groups: dict[Process, list[Op]] = {}
        for op in ops:
            if op.process in self._shuffled:
                groups.setdefault(op.process, []).append(op)
        found: list[tuple[Op, Rule]] = []
        for group in groups.values():
            group.sort(key=lambda op: (op.invoke_ns, _line(op)))
            latest = group[0]  # the operation open longest so far
            for op in group[1:]:
                if _end(latest) > op.invoke_ns:
                    this, other = (op, latest) if _line(op) > _line(latest) else (latest, op)
                    found.append((this, _overlap(this, other)))
                if _end(op) > _end(latest):
                    latest = op
        return sorted(found, key=lambda pair: _line(pair[0]))


class Problems:
    """The problems of one file, and when to stop reading it (see the module doc)."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.items: list[HistoryProblem] = []
        self._first: int | None = None
        self._seen: set[tuple[int, int, str]] = set()

    def add(self, line: int, column: int, rule: Rule) -> None:
        if (line, column, rule.message) in self._seen:
            return
        self._seen.add((line, column, rule.message))
        self.items.append(HistoryProblem(self.file, line, max(column, 1), rule.message,
                                         rule.hint))
        if self._first is None or line < self._first:
            self._first = line

    def absorb(self, error: HistoryError) -> HistoryError:
        """``error``'s problems joined to these: the error to raise."""
        return HistoryError([*self.items, *error.problems])

    def enough(self, line: int) -> bool:
        """True once reading on from ``line`` can add nothing worth the wait."""
        return len(self.items) >= MAX_PROBLEMS or (
            self._first is not None and line >= self._first + LOOKAHEAD)

    def check(self) -> None:
        """Raise the :class:`HistoryError` of the problems found, if any."""
        if self.items:
            raise HistoryError(self.items[:MAX_PROBLEMS])
