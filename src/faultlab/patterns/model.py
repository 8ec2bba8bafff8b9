"""One pattern entry, as its data file holds it (``patterns/data/NAME.yaml``).

Strict: unknown keys are refused, every list that an SRE reads is non-empty. What one entry
cannot check alone (``related`` names other entries, rule ids are registered canvas rules,
a generator exists) is checked when the catalogue is loaded (:mod:`.catalogue`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Entry", "Family", "StaticRule", "Verification", "entry_schema"]

Text = Annotated[str, Field(min_length=1, max_length=2000)]
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Family(StrEnum):
    RELIABILITY = "reliability"
    DEPLOYMENT = "deployment"
    FOUNDATIONAL = "foundational"
    OBSERVABILITY = "observability"


class StaticRule(_Strict):
    """A canvas rule that shows the pattern missing or misused (or a claim to verify)."""

    id: str = Field(description="A registered canvas rule id, e.g. timeouts.missing.")
    severity: Literal["info", "warning", "error"] = Field(
        description="The rule's default severity.")
    finds: Literal["missing", "misused", "verify"] = Field(
        description="What one of its findings says of the pattern: missing where it is "
        "needed; misused (present but wrong); verify (present, a claim to check in the "
        "running system).")
    checks: Text = Field(description="What in a canvas it reads, for people.")


class Verification(_Strict):
    """The experiment that checks the pattern in the running system, and its oracle."""

    experiment: Text = Field(description="What the experiment does to the system.")
    oracle: Text = Field(description="What must be observed for the pattern to count as "
                         "working.")
    generator: str | None = Field(default=None, description="The canvas rule id whose "
                                  "`faultlab canvas generate` experiment checks it, if any.")


class Entry(_Strict):
    """A pattern: what it is for, when (not) to use it, how to see it, how to check it."""

    name: Slug = Field(description="Its id and file stem, e.g. circuit-breaker.")
    title: Text = Field(description="Its name for people, e.g. Circuit breaker.")
    family: Family = Field(description="reliability, deployment, foundational or "
                           "observability.")
    intent: Text = Field(description="What it does, in one or two sentences.")
    problem: Text = Field(description="The failure it answers.")
    when_to_use: list[Text] = Field(min_length=1)
    when_not_to_use: list[Text] = Field(min_length=1)
    anti_patterns: list[Text] = Field(min_length=1, description="What it replaces or "
                                      "answers (Release It!'s names where they fit).")
    metrics: list[Text] = Field(min_length=1, description="What shows it working in "
                                "production.")
    related: list[Slug] = Field(default_factory=list, description="Names of other entries.")
    references: list[Text] = Field(min_length=1, description="Ids in the anchors: "
                                   "Well-Architected REL ids, book chapters, papers.")
    static_rules: list[StaticRule] = Field(min_length=1)
    verification: Verification

    def rule_ids(self) -> list[str]:
        return [r.id for r in self.static_rules]


def entry_schema() -> dict[str, Any]:
    return Entry.model_json_schema()
