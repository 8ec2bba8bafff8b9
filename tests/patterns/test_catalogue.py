"""The shipped catalogue: every entry validates, fits the others and the canvas rules."""

from __future__ import annotations

import pytest
import yaml

from faultlab.canvas.analysis.rules import ALL_RULES
from faultlab.canvas.generate import GENERATORS
from faultlab.patterns.catalogue import CatalogueError, catalogue, load_entries, problems
from faultlab.patterns.model import Family, entry_schema

ENTRIES = catalogue()
NAMES = {e.name for e in ENTRIES}


def test_at_least_twenty_entries_in_every_family() -> None:
    assert len(ENTRIES) >= 20
    assert {e.family for e in ENTRIES} == set(Family)


@pytest.mark.parametrize("name", sorted(NAMES))
def test_entry_rules_are_registered_and_verification_points_at_a_generator(name: str) -> None:
    entry = next(e for e in ENTRIES if e.name == name)
    rules = {r.id: r for r in ALL_RULES}
    assert entry.static_rules and entry.verification.oracle
    for sr in entry.static_rules:
        assert sr.id in rules and str(rules[sr.id].severity) == sr.severity
    gen = entry.verification.generator
    assert gen is None or (gen in GENERATORS and gen in entry.rule_ids())
    assert set(entry.related) <= NAMES - {name}


def test_the_issue_list_is_covered() -> None:
    assert {"timeouts", "retries-backoff-jitter", "retry-budget", "circuit-breaker",
            "bulkhead", "load-shedding", "rate-limiting", "fallback", "redundancy-failover",
            "quorum-replication", "health-checks-readiness", "idempotency-keys",
            "static-stability", "blue-green", "canary-rollback", "rolling-update",
            "feature-flags", "stateless-services", "cell-isolation",
            "backpressure-bounded-queues", "golden-signals", "slo-burn-rate-alerts",
            "distributed-tracing", "structured-logs"} <= NAMES


def _text(**changes: object) -> str:
    data = next(e for e in ENTRIES if e.name == "timeouts").model_dump(mode="json")
    data.update(changes)
    return yaml.safe_dump(data)


def test_a_sound_entry_loads() -> None:
    assert load_entries({"timeouts": _text(related=[])})[0].name == "timeouts"


@pytest.mark.parametrize(("changes", "message"), [
    ({"related": ["no-such-pattern"]}, "related 'no-such-pattern' is no entry"),
    ({"static_rules": [{"id": "timeouts.nope", "severity": "warning", "finds": "missing",
                        "checks": "x"}]}, "'timeouts.nope' is no canvas rule"),
    ({"static_rules": [{"id": "timeouts.missing", "severity": "error", "finds": "missing",
                        "checks": "x"}]}, "is warning, not error"),
    ({"verification": {"experiment": "x", "oracle": "y", "generator": "budget.error"}},
     "generator 'budget.error'"),
    ({"family": "security"}, "family"),
    ({"colour": "red"}, "colour"),
    ({"static_rules": []}, "static_rules"),
    ({"name": "other"}, "not the file stem"),
])
def test_unsound_entries_are_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(CatalogueError, match=message):
        load_entries({"timeouts": _text(**{"related": [], **changes})})


def test_problems_of_the_shipped_catalogue_is_empty() -> None:
    assert problems(ENTRIES) == []


def test_schema_names_every_field() -> None:
    props = entry_schema()["properties"]
    assert {"name", "family", "intent", "problem", "when_to_use", "when_not_to_use",
            "anti_patterns", "metrics", "related", "references", "static_rules",
            "verification"} <= set(props)
