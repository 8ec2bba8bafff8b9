"""A rule: an id, a default severity, the reference it rests on, and a check that reads the
shared :class:`~faultlab.canvas.analysis.context.Context` and yields findings."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from faultlab.canvas.analysis.context import Context
from faultlab.canvas.findings import Finding, Severity

__all__ = ["Check", "Rule"]

Check = Callable[["Rule", Context], Iterable[Finding]]


@dataclass(frozen=True)
class Rule:
    id: str  # dotted, e.g. "spof.node"
    severity: Severity
    summary: str  # what it finds, one line (docs, `--json`'s rule list)
    reference: str
    check: Check

    def found(self, ctx: Context, subject: str, message: str, numbers: Mapping[str, Any],
              fix: str, journeys: Iterable[str] = (), severity: Severity | None = None,
              weight: float | None = None) -> Finding:
        affected = tuple(journeys)
        return Finding(self.id, self.severity if severity is None else severity, subject,
                       message, dict(numbers), self.reference, fix, affected,
                       ctx.weight(affected) if weight is None else weight)
