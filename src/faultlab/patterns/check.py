"""``faultlab patterns check``: a canvas's analysis (every rule, the patterns library's
included) grouped by pattern: for each entry, where its rules found it missing, misused, or
present as a claim to verify, with each finding's place in the file.

A pattern with no finding is ``clean``: its rules found nothing to say. For the rules that
read optional parts of a canvas (``deploy:``, ``telemetry:``, ``capacity:``, ...), that also
covers a canvas that does not describe them; the report says which patterns those are.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from faultlab.canvas.analysis import Options, analyze
from faultlab.canvas.analysis.rules import ALL_RULES
from faultlab.canvas.findings import Finding
from faultlab.canvas.loader import LoadedCanvas
from faultlab.patterns.model import Entry

__all__ = ["Place", "Status", "Verdict", "check_canvas"]


class Status(IntEnum):
    """Worst first when sorted descending."""

    CLEAN = 0
    VERIFY = 1
    MISUSED = 2
    MISSING = 3

    def __str__(self) -> str:
        return {Status.VERIFY: "to verify"}.get(self, self.name.lower())


_STATUS = {"missing": Status.MISSING, "misused": Status.MISUSED, "verify": Status.VERIFY}


@dataclass(frozen=True)
class Place:
    """One finding, as one place where a pattern is missing, misused or to verify."""

    status: Status
    finding: Finding
    location: str  # file:line:col of the finding's subject

    def to_json(self) -> dict[str, Any]:
        return {"status": str(self.status), "location": self.location,
                **self.finding.to_json()}


@dataclass(frozen=True)
class Verdict:
    entry: Entry
    places: tuple[Place, ...]

    @property
    def status(self) -> Status:
        return max((p.status for p in self.places), default=Status.CLEAN)

    def at(self, status: Status) -> list[str]:
        """The subjects (edge ids, nodes, journeys) where the pattern has this status."""
        return list(dict.fromkeys(p.finding.subject for p in self.places
                                  if p.status == status))

    def to_json(self) -> dict[str, Any]:
        return {"pattern": self.entry.name, "title": self.entry.title,
                "family": str(self.entry.family), "status": str(self.status),
                "places": [p.to_json() for p in self.places]}


def check_canvas(loaded: LoadedCanvas, entries: tuple[Entry, ...],
                 options: Options | None = None) -> tuple[list[Verdict], list[Finding]]:
    """Per entry, its places (in the analysis's rank order); and every finding, for
    ``--fail-on``. A finding counts for every entry that names its rule."""
    findings = list(analyze(loaded.canvas, options, rules=ALL_RULES).findings)
    verdicts = []
    for entry in entries:
        meaning = {r.id: _STATUS[r.finds] for r in entry.static_rules}
        places = tuple(Place(meaning[f.rule], f, loaded.locate_subject(f.subject))
                       for f in findings if f.rule in meaning)
        verdicts.append(Verdict(entry, places))
    return verdicts, findings
