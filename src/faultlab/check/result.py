"""What a checker returns: a :class:`CheckResult` with a :class:`Verdict` and its evidence.

A non-linearizable history or a lost write is a verdict, not an exception; so is "unknown":
the budget ran out, or there was nothing to check (no operation that could have taken
effect: an empty or all-failed history proves nothing). Exceptions are for bad input:
:class:`~faultlab.history.HistoryError` (the file) and :class:`ModelError` (the operations do
not fit the model or checker, e.g. a ``cas`` whose value is not ``[expected, new]``), which
names the offending operation and, when it was read from a file, its file:line:column.

Everything rendered for people shows values as JSON-like text
(:func:`faultlab.history.values.render`), never Python reprs.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from faultlab.history import Op
from faultlab.history.values import render

__all__ = ["Anomaly", "AnomalyKind", "CheckResult", "ModelError", "Stuck", "Verdict",
           "Violation"]


_ONE_LINE = {ord(c): " " for c in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"}


class ModelError(ValueError):
    """The history's operations cannot be interpreted by the chosen model (bad input).

    ``op`` is the operation at fault, if one is; ``str()`` is one line that starts with its
    file:line:column when it was read from a file, then names it (``operation #3 (cas 5)``),
    says what is wrong and how to fix it.
    """

    def __init__(self, message: str, op: Op | None = None, hint: str = "") -> None:
        self.message, self.op, self.hint = message, op, hint
        text = message
        if op is not None:
            value = "" if op.value is None else " " + render(op.value, limit=60)
            text = f"operation #{op.index} ({op.f}{value}): {message}"
            if op.source is not None:
                text = f"{op.source}: {text}"
        if hint:
            text += f" (hint: {hint})"
        super().__init__(text.translate(_ONE_LINE))


class Verdict(enum.Enum):
    VALID = "valid"
    INVALID = "invalid"
    UNKNOWN = "unknown"  # the budget ran out first; ``CheckResult.reason`` says which


class AnomalyKind(enum.Enum):
    NOT_LINEARIZABLE = "not-linearizable"
    LOST = "lost"  # acknowledged, then missing
    UNEXPECTED = "unexpected"  # observed, but never (successfully) attempted
    DUPLICATE = "duplicate"  # observed more often than it was attempted
    STALE_READ = "stale-read"  # a read missed an acknowledged write that a later read saw
    OUT_OF_BOUNDS = "out-of-bounds"  # a counter read outside what the increments allow
    WRONG_TOTAL = "wrong-total"  # a bank read whose balances do not sum to the total
    NEGATIVE_BALANCE = "negative-balance"


@dataclass(frozen=True)
class Anomaly:
    """One thing wrong, with the operations that show it."""

    kind: AnomalyKind
    message: str
    ops: tuple[Op, ...] = ()

    def render(self) -> str:
        lines = [f"{self.kind.value}: {self.message}"]
        lines += [f"    {op.describe()}" for op in self.ops[:10]]
        if len(self.ops) > 10:
            lines.append(f"    ... and {len(self.ops) - 10} more")
        return "\n".join(lines)


@dataclass(frozen=True)
class Stuck:
    """An operation that cannot be placed next, and why (the state it would need)."""

    op: Op
    reason: str


@dataclass(frozen=True)
class Violation:
    """Why a partition is not linearizable, in terms a person can follow.

    ``partition`` is the object checked (its key, rendered; ``""`` when the history is one
    object). ``prefix`` is the longest linearizable prefix the search found (in linearization
    order), ``states`` the model state after each of its operations (rendered), ``state`` the
    state at its end (= ``states[-1]``, or the initial state). ``must_complete`` is the
    operation whose completion came before it could be placed; ``stuck`` lists it and every
    other operation that could have gone next, each with the reason it cannot.
    """

    partition: str
    prefix: tuple[Op, ...]
    states: tuple[str, ...]
    state: str
    must_complete: Op
    stuck: tuple[Stuck, ...]

    def render(self, last: int = 8) -> str:
        lines = [f"key {self.partition}: not linearizable" if self.partition else
                 "not linearizable"]
        shown = list(zip(self.prefix, self.states, strict=True))[-last:]
        if len(self.prefix) > len(shown):
            lines.append(f"  ... {len(self.prefix) - len(shown)} earlier operations linearized")
        lines += [f"  {op.describe()}  →  {state}" for op, state in shown]
        lines.append(f"  state after the longest linearizable prefix: {self.state}")
        lines.append(f"  {self.must_complete.describe()} completed before it could be placed:")
        lines += [f"    cannot place {s.op.describe()}: {s.reason}" for s in self.stuck]
        return "\n".join(lines)


@dataclass(frozen=True)
class CheckResult:
    """A checker's verdict with its evidence and a few figures."""

    checker: str
    verdict: Verdict
    ops_checked: int
    anomalies: tuple[Anomaly, ...] = ()
    violation: Violation | None = None
    reason: str = ""
    elapsed_s: float = 0.0
    stats: dict[str, int] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return self.verdict is Verdict.VALID

    def render(self) -> str:
        head = f"{self.checker}: {self.verdict.value} ({self.ops_checked} operations"
        head += f", {self.elapsed_s:.3f} s)" + (f": {self.reason}" if self.reason else "")
        parts = [head]
        if self.violation is not None:
            parts.append(self.violation.render())
        parts += [a.render() for a in self.anomalies
                  if a.kind is not AnomalyKind.NOT_LINEARIZABLE]
        return "\n".join(parts)
