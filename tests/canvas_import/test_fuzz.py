"""Property tests: the importers turn *any* text into a canvas that loads, or into located
one-line problems. Random text over YAML's punctuation, random entities built from the
real keys, and mutations of the sample files; anything but :class:`Imported` (whose text
loads as a canvas) or :class:`ImportFileError` is a bug."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from faultlab.canvas.importers import (
    Imported,
    ImportFileError,
    Text,
    import_backstage,
    import_openslo,
    merge_openslo,
)
from faultlab.canvas.loader import load_canvas_text

from .conftest import DATA, check_problems

SOURCE = "fuzz.yaml"
FUZZ = settings(max_examples=200, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SAMPLES = tuple(p.read_text(encoding="utf-8") for p in sorted(DATA.glob("*.yaml")))
CANVAS = ("version: 1\nname: shop\nservices: {web: {}}\njourneys:\n  checkout:\n"
          "    entry: web\n    rps: 5/s\n  search: {entry: web, rps: 1/s}\n")


def import_merge(source: Text) -> Imported:
    return merge_openslo(Text(CANVAS, "canvas.yaml"), source)


IMPORTERS: tuple[Callable[[Text], Imported], ...] = (import_backstage, import_openslo,
                                                     import_merge)


def check_outcome(text: str) -> None:
    for importer in IMPORTERS:
        try:
            imported = importer(Text(text, SOURCE))
        except ImportFileError as e:
            check_problems(e, {SOURCE: text, "canvas.yaml": CANVAS})
        else:
            # through the canvas loader, cross-checks included
            assert load_canvas_text(imported.text, "imported.yaml").canvas.name
            assert all(len(str(n).splitlines()) == 1 for n in imported.notes)


yamlish = st.lists(st.sampled_from(
    [*"abcdekmnprstuvy0123456789 \n\n\n  :-,.[]{}#&*!|>'\"%@`?$/\\\t~", "\x00", "\x85",
     "\u2028", "\ufeff", "é", "- ", ": ", "---\n", "kind: ", "apiVersion: "]),
    max_size=200).map("".join)


@FUZZ
@given(yamlish)
@example("&a [*a]")
@example("a: &x [*x, *x]\n")
@example("[" * 200)
@example("---\n---\n")
@example("kind: Component\n")
def test_random_text(text: str) -> None:
    check_outcome(text)


KEYS = ("apiVersion", "kind", "metadata", "name", "namespace", "description", "spec", "type",
        "lifecycle", "owner", "system", "dependsOn", "dependencyOf", "providesApis",
        "consumesApis", "service", "indicator", "indicatorRef", "ratioMetric",
        "thresholdMetric", "objectives", "target", "targetPercent", "op", "value",
        "timeWindow", "duration", "isRolling", "budgetingMethod", "annotations",
        "faultlab/journey", "faultlab/percentile", "faultlab/rps", "faultlab/entry")
TOKENS = ("backstage.io/v1alpha1", "openslo/v1", "Component", "Resource", "System", "API",
          "Group", "SLO", "SLI", "Service", "service", "website", "library", "database",
          "queue", "web", "db", "resource:db", "component:web", "api:x", "default/web",
          "x:y/z", "a:b:c", "", "28d", "1w", "0d", "99Y", "lte", "gte", "p99", "max", 0.999,
          99.9, 0, -1, 1.5, 300, "300ms", True, None, "5/s", "0/s", "${x}", "a" * 70)
leaves = st.one_of(st.sampled_from(TOKENS), st.integers(-5, 10**6), st.text(max_size=8))
values = st.recursive(leaves, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.sampled_from(KEYS), inner, max_size=5)), max_leaves=30)
documents = st.lists(st.dictionaries(st.sampled_from(KEYS), values, max_size=6), max_size=4)


@FUZZ
@given(documents)
def test_random_documents(docs: list[dict[str, Any]]) -> None:
    check_outcome(yaml.safe_dump_all(docs, sort_keys=False))


@FUZZ
@given(st.sampled_from(SAMPLES), st.data())
def test_mutated_samples(sample: str, data: st.DataObject) -> None:
    lines = sample.splitlines(keepends=True)
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(lines) - 1))
        mutation = data.draw(st.sampled_from(("drop", "dup", "indent", "cut", "swap")))
        if mutation == "drop":
            del lines[i]
        elif mutation == "dup":
            lines.insert(i, lines[i])
        elif mutation == "indent":
            lines[i] = "  " + lines[i]
        elif mutation == "cut":
            lines[i] = lines[i][: data.draw(st.integers(0, len(lines[i])))] + "\n"
        else:
            j = data.draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        if not lines:
            break
    check_outcome("".join(lines))


def test_the_samples_import() -> None:
    # the ledger's file refers into the shop's: together they import
    assert import_backstage(sorted(DATA.glob("*catalog.yaml"))).canvas().services
    for path in sorted(DATA.glob("*slos.yaml")):
        assert import_openslo(path).canvas().journeys
