"""What a checker returns: a :class:`CheckResult` with a :class:`Verdict` and its evidence.

A non-linearizable history or a lost write is a verdict, not an exception. Exceptions are for
bad input: :class:`~faultlab.history.HistoryError` (the file) and :class:`ModelError` (the
operations do not fit the model, e.g. a ``cas`` whose value is not ``[expected, new]``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from faultlab.history import Op

__all__ = ["Anomaly", "AnomalyKind", "CheckResult", "ModelError", "Stuck", "Verdict",
           "Violation"]


class ModelError(ValueError):
    """The history's operations cannot be interpreted by the chosen model (bad input)."""


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

    ``prefix`` is the longest linearizable prefix the search found (in linearization order),
    ``states`` the model state after each of its operations (rendered), ``state`` the state at
    its end (= ``states[-1]``, or the initial state). ``must_complete`` is the operation whose
    completion came before it could be placed; ``stuck`` lists it and every other operation
    that could have gone next, each with the reason it cannot.
    """

    partition: str
    prefix: tuple[Op, ...]
    states: tuple[str, ...]
    state: str
    must_complete: Op
    stuck: tuple[Stuck, ...]

    def render(self, last: int = 8) -> str:
        lines = [f"partition {self.partition}: not linearizable"]
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
