"""What an analysis of a canvas finds: one :class:`Finding` per weak point, with the rule it
comes from, its numbers, the reference the rule rests on and a fix.

Rules are identified by dotted ids (``availability.slo-unreachable``, ``spof.node``,
``retries.amplification``, ``timeouts.budget``, ``timeouts.above-slo``, ``pools.exhaustion``,
``budget.error``, ...); the patterns library refers to them. Findings are plain data: the
terminal table, ``--json``, the HTML page, the diagram's highlights and ``canvas generate``
all read the same objects.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import IntEnum
from typing import Any

__all__ = ["Finding", "Severity"]


class Severity(IntEnum):
    """Ordered: ``--fail-on warning`` fails on warnings and errors."""

    INFO = 0
    WARNING = 1
    ERROR = 2

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Finding:
    rule: str  # dotted id, e.g. "spof.node"
    severity: Severity
    subject: str  # what it is about: a journey, a node, a zone or an edge id "a->b"
    message: str  # one line, for people, with the numbers that matter
    numbers: dict[str, Any] = field(default_factory=dict)  # every figure, JSON values
    reference: str = ""  # what the rule rests on (paper, Well-Architected id, book chapter)
    fix: str = ""  # what to change in the system (and so in the canvas)
    journeys: tuple[str, ...] = ()  # the journeys it affects
    weight: float = 0.0  # ranking: traffic (requests/s) x criticality, higher first

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["severity"] = str(self.severity)
        data["journeys"] = list(self.journeys)
        return data
